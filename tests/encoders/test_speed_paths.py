"""Fast paths of the encoder: length buckets, token budgets, int8 inference, streaming to disk, bf16 fallback."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import sciptm
from sciptm.encoders.batching import (bucketed_batches, default_max_tokens, padding_fraction,
                                      token_budget_batches)
from sciptm.encoders.device import cpu_has_bf16, resolve_precision


@pytest.fixture(scope="module")
def esol_smiles(chem_dir) -> list[str]:
    return pd.read_csv(chem_dir / "delaney-processed.csv")["smiles"].tolist()


@pytest.fixture(scope="module")
def tiny() -> sciptm.Encoder:
    return sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)


def _lengths(enc: sciptm.Encoder, texts: list[str]) -> list[int]:
    return [len(i) for i in enc.tokenizer(texts)["input_ids"]]


def test_bucketed_batches_cover_rows_pad_little_and_are_seeded(tiny, esol_smiles):
    lengths = _lengths(tiny, esol_smiles)
    bucketed = bucketed_batches(lengths, 32, seed=0, epoch=0)
    plain = bucketed_batches(lengths, 32, seed=0, epoch=0, pool=1)
    # every row exactly once, full batches except one
    assert sorted(i for b in bucketed for i in b) == list(range(len(lengths)))
    assert sum(len(b) < 32 for b in bucketed) <= 1
    # real ESOL SMILES: random batches are mostly padding, bucketed ones almost none
    assert padding_fraction(lengths, plain) > 0.3
    assert padding_fraction(lengths, bucketed) < 0.1
    # deterministic given (seed, epoch); a new epoch reshuffles rows and batch order
    assert bucketed == bucketed_batches(lengths, 32, seed=0, epoch=0)
    other = bucketed_batches(lengths, 32, seed=0, epoch=1)
    assert other != bucketed
    assert {frozenset(b) for b in other} != {frozenset(b) for b in bucketed}
    # the batch order is shuffled: not sorted by length across the epoch
    longest = [max(lengths[i] for i in b) for b in bucketed]
    assert longest != sorted(longest) and longest != sorted(longest, reverse=True)
    dropped = bucketed_batches(lengths, 32, seed=0, drop_last=True)
    assert all(len(b) == 32 for b in dropped) and len(dropped) == len(lengths) // 32


def test_default_max_tokens_is_cache_sized_on_cpu_and_overridable(monkeypatch):
    monkeypatch.delenv("SCIPTM_MAX_TOKENS", raising=False)
    assert default_max_tokens("cpu") == 4096
    assert default_max_tokens(torch.device("cpu")) == 4096
    assert default_max_tokens("cuda") >= 32768
    monkeypatch.setenv("SCIPTM_MAX_TOKENS", "1234")
    assert default_max_tokens("cpu") == 1234
    monkeypatch.setenv("SCIPTM_MAX_TOKENS", "lots")
    with pytest.raises(ValueError, match="SCIPTM_MAX_TOKENS"):
        default_max_tokens("cpu")


def test_embed_pads_from_precomputed_ids_like_the_tokenizer(tiny, esol_smiles):
    texts = esol_smiles[:40]
    fast = tiny.embed(texts, max_tokens=300, batch_size=7)
    ref = np.concatenate([tiny.encode(texts[i:i + 5]).pooled.numpy() for i in range(0, len(texts), 5)])
    np.testing.assert_allclose(fast, ref, atol=2e-5)
    # batches respect the budget
    for b in token_budget_batches(_lengths(tiny, texts), 300, 7):
        assert len(b) <= 7


def test_embed_int8_is_close_to_fp32(esol_smiles):
    enc = sciptm.Encoder.from_pretrained("sciptm/smiles-small")
    texts = esol_smiles[:200]
    full = enc.embed(texts)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the torch.ao deprecation notices stay inside sciptm
        q = enc.embed(texts, quantize="int8")
    cos = (full * q).sum(1) / np.linalg.norm(full, axis=1) / np.linalg.norm(q, axis=1)
    assert cos.min() >= 0.999, cos.min()
    assert not np.array_equal(full, q)  # it really ran the quantized model

    def int8_model():  # the lean int8 copy (sciptm.encoders.lean) on CPU for RoBERTa, else the quantized model
        lean = enc.__dict__.get("_lean_cache", {}).get("int8")
        return lean if lean is not None else enc._int8_cache[1]

    assert any("quantized" in type(m).__module__ for m in int8_model().modules())
    # weights changed in place -> a fresh quantized copy
    first = int8_model()
    with torch.no_grad():
        next(enc.model.parameters()).mul_(1.0)
    enc.embed(texts[:3], quantize="int8")
    assert int8_model() is not first
    with pytest.raises(ValueError, match="quantize"):
        enc.embed(texts[:3], quantize="int4")


def test_embed_streams_to_npy_and_csv_in_chunks(tiny, esol_smiles, tmp_path):
    texts = esol_smiles[:50] + ["not a smiles (("] + esol_smiles[50:70]
    with pytest.warns(UserWarning):
        ref = tiny.embed(texts, errors="skip")
    with pytest.warns(UserWarning):
        arr = tiny.embed(texts, errors="skip", out=tmp_path / "e.npy", chunk_size=16)
    assert isinstance(arr, np.memmap) and arr.shape == ref.shape
    np.testing.assert_allclose(np.asarray(arr), ref, atol=1e-5, equal_nan=True)
    assert np.isnan(arr[50]).all()
    with pytest.warns(UserWarning):
        path = tiny.embed(iter(texts), errors="skip", out=tmp_path / "e.csv", chunk_size=16)
    table = pd.read_csv(path)
    assert table.shape == ref.shape and list(table.columns[:2]) == ["dim_0", "dim_1"]
    np.testing.assert_allclose(table.to_numpy(np.float32), ref, atol=1e-5, equal_nan=True)
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left behind
    with pytest.raises(ValueError, match="needs an input with a length"):
        tiny.embed(iter(texts), out=tmp_path / "x.npy")
    with pytest.raises(sciptm.errors.InvalidInputError):
        tiny.embed(texts, out=tmp_path / "bad.npy", chunk_size=16)
    assert not (tmp_path / "bad.npy").exists()


def test_bf16_request_on_a_cpu_without_bf16_falls_back_to_fp32_with_a_warning(monkeypatch):
    import sciptm.encoders.device as device

    monkeypatch.setattr(device, "cpu_has_bf16", lambda: False)
    with pytest.warns(UserWarning, match="without bf16 hardware"):
        assert device.resolve_precision("bf16", on_cpu=True) == "no"
    assert device.resolve_precision("bf16", on_cpu=False) == "bf16"
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: True)
    assert device.resolve_precision("bf16", on_cpu=True) == "bf16"
    assert isinstance(cpu_has_bf16(), bool) and resolve_precision("no", True) == "no"


def test_trainer_bf16_config_on_this_cpu_runs_fp32(monkeypatch, esol_smiles):
    import sciptm.encoders.device as device
    from sciptm.training import Trainer, TrainerConfig

    monkeypatch.setattr(device, "cpu_has_bf16", lambda: False)
    trainer = Trainer(TrainerConfig(device="cpu", mixed_precision="bf16"))
    with pytest.warns(UserWarning, match="runs in fp32"):
        acc = trainer._accelerator()
    assert acc.mixed_precision == "no"
