"""Multi-objective pretraining: descriptor regression (MTR) beside masked LM, crystal labels, exclusion counts.

Real data from the mirror: MOSES SMILES (RDKit descriptors), the MP CIF corpus (Magpie features and formation
energies), Matbench formula files. Micro models (a few ten thousand parameters): seconds per test.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import sciptm
from sciptm.errors import ConfigError
from sciptm.pretraining import PretrainConfig, prepare_corpus, pretrain
from sciptm.pretraining.heads import HEAD_META, HEAD_WEIGHTS, MultiObjectiveModel, RegressionHead, load_head
from sciptm.pretraining.targets import TargetSpec, build_targets

REPO = Path(__file__).resolve().parents[2]
MICRO = {"layers": 2, "hidden": 32, "heads": 2, "ffn": 64}


def _cfg(mirror: Path, cache: Path, **kw) -> PretrainConfig:
    base = dict(domain="smiles", size=MICRO, mirror=str(mirror), cache_dir=str(cache), workers=1,
                max_items=300, max_val_items=80, val_size=64, block_benchmarks=False, batch_size=32,
                max_steps=6, lr=2e-3, warmup_steps=2, eval_every=3, checkpoint_every=3, log_every=3,
                cpu_threads=1, crop="head", objectives={"mlm": 1.0, "descriptors": 1.0})
    base.update(kw)
    return PretrainConfig(**base)


def _quiet(_: str) -> None:
    pass


def test_objective_config_validation():
    assert PretrainConfig().objective_weights() == {"lm": 1.0}
    cfg = PretrainConfig(objectives={"mlm": 0.0, "descriptors": 2.0})
    assert cfg.objective_weights() == {"lm": 0.0, "descriptors": 2.0}
    assert cfg.regression_objectives() == ["descriptors"]
    with pytest.raises(ConfigError, match="unknown objectives"):
        PretrainConfig(objectives={"mlm": 1.0, "mtr": 1.0})
    with pytest.raises(ConfigError, match="at least one weight"):
        PretrainConfig(objectives={"mlm": 0.0, "descriptors": 0})
    with pytest.raises(ConfigError, match="weight must be a number"):
        PretrainConfig(objectives={"descriptors": -1})
    linear = RegressionHead(32, 5, hidden=0)
    assert [type(m).__name__ for m in linear.net] == ["Dropout", "Linear"] and linear(torch.zeros(2, 32)).shape == (2, 5)
    assert len([m for m in RegressionHead(32, 5).net if isinstance(m, torch.nn.Linear)]) == 2


def test_target_standardization_drops_constant_and_missing_columns():
    raw = np.array([[1.0, 7.0, np.nan, 0.0], [3.0, 7.0, np.nan, 100.0], [5.0, 7.0, 1.0, 0.0], [7.0, 7.0, np.nan, 0.0]])
    spec = TargetSpec.fit("descriptors", ["a", "const", "nan", "spiky"], raw, clip=1.5)
    assert spec.names == ["a", "spiky"]
    assert spec.dropped["constant"] == ["const"] and spec.dropped["mostly_missing"] == ["nan"]
    z = spec.transform(raw)
    assert z.shape == (4, 2) and z.dtype == np.float32
    assert abs(float(z[:, 0].mean())) < 1e-6 and float(np.abs(z).max()) <= 1.5  # the outlier (100) is clipped


def test_descriptor_targets_are_real_rdkit_values_and_cached(mirror, cache):
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    cfg = _cfg(mirror, cache)
    corpus = prepare_corpus(cfg, log=_quiet)
    targets = build_targets(cfg, corpus, log=_quiet)
    spec = targets.specs[0]
    assert targets.train.shape == (len(corpus.train), len(spec.names)) and 150 < len(spec.names) <= 220
    j = spec.names.index("MolWt")
    mol = Chem.MolFromSmiles(corpus.train[5])
    expected = (Descriptors.MolWt(mol) - spec.mean[j]) / spec.std[j]
    assert targets.train[5, j] == pytest.approx(expected, rel=1e-4, abs=1e-4)
    assert list((cache / "features" / "pretraining-rdkit2d").glob("*.npy"))  # the raw matrix is on disk


def _batch(mirror, cache, weights):
    cfg = _cfg(mirror, cache)
    corpus = prepare_corpus(cfg, log=_quiet)
    targets = build_targets(cfg, corpus, log=_quiet)
    from sciptm.pretraining.collate import Collator

    enc = sciptm.Encoder.from_config(domain="smiles", size=MICRO, seed=0)
    torch.manual_seed(1)
    head = RegressionHead(enc.hidden_size, targets.width)
    batch = Collator(enc.tokenizer, 128, crop="head")(corpus.train.take(range(16)), np.random.default_rng(0))
    batch["targets"] = torch.from_numpy(targets.train[:16])
    model = MultiObjectiveModel(enc.lm_model, weights, targets.slices, head).eval()
    with torch.no_grad():
        return model(**batch)


def test_objective_weights_change_the_loss_as_configured(mirror, cache):
    one = _batch(mirror, cache, {"lm": 1.0, "descriptors": 1.0})
    lm, desc = float(one["lm"]), float(one["descriptors"])
    assert lm > 0 and desc > 0
    assert float(one["loss"]) == pytest.approx(lm + desc, rel=1e-5)
    mixed = _batch(mirror, cache, {"lm": 0.5, "descriptors": 3.0})
    assert float(mixed["loss"]) == pytest.approx(0.5 * lm + 3.0 * desc, rel=1e-5)
    only = _batch(mirror, cache, {"lm": 0.0, "descriptors": 1.0})
    assert "lm" not in only and float(only["loss"]) == pytest.approx(desc, rel=1e-5)


def test_mlm_weight_zero_descriptors_only_trains_and_exports(mirror, cache, tmp_path):
    cfg = _cfg(mirror, cache, objectives={"mlm": 0.0, "descriptors": 1.0}, max_steps=8, lr=5e-3)
    result = pretrain(cfg, tmp_path / "run", command="pytest mtr-only", log=_quiet)
    assert "accuracy" not in result.final  # no language-model targets: unmasked inputs
    assert result.final["descriptors_mse"] < result.untrained["descriptors_mse"]
    enc_dir = result.encoder_dir
    card = (enc_dir / "README.md").read_text()
    assert "`mlm` 0" in card and "`descriptors` 1" in card and "MolWt" in card and "pytest mtr-only" in card
    assert "tokens seen" in card and "wall time" in card
    head, info = load_head(enc_dir)
    assert (enc_dir / HEAD_WEIGHTS).exists() and (enc_dir / HEAD_META).exists()
    assert head.n_targets == len(info["targets"]["objectives"][0]["names"])


def test_resumed_run_continues_the_same_objectives(mirror, cache, tmp_path):
    cfg = _cfg(mirror, cache, objectives={"mlm": 0.7, "descriptors": 1.3})
    whole = pretrain(cfg, tmp_path / "whole", log=_quiet)
    cut = pretrain(cfg, tmp_path / "cut", log=_quiet, stop_after=3)
    assert cut.encoder_dir is None
    assert (tmp_path / "cut" / "checkpoints" / "step-00000003" / "head" / HEAD_WEIGHTS).exists()
    state = json.loads((tmp_path / "cut" / "checkpoints" / "step-00000003" / "trainer_state.json").read_text())
    assert state["objectives"] == {"lm": 0.7, "descriptors": 1.3}
    resumed = pretrain(cfg, tmp_path / "cut", resume=True, log=_quiet)
    assert resumed.resumed_from == 3 and resumed.step == 6
    assert resumed.final["descriptors_mse"] == pytest.approx(whole.final["descriptors_mse"], rel=1e-4)
    assert resumed.final["loss"] == pytest.approx(whole.final["loss"], rel=1e-4)
    rows = [json.loads(r) for r in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert all("descriptors" in r["losses"] for r in rows if r["split"] == "train")
    other = _cfg(mirror, cache, objectives={"mlm": 1.0, "descriptors": 1.0})
    with pytest.raises(ValueError, match="objectives"):
        pretrain(other, tmp_path / "cut", resume=True, log=_quiet)


def test_exported_mtr_checkpoint_opens_with_automodel(mirror, cache, tmp_path):
    from transformers import AutoModel

    result = pretrain(_cfg(mirror, cache, max_steps=3), tmp_path / "run", log=_quiet)
    card = (result.encoder_dir / "README.md").read_text()
    assert "MLM + descriptors" in card and "## Regression objectives" in card
    model = AutoModel.from_pretrained(result.encoder_dir)
    enc = sciptm.Encoder.from_pretrained(result.encoder_dir)
    X = enc.embed(["CCO", "c1ccccc1O"])
    assert X.shape == (2, enc.hidden_size) and np.isfinite(X).all()
    assert model.config.hidden_size == enc.hidden_size


def test_init_from_continues_from_saved_weights(mirror, cache, tmp_path):
    first = pretrain(_cfg(mirror, cache, objectives=None, max_steps=3), tmp_path / "mlm", log=_quiet)
    cfg = _cfg(mirror, cache, init_from=str(first.encoder_dir), max_steps=3)
    second = pretrain(cfg, tmp_path / "mtr", log=_quiet)
    # step 0 of the continued run scores the first run's weights, not a fresh model
    assert second.untrained["loss"] == pytest.approx(first.final["loss"], rel=0.05)
    assert "Initialised from" in (second.encoder_dir / "README.md").read_text()


# ------------------------------------------------------------------------------------------------ crystals
@pytest.fixture(scope="module")
def materials(mirror) -> Path:
    if not (mirror / "materials" / "pretrain_corpus" / "crysxpp_mp_cifs.tar.gz").exists():
        pytest.skip("materials corpus not in the mirror")
    return mirror / "materials"


def test_exclusion_filter_drops_a_known_matbench_formula(materials):
    from pymatgen.core import Lattice, Structure

    from sciptm.domains import get_domain
    from sciptm.pretraining.keys import KEYERS, filter_against

    keyer = KEYERS.get("crystal")()
    files = [p.name for p in keyer.benchmark_files(materials.parent)]
    assert "matbench_expt_gap.csv" in files and "matbench_phonons.json.gz" in files  # composition tasks too
    keys = keyer.benchmark_keys(materials.parent, ["materials/matbench/crabnet_formula_target/matbench_steels.csv",
                                                   "materials/matbench/crabnet_formula_target/matbench_expt_gap.csv"])
    expt_gap_formulas = keys["crabnet_formula_target/matbench_expt_gap"]
    assert "CdO" in expt_gap_formulas
    cdo = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.69), ["Cd", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    nacl = Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    domain = get_domain("crystal")
    items = [keyer.block_keys(s, domain.to_text(s)) for s in (cdo, nacl)]
    blocked = set().union(*keys.values())
    mask = filter_against(items, blocked)
    assert not mask[0]  # rock-salt CdO: its formula is an expt_gap row (composition task)
    assert mask[1] == ("NaCl" not in blocked)


def test_crystal_magpie_and_formation_energy_targets_with_label_split_block(materials, cache, tmp_path):
    from sciptm.pretraining.targets import read_labels

    mirror = materials.parent
    cfg = PretrainConfig(domain="crystal", size=MICRO, mirror=str(mirror), cache_dir=str(cache), workers=1,
                         train_source="materials/pretrain_corpus/crysxpp_mp_cifs.tar.gz", max_items=80,
                         val_source=None, val_fraction=0.1, val_size=16, block_benchmarks=True,
                         benchmark_files=["materials/matbench/crabnet_formula_target/matbench_steels.csv"],
                         block_label_splits=[0], max_length=64, crop="head", batch_size=16, max_steps=4, lr=2e-3,
                         warmup_steps=1, eval_every=2, checkpoint_every=2, log_every=2, cpu_threads=1,
                         objectives={"mlm": 1.0, "descriptors": 1.0, "formation_energy": 1.0})
    corpus = prepare_corpus(cfg, log=_quiet)
    c = corpus.stats["train"]
    label = corpus.stats["label_split_block"]
    assert label["test_rows_per_seed"] == {"0": 3674} or label["test_rows_per_seed"] == {0: 3674}
    assert c["blocked_ids"] > 0  # ~10% of the first 80 CIFs are mp_formation_energy test rows of seed 0
    ids = corpus.record_ids("train")
    assert len(ids) == len(corpus.train) and all(i.endswith(".cif") for i in ids)
    labels = read_labels("materials/pretrain_corpus/crysxpp_mp_cifs.tar.gz::id_prop.csv", cfg.resolve)
    targets = build_targets(cfg, corpus, log=_quiet)
    fe = targets.slices["formation_energy"]
    spec = targets.specs[1]
    raw = targets.train[:, fe][:, 0] * spec.std[0] + spec.mean[0]
    want = np.array([labels[i[:-4]] for i in ids])
    assert np.allclose(raw, np.clip(want, spec.mean[0] - 5 * spec.std[0], spec.mean[0] + 5 * spec.std[0]), atol=1e-4)
    assert targets.specs[0].objective == "descriptors" and 80 < len(targets.specs[0].names) <= 106
    result = pretrain(cfg, tmp_path / "run", log=_quiet)
    card = (result.encoder_dir / "README.md").read_text()
    assert "formation_energy" in card and "mp_formation_energy" in card
    assert "formation_energy_r2" in result.final and "descriptors_r2" in result.final
