"""Disk cache of feature and embedding matrices: reuse across models and runs, resume after an interruption."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sciptm.benchmarks.taskdata import TaskData
from sciptm.features.cache import cached_rows, features_cache_dir, texts_sha256


@pytest.fixture()
def bbbp(chem_dir) -> list[str]:
    return pd.read_csv(chem_dir / "BBBP.csv")["smiles"].head(90).tolist()


def _task(texts: list[str]) -> TaskData:
    n = len(texts)
    y = (np.arange(n) % 3).astype(float)[:, None]
    idx = np.arange(n)
    return TaskData(name="bbbp_head", task_type="regression", domain="smiles", metric="rmse", target_names=["y"],
                    texts=texts, y=y, rows=idx, train=idx[: n - 20], valid=idx[n - 20: n - 10], test=idx[n - 10:])


def test_cached_rows_resume_after_interruption_and_key_on_config(tmp_path, bbbp):
    calls: list[int] = []

    def lengths(texts):
        calls.append(len(texts))
        return np.array([[len(t), t.count("c")] for t in texts], dtype=np.float32)

    class Interrupted(Exception):
        pass

    def dies_on_third(texts):
        if len(calls) == 2:
            raise Interrupted
        return lengths(texts)

    with pytest.raises(Interrupted):
        cached_rows("lengths", {"v": 1}, bbbp, dies_on_third, chunk=25, cache_dir=tmp_path)
    assert calls == [25, 25]  # two chunks finished and stored before the "crash"
    calls.clear()
    X = cached_rows("lengths", {"v": 1}, bbbp, lengths, chunk=25, cache_dir=tmp_path)
    assert calls == [25, 15]  # only the chunks the interrupted run did not finish
    np.testing.assert_array_equal(X, lengths(bbbp))
    calls.clear()
    again = cached_rows("lengths", {"v": 1}, bbbp, lengths, chunk=25, cache_dir=tmp_path)
    assert calls == [] and np.array_equal(again, X)
    cached_rows("lengths", {"v": 2}, bbbp, lengths, chunk=25, cache_dir=tmp_path)  # another setting: recomputed
    assert calls == [25, 25, 25, 15]
    calls.clear()
    changed = [bbbp[0] + "C"] + bbbp[1:]
    cached_rows("lengths", {"v": 1}, changed, lengths, chunk=25, cache_dir=tmp_path)  # changed data: its chunk only
    assert calls == [25]
    assert texts_sha256(["ab", "c"]) != texts_sha256(["a", "bc"])


def test_cached_rows_report_progress_over_chunks_when_forced(tmp_path, bbbp, caplog):
    from sciptm.progress import set_progress

    def lengths(texts):
        return np.array([[len(t)] for t in texts], dtype=np.float32)

    set_progress("always")
    try:
        with caplog.at_level("INFO", logger="sciptm.progress"):
            cached_rows("lengths", {"v": 1}, bbbp, lengths, chunk=25, cache_dir=tmp_path)
            progress = [r.getMessage() for r in caplog.records if r.name == "sciptm.progress"]
            assert progress and progress[-1] == "lengths rows: 90/90"  # rows, not chunks, are counted
            caplog.clear()
            cached_rows("lengths", {"v": 1}, bbbp[:20], lengths, chunk=25, cache_dir=tmp_path)  # one file: no bar
            assert not [r for r in caplog.records if r.name == "sciptm.progress"]
    finally:
        set_progress(None)


def test_ecfp_and_rdkit2d_features_are_read_back_by_a_second_model(monkeypatch, bbbp):
    import sciptm.benchmarks.models.chem as chem
    from sciptm.benchmarks.models import build_model

    model = build_model("ecfp-rf", {"n_estimators": 5, "n_jobs": 1})
    first = model.fit_predict(_task(bbbp), 0)
    files = list((features_cache_dir() / "ecfp").glob("*.npy"))
    assert files and np.load(files[0]).shape[1] == 2048
    direct = chem.ecfp(bbbp)
    monkeypatch.setattr(chem, "ecfp", lambda smiles: pytest.fail("ECFP recomputed despite the disk cache"))
    second = build_model("ecfp-rf", {"n_estimators": 5, "n_jobs": 1})
    second.featurize = chem.ecfp
    data = _task(bbbp)
    np.testing.assert_allclose(second.fit_predict(data, 0), first)
    np.testing.assert_array_equal(data.cache["ecfp-rf"], direct.astype(np.float32))


def test_probe_embeddings_are_cached_on_disk_by_weights(monkeypatch, bbbp):
    import sciptm.benchmarks.models.probe as probe
    from sciptm.encoders import Encoder

    texts = bbbp[:30]
    a = probe.cached_embeddings("tiny", texts, "smiles", seed=0)
    files = set((features_cache_dir() / "embeddings").glob("*.npy"))
    assert files
    probe._EMBEDDINGS.clear()  # a new process: only the disk cache is left
    monkeypatch.setattr(Encoder, "embed", lambda *a, **k: pytest.fail("embeddings recomputed despite the cache"))
    b = probe.cached_embeddings("tiny", texts, "smiles", seed=0)
    np.testing.assert_array_equal(a, b)
    monkeypatch.undo()
    probe._EMBEDDINGS.clear()
    c = probe.cached_embeddings("tiny", texts, "smiles", seed=1)  # other weights: a new key, new vectors
    assert not np.allclose(a, c)
    assert len(set((features_cache_dir() / "embeddings").glob("*.npy"))) == len(files) + 1


def test_scaffolds_of_a_large_dataset_come_from_the_disk_cache(monkeypatch, chem_dir):
    import sciptm.domains.smiles.splits as splits

    smiles = pd.read_csv(chem_dir / "BBBP.csv")["smiles"].tolist()[:2100] + ["C1CC(("]
    with pytest.warns(UserWarning, match="cannot parse"):
        first = splits.scaffold_split(smiles)
    assert list((features_cache_dir() / "murcko").glob("*.npy"))
    splits._murcko_cached.cache_clear()  # a new process
    monkeypatch.setattr(splits, "_murcko_cached", lambda s: pytest.fail("scaffold recomputed"))
    with pytest.warns(UserWarning, match="cannot parse"):
        again = splits.scaffold_split(smiles)
    np.testing.assert_array_equal(again.train, first.train)
    np.testing.assert_array_equal(again.test, first.test)
    assert again.excluded.tolist() == first.excluded.tolist() and first.excluded[-1] == len(smiles) - 1
