"""The int8 inference model (fused BERT-family forward on the onednn engine) and exact-length batches."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import sciptm
from sciptm.encoders.batching import token_budget_batches
from sciptm.encoders.fast_inference import FusedBertEncoder, int8_inference_model, is_fusable


@pytest.fixture(scope="module")
def esol(chem_dir) -> list[str]:
    return pd.read_csv(chem_dir / "delaney-processed.csv")["smiles"].tolist()


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.mark.parametrize("architecture", ["roberta", "bert"])
def test_fused_forward_matches_transformers_padded_and_exact(esol, architecture):
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", architecture=architecture)
    enc.model.eval()
    fused = FusedBertEncoder(enc.model).eval()
    mixed = enc.tokenize(esol[:12])  # padded: the mask matters
    same = enc.tokenize(["CCO", "CCN", "OCC"])  # one length: no mask
    assert mixed["attention_mask"].min() == 0 and same["attention_mask"].min() == 1
    with torch.inference_mode():
        for batch in (mixed, same):
            ref = enc.model(**batch).last_hidden_state
            got = fused(**batch).last_hidden_state
            keep = batch["attention_mask"].bool()
            torch.testing.assert_close(got[keep], ref[keep], atol=2e-5, rtol=1e-4)


def test_int8_embed_is_fused_close_to_fp32_and_restores_the_engine(esol):
    enc = sciptm.Encoder.from_pretrained("sciptm/smiles-small")
    texts = esol[:300]
    engine = torch.backends.quantized.engine
    full = enc.embed(texts)
    q = enc.embed(texts, quantize="int8")
    assert torch.backends.quantized.engine == engine
    assert isinstance(enc._int8_cache[1].inner, FusedBertEncoder)
    cos = _cos(full, q)
    assert cos.min() >= 0.999, cos.min()
    assert not np.array_equal(full, q)
    # rows come back in input order whatever the batching (exact-length batches, other budget and batch size);
    # int8 activations are scaled per batch, so other batches give slightly other int8 vectors
    np.testing.assert_allclose(enc.embed(texts[::-1], max_tokens=700, batch_size=9)[::-1], full, atol=2e-5)
    assert _cos(enc.embed(texts[::-1], quantize="int8", max_tokens=700, batch_size=9)[::-1], q).min() >= 0.999


def test_int8_on_esm_is_quantized_unfused():
    enc = sciptm.Encoder.from_config(domain="protein", size="tiny", architecture="esm")
    assert not is_fusable(enc.model)
    q = int8_inference_model(enc.model)
    assert not isinstance(q.inner, FusedBertEncoder)
    assert any("quantized" in type(m).__module__ for m in q.modules())
    seqs = ["MKTAYIAKQR", "MKTAYIAKQRQISFVKSHFSRQ", "GSHMKTAY"]
    full, low = enc.embed(seqs), enc.embed(seqs, quantize="int8")
    assert _cos(full, low).min() >= 0.99


def test_exact_batches_cover_rows_once_one_length_per_full_batch():
    rng = np.random.default_rng(0)
    lengths = rng.integers(20, 60, size=10_000).tolist()
    batches = list(token_budget_batches(lengths, 1024, 64, exact=True))
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 64 and (len(b) * max(lengths[i] for i in b) <= 1024 or len(b) == 1)
    one_length = [b for b in batches if len({lengths[i] for i in b}) == 1]
    assert sum(len(b) for b in one_length) > 0.8 * len(lengths)
    # all distinct lengths (proteins): the same batches as without exact
    distinct = list(range(5, 400))
    assert list(token_budget_batches(distinct, 1024, 64, exact=True)) == list(token_budget_batches(distinct, 1024, 64))
