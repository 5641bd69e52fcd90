"""Pretraining: masking, corpus streaming / de-duplication / benchmark filtering, training, exact resume.

Real data: subsets of the MOSES corpus and MoleculeNet ESOL / FreeSolv from the data mirror (skipped when
the mirror is absent). Models are a few tens of thousands of parameters so each test takes seconds.
"""
from __future__ import annotations

import itertools
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from rdkit import Chem
from safetensors.torch import load_file

import sciptm
from sciptm.pretraining import (
    Collator,
    PretrainConfig,
    StepBatches,
    filter_against,
    iter_records,
    mask_tokens,
    prepare_corpus,
    pretrain,
)
from sciptm.pretraining.checkpoint import latest_checkpoint
from sciptm.pretraining.keys import hash_keys

REPO = Path(__file__).resolve().parents[2]
MICRO = {"layers": 2, "hidden": 32, "heads": 2, "ffn": 64}


@pytest.fixture(scope="module")
def tokenizer():
    return sciptm.Encoder.from_config(domain="smiles", size=MICRO).tokenizer


@pytest.fixture(scope="module")
def moses_smiles(mirror) -> list[str]:
    return [smi for _, smi in itertools.islice(iter_records(mirror / "chem" / "moses_test.csv.gz"), 3000)]


def _cfg(mirror: Path, cache: Path, **kw) -> PretrainConfig:
    base = dict(domain="smiles", size=MICRO, mirror=str(mirror), cache_dir=str(cache), workers=1,
                max_items=3000, max_val_items=400, val_size=128, block_benchmarks=False, batch_size=32,
                max_steps=30, lr=2e-3, warmup_steps=3, eval_every=10, checkpoint_every=10, log_every=5,
                cpu_threads=1, crop="head")
    base.update(kw)
    return PretrainConfig(**base)


def _quiet(_: str) -> None:
    pass


# ----------------------------------------------------------------------------------------------- masking
def test_masking_statistics_and_specials(tokenizer, moses_smiles):
    collate = Collator(tokenizer, max_length=128)
    batch = collate(moses_smiles, np.random.default_rng(0))
    plain = Collator(tokenizer, max_length=128, probability=1e-9)(moses_smiles, np.random.default_rng(0))
    original, inputs, labels = plain["input_ids"].numpy(), batch["input_ids"].numpy(), batch["labels"].numpy()
    special = np.isin(original, tokenizer.all_special_ids)
    real = ~special & (batch["attention_mask"].numpy() == 1)
    chosen = labels != -100
    assert abs(chosen.sum() / real.sum() - 0.15) < 0.01
    assert not (chosen & special).any()  # [CLS] / [SEP] / [PAD] / [UNK] never targets
    assert (inputs[special] == original[special]).all()  # and never altered
    assert (labels[chosen] == original[chosen]).all()
    became_mask = (inputs[chosen] == tokenizer.mask_token_id).mean()
    kept = (inputs[chosen] == original[chosen]).mean()
    randomised = 1.0 - became_mask - kept
    assert abs(became_mask - 0.8) < 0.02
    assert 0.07 < kept < 0.13 and 0.07 < randomised < 0.13  # random draws may hit the same token (~1%)
    replaced = inputs[chosen & (inputs != original) & (inputs != tokenizer.mask_token_id)]
    assert not np.isin(replaced, tokenizer.all_special_ids).any()  # random replacements are real tokens


def test_mask_tokens_is_seeded():
    ids = np.arange(5, 105).reshape(4, 25)
    maskable = np.ones_like(ids, dtype=bool)
    a = mask_tokens(ids, maskable, np.random.default_rng(3), 4, np.arange(5, 50))
    b = mask_tokens(ids, maskable, np.random.default_rng(3), 4, np.arange(5, 50))
    c = mask_tokens(ids, maskable, np.random.default_rng(4), 4, np.arange(5, 50))
    assert all((x == y).all() for x, y in zip(a, b))
    assert not (a[1] == c[1]).all()


def test_random_crop_windows(tokenizer):
    text = "CC(C)Cc1ccc(cc1)C(C)C(=O)OCCN1CCOCC1"
    full = tokenizer(text, add_special_tokens=False)["input_ids"]
    collate = Collator(tokenizer, max_length=10, objective="clm", crop="random")
    windows = set()
    for seed in range(20):
        row = collate.encode([text], np.random.default_rng(seed))[0]
        assert len(row) == 10 and row[0] == tokenizer.cls_token_id and row[-1] == tokenizer.sep_token_id
        inner = row[1:-1]
        starts = [i for i in range(len(full) - 7) if full[i:i + 8] == inner]
        assert starts, "a crop must be a contiguous window of the original tokens"
        windows.add(starts[0])
    assert len(windows) > 3  # random spans, not always the head
    head = Collator(tokenizer, max_length=10, objective="clm", crop="head").encode([text], np.random.default_rng(0))
    assert head[0][1:-1] == full[:8]


def test_causal_labels_mask_padding_only(tokenizer):
    batch = Collator(tokenizer, max_length=64, objective="clm")(["CCO", "c1ccccc1O"], np.random.default_rng(0))
    pad = batch["attention_mask"] == 0
    assert (batch["labels"][pad] == -100).all()
    assert (batch["labels"][~pad] == batch["input_ids"][~pad]).all()


# ----------------------------------------------------------------------------------------------- corpus
def test_streaming_reads_first_items_without_loading_the_file(mirror):
    tracemalloc.start()
    start = time.perf_counter()
    first = list(itertools.islice(iter_records(mirror / "chem" / "moses_train.csv.gz"), 5000))
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert len(first) == 5000 and first[0][1] == "CCCS(=O)c1ccc2[nH]c(=NC(=O)OC)[nH]c2c1"
    assert seconds < 2.0  # the whole 1.58M-row file takes far longer
    assert peak < 8_000_000  # 1.58M SMILES as Python strings would need > 100 MB


def test_filter_against_strings_and_hashes():
    assert filter_against(["CCO", "CCN", ("c1ccccc1", "x")], ["CCN", "x"]).tolist() == [True, False, False]
    items = hash_keys(["CCO", "CCN", "CCC"])
    assert filter_against(items, hash_keys(["CCC"])).tolist() == [True, True, False]


def test_prepare_counts_on_handmade_corpus(tmp_path, mirror):
    # "C(CO)O" duplicates "OCCO"; "C1CC" is invalid; benzene is an ESOL molecule; the R/S alanine pair shares
    # one stereo-free key but they are distinct molecules (not duplicates, and not in ESOL).
    rows = ["OCCO", "C(CO)O", "C1CC", "c1ccccc1", "C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O", "CC(=O)Nc1ccc(O)cc1O"]
    train = tmp_path / "train.csv"
    train.write_text("smiles\n" + "\n".join(rows) + "\n")
    val = tmp_path / "val.csv"
    val.write_text("smiles\nOCCO\nCCCCCC\nc1ccncc1\nCCCC(=O)NC\n")  # in train, ESOL, ESOL, new
    cfg = PretrainConfig(domain="smiles", train_source=str(train), val_source=str(val), mirror=str(mirror),
                         cache_dir=str(tmp_path / "cache"), workers=1, benchmark_files=["chem/delaney-processed.csv"])
    prepared = prepare_corpus(cfg, log=_quiet)
    t, v = prepared.stats["train"], prepared.stats["val"]
    assert (t["read"], t["invalid"], t["duplicates"], t["benchmark_overlap"], t["kept"]) == (7, 1, 1, 1, 4)
    assert t["invalid_examples"][0].startswith("3: ")  # data row 3 is "C1CC"
    canon = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in (rows[0], rows[4], rows[5], rows[6])]
    assert prepared.train.take(range(len(prepared.train))) == canon
    assert (v["read"], v["in_train"], v["benchmark_overlap"], v["kept"]) == (4, 1, 2, 1)
    assert prepared.val[0] == Chem.MolToSmiles(Chem.MolFromSmiles("CCCC(=O)NC"))
    assert t["overlap_by_benchmark"]["chem/delaney-processed"]["found_in_corpus"] == 1


def test_prepare_real_subset_filters_benchmark_molecules(tmp_path, mirror):
    cfg = PretrainConfig(domain="smiles", max_items=2000, max_val_items=300, mirror=str(mirror),
                         cache_dir=str(tmp_path), workers=2,
                         benchmark_files=["chem/delaney-processed.csv", "chem/SAMPL.csv"])
    prepared = prepare_corpus(cfg, log=_quiet)
    t = prepared.stats["train"]
    # independent count with plain RDKit: first 2000 MOSES molecules whose stereo-free SMILES is in ESOL/FreeSolv
    def flat(smi):
        mol = Chem.MolFromSmiles(smi)
        return None if mol is None else Chem.MolToSmiles(mol, isomericSmiles=False)

    import pandas as pd

    bench = {flat(s) for s in pd.read_csv(mirror / "chem" / "delaney-processed.csv")["smiles"]}
    bench |= {flat(s) for s in pd.read_csv(mirror / "chem" / "SAMPL.csv")["smiles"]}
    first = [s for _, s in itertools.islice(iter_records(mirror / "chem" / "moses_train.csv.gz"), 2000)]
    expected = sum(flat(s) in bench for s in first)
    assert expected > 0
    assert (t["read"], t["invalid"], t["duplicates"], t["benchmark_overlap"]) == (2000, 0, 0, expected)
    assert t["kept"] == 2000 - expected == len(prepared.train)
    kept = prepared.train.take(range(len(prepared.train)))
    assert not any(flat(s) in bench for s in kept)
    assert kept[0] == Chem.MolToSmiles(Chem.MolFromSmiles(first[0]))  # canonical texts, file order
    again = prepare_corpus(cfg, log=_quiet)  # cached: same folder, same items
    assert again.folder == prepared.folder and again.train[5] == prepared.train[5]


def test_step_batches_are_a_function_of_seed_and_step(tmp_path, mirror, tokenizer):
    prepared = prepare_corpus(_cfg(mirror, tmp_path, max_items=500), log=_quiet)
    stream = StepBatches(prepared.train, Collator(tokenizer, 64), batch_size=50, seed=1,
                         domain=sciptm.Encoder.from_config(domain="smiles", size=MICRO).domain, augment=True)
    a, b = stream[13], StepBatches(prepared.train, Collator(tokenizer, 64), 50, 1, stream.domain, True)[13]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(stream[0]["input_ids"][:, :5], stream[1]["input_ids"][:, :5])
    epoch0 = np.concatenate([stream.indices(s) for s in range(stream.steps_per_epoch)])
    assert len(set(epoch0.tolist())) == len(epoch0)  # an epoch visits items without repetition
    assert not np.array_equal(stream.indices(0), stream.indices(stream.steps_per_epoch))  # reshuffled per epoch


# ----------------------------------------------------------------------------------------------- training
def test_loss_decreases_and_export(tmp_path, mirror, cache):
    cfg = _cfg(mirror, cache, max_steps=40, eval_every=20)
    result = pretrain(cfg, tmp_path / "run", command="pytest", log=_quiet)
    from sciptm.pretraining.report import MetricsLog

    train = MetricsLog(tmp_path / "run" / "metrics.jsonl").rows("train")
    assert train[-1]["loss"] < train[0]["loss"] - 0.5
    assert result.final["loss"] < result.untrained["loss"] - 0.5
    assert result.final["accuracy"] > result.untrained["accuracy"] + 0.1
    folder = result.encoder_dir
    weights = load_file(folder / "model.safetensors")
    assert all(t.dtype == torch.float16 for t in weights.values())
    card = (folder / "README.md").read_text()
    assert "| train | 3000 |" in card and f"{result.final['accuracy']:.4f}" in card and "pytest" in card
    assert (tmp_path / "run" / "loss_curve.png").stat().st_size > 1000
    enc = sciptm.Encoder.from_pretrained(folder)
    assert enc.embed(["CCO", "c1ccccc1O"]).shape == (2, 32)


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(folder / "model.safetensors")


def test_resume_gives_identical_weights(tmp_path, mirror, cache):
    cfg = _cfg(mirror, cache, max_steps=16, eval_every=4, checkpoint_every=4, log_every=2)
    whole = pretrain(cfg, tmp_path / "whole", log=_quiet)
    with pytest.raises(ValueError, match="already holds checkpoints"):
        pretrain(cfg, tmp_path / "whole", log=_quiet)
    pretrain(cfg, tmp_path / "split", log=_quiet, stop_after=10)  # "crash" after step 10 (checkpoint at 10)
    (tmp_path / "split" / "checkpoints" / ".tmp-step-00000012-999").mkdir()  # a half-written checkpoint
    resumed = pretrain(cfg, tmp_path / "split", resume=True, log=_quiet)
    assert resumed.resumed_from == 10 and resumed.step == whole.step == 16
    assert resumed.tokens_seen == whole.tokens_seen
    a = _weights(tmp_path / "whole" / "checkpoints" / "step-00000016" / "model")
    b = _weights(tmp_path / "split" / "checkpoints" / "step-00000016" / "model")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.final == whole.final
    from sciptm.pretraining.report import MetricsLog

    rows_a = [(r["split"], r["step"], r["loss"]) for r in MetricsLog(tmp_path / "whole" / "metrics.jsonl").rows()]
    rows_b = [(r["split"], r["step"], r["loss"]) for r in MetricsLog(tmp_path / "split" / "metrics.jsonl").rows()]
    assert rows_a == rows_b
    changed = _cfg(mirror, cache, max_steps=16, eval_every=4, checkpoint_every=4, log_every=2, lr=1e-3)
    with pytest.raises(ValueError, match="lr"):
        pretrain(changed, tmp_path / "split", resume=True, log=_quiet)


def test_checkpoints_are_pruned_and_complete(tmp_path, mirror, cache):
    cfg = _cfg(mirror, cache, max_steps=12, checkpoint_every=3, keep_checkpoints=2, eval_every=12)
    pretrain(cfg, tmp_path / "run", log=_quiet)
    folder = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["step-00000009", "step-00000012"]
    latest = latest_checkpoint(folder)
    expected = {"model", "optimizer.pt", "scheduler.pt", "rng.pt", "trainer_state.json"}
    assert {p.name for p in latest.iterdir()} >= expected
    state = torch.load(latest / "optimizer.pt", weights_only=True)
    assert state["state"]


def test_causal_lm_option_trains(tmp_path, mirror, cache):
    cfg = _cfg(mirror, cache, architecture="gpt2", max_steps=30, eval_every=30)
    result = pretrain(cfg, tmp_path / "clm", log=_quiet)
    assert result.final["loss"] < result.untrained["loss"] - 0.5
    enc = sciptm.Encoder.from_pretrained(result.encoder_dir)
    assert enc.model.config.model_type == "gpt2"


# ----------------------------------------------------------------------------------------------- config
def test_config_yaml_roundtrip_and_unknown_keys(tmp_path):
    cfg = PretrainConfig(domain="smiles", max_steps=7, size=MICRO)
    path = tmp_path / "c.yaml"
    path.write_text(cfg.to_yaml())
    assert PretrainConfig.from_yaml(path) == cfg
    assert PretrainConfig.from_yaml(path, max_steps=9).max_steps == 9
    with pytest.raises(ValueError, match="unknown pretraining config keys"):
        PretrainConfig.from_dict({"domain": "smiles", "learning_rate": 1e-3})
    with pytest.raises(ValueError, match="precision"):
        PretrainConfig(precision="fp8")


def test_shipped_benchmark_configs_parse():
    files = sorted((REPO / "benchmarks" / "pretrain").glob("*.yaml"))
    assert len(files) >= 4
    for path in files:
        cfg = PretrainConfig.from_yaml(path)
        assert cfg.max_steps > 0


# ----------------------------------------------------------------------------------------------- other domains
def _domain_or_skip(name: str):
    from sciptm.domains import domain_class

    try:
        return domain_class(name)
    except (KeyError, ModuleNotFoundError) as exc:
        pytest.skip(f"sciptm.domains.{name} is not importable: {exc}")


def test_protein_corpus_holdout_and_overlap_filter(tmp_path, mirror):
    _domain_or_skip("protein")
    corpus = "protein/pretrain_corpus/uniprot_20k_mmseqs2_example_DB.fasta.gz"
    cfg = PretrainConfig(domain="protein", train_source=corpus, val_source=None, max_items=1500, mirror=str(mirror),
                         cache_dir=str(tmp_path), workers=1, val_fraction=0.05,
                         benchmark_files=["protein/tape_stability/stability.valid.csv.gz"],
                         blocked_ids_file="protein/pretrain_corpus/benchmark_overlap_hits.tsv")
    prepared = prepare_corpus(cfg, log=_quiet)
    t = prepared.stats["train"]
    assert t["read"] == 1500
    assert t["kept"] + t["held_out_for_validation"] + t["duplicates"] + t["invalid"] + t["benchmark_overlap"] \
        + t["blocked_ids"] == 1500
    assert 0 < len(prepared.val) < 0.1 * 1500
    assert not set(prepared.val.take(range(len(prepared.val)))) & set(prepared.train.take(range(len(prepared.train))))


def test_crystal_corpus_blocks_matbench_formulas(tmp_path, mirror):
    _domain_or_skip("crystal")
    from pymatgen.core import Composition, Structure

    from sciptm.pretraining.sources import iter_cif_tar

    archive = mirror / "materials" / "pretrain_corpus" / "crysxpp_mp_cifs.tar.gz"
    task = "materials/matbench/crabnet_formula_target/matbench_jdft2d.csv"
    cfg = PretrainConfig(domain="crystal", train_source=str(archive), val_source=None, max_items=40,
                         mirror=str(mirror), cache_dir=str(tmp_path), workers=1, val_fraction=0.1,
                         benchmark_files=[task])
    prepared = prepare_corpus(cfg, log=_quiet)
    t = prepared.stats["train"]
    import pandas as pd

    blocked = {Composition(f).reduced_formula for f in pd.read_csv(mirror / task)["formula"]}
    cifs = [cif for _, cif in itertools.islice(iter_cif_tar(archive), 40)]
    expected = sum(Structure.from_str(c, fmt="cif").composition.reduced_formula in blocked for c in cifs)
    assert t["read"] == 40 and t["benchmark_overlap"] == expected
    texts = prepared.train.take(range(len(prepared.train))) + prepared.val.take(range(len(prepared.val)))
    assert len(texts) == 40 - expected - t["invalid"] - t["duplicates"]
    assert all(x.startswith("SG_") for x in texts)
