"""CHGNet as a crystal Encoder backend: embed, PropertyPredictor (frozen and fine-tuned), benchmark rows (#11)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

CIF = Path(__file__).resolve().parent / "mp-18767-LiMnO2.cif"


@pytest.fixture(scope="module")
def chgnet_encoder():
    for m in ("chgnet", "ase"):
        if importlib.util.find_spec(m) is None:
            pytest.skip(f"{m!r} not installed (pip install 'sciptm[zoo]'; CI installs it)")
    from sciptm import Encoder

    return Encoder.from_pretrained("chgnet/0.3.0")


@pytest.fixture(scope="module")
def phonons():
    import sciptm.datasets as sd

    ds = sd.load("matbench_phonons", progress=False)
    return ds.inputs.tolist()[:16], ds.targets.to_numpy(dtype=float)[:16, 0]


def test_embed_reads_structures_dicts_and_cif_text_and_reports_bad_rows(chgnet_encoder):
    from pymatgen.core import Structure

    from sciptm.errors import InvalidInputError

    s = Structure.from_file(CIF)
    X = chgnet_encoder.embed([s, s.as_dict(), CIF.read_text()])
    assert X.shape == (3, 64) and np.abs(X - X[0]).max() < 1e-5
    with pytest.raises(InvalidInputError, match="row 1"):
        chgnet_encoder.embed([s, "data_x\n_cell_length_a 1\n"])
    with pytest.warns(UserWarning, match="skipped 1"):
        Y = chgnet_encoder.embed([s, None], errors="skip")
    assert np.isnan(Y[1]).all() and np.isfinite(Y[0]).all()
    with pytest.raises(ValueError, match="compositions"):
        chgnet_encoder.domain.with_kind("composition")


def test_property_predictor_frozen_and_fine_tuned(chgnet_encoder, phonons):
    import torch

    from sciptm import PropertyPredictor

    X, y = phonons
    frozen = PropertyPredictor(chgnet_encoder, task="regression", freeze="encoder", epochs=2, batch_size=8, seed=0)
    frozen.fit(X[:12], y[:12])
    before = {k: v.clone() for k, v in chgnet_encoder.chgnet.state_dict().items()}
    tuned = PropertyPredictor(chgnet_encoder, task="regression", freeze="none", epochs=1, batch_size=8, seed=0)
    tuned.fit(X[:12], y[:12])
    for model in (frozen, tuned):
        pred = model.predict(X[12:])
        assert pred.shape == (4,) and np.isfinite(pred).all()
    # the user's encoder is untouched (PropertyPredictor copies it); the fine-tuned copy moved
    after = chgnet_encoder.chgnet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    moved = tuned.encoder_.chgnet.state_dict()
    assert any(not torch.equal(before[k], moved[k]) for k in before if before[k].is_floating_point())
    kept = frozen.encoder_.chgnet.state_dict()
    assert all(torch.equal(before[k], kept[k]) for k in before)


def test_chgnet_probe_benchmark_model_on_structures(chgnet_encoder, phonons):
    from sciptm.benchmarks.models import build_model
    from sciptm.benchmarks.taskdata import TaskData

    X, y = phonons
    data = TaskData(name="phonons16", task_type="regression", domain="crystal", metric="mae", target_names=["y"],
                    texts=[f"t{i}" for i in range(16)], y=y[:, None], rows=np.arange(16), train=np.arange(12),
                    valid=np.array([], dtype=int), test=np.arange(12, 16), raw_inputs=list(X),
                    domain_config={"name": "crystal", "kind": "structure"})
    model = build_model("chgnet/0.3.0:probe")
    pred = model.fit_predict(data, seed=0)
    assert pred.shape == (4,) and np.isfinite(pred).all() and model.info_["frozen"]
    data.domain_config = {"name": "crystal", "kind": "composition"}
    data.cache.clear()
    with pytest.raises(ValueError, match="compositions"):
        build_model("chgnet/0.3.0:probe").fit_predict(data, seed=0)


def test_chgnet_fine_tuned_benchmark_model(chgnet_encoder, phonons):
    from sciptm.benchmarks.models import build_model
    from sciptm.benchmarks.taskdata import TaskData

    X, y = phonons
    data = TaskData(name="phonons16", task_type="regression", domain="crystal", metric="mae", target_names=["y"],
                    texts=[f"t{i}" for i in range(16)], y=y[:, None], rows=np.arange(16), train=np.arange(12),
                    valid=np.array([], dtype=int), test=np.arange(12, 16), raw_inputs=list(X),
                    domain_config={"name": "crystal", "kind": "structure"})
    model = build_model("chgnet/0.3.0", {"epochs": 1, "batch_size": 8, "valid_fraction": 0.25})
    pred = model.fit_predict(data, seed=0)
    assert pred.shape == (4,) and np.isfinite(pred).all()
