"""The lean BERT-family forward (sciptm.encoders.lean) against the transformers forward it replaces."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

import sciptm
from sciptm.encoders.encoder import pool
from sciptm.encoders.lean import LeanEncoder, is_supported, lean_or_none, regex_token_ids, unsupported_reason


@pytest.fixture(scope="module")
def moses_smiles(moses_head) -> list[str]:
    return moses_head[:160]


def _reference(enc: sciptm.Encoder, texts: list[str]) -> torch.Tensor:
    with torch.inference_mode():
        out = []
        for k in range(0, len(texts), 32):
            batch = enc.tokenize(texts[k:k + 32])
            out.append(pool(enc.model(**batch).last_hidden_state, batch["attention_mask"], enc.pooling))
        return torch.cat(out)


@pytest.mark.parametrize("source", ["smiles-small", "bert-tiny"])
def test_padded_batch_matches_transformers_fp32(source, small, moses_smiles):
    enc = small if source == "smiles-small" else sciptm.Encoder.from_config(domain="smiles", size="tiny",
                                                                              architecture="bert", seed=0)
    enc.model.eval()
    texts = enc.prepare(moses_smiles[:24] + ["C", "CCO", "O=C=O"]).texts
    batch = enc.tokenize(texts)
    mask = batch["attention_mask"].bool()
    assert (~mask).sum() > 100 and len(set(mask.sum(1).tolist())) > 10  # padded rows of many lengths
    lean = LeanEncoder(enc.model).eval()
    with torch.inference_mode():
        ref = enc.model(**batch).last_hidden_state
        out = lean(batch["input_ids"], batch["attention_mask"])
        # no padding: the unmasked path
        one = enc.tokenize(texts[:1])
        ref1 = enc.model(**one).last_hidden_state
        out1 = lean(one["input_ids"])
    assert (out - ref).abs()[mask].max() <= 1e-5
    assert (out1 - ref1).abs().max() <= 1e-5


def test_packed_embedding_matches_transformers_fp32(small, moses_smiles):
    texts = small.prepare(moses_smiles).texts
    ids = small.tokenizer(texts)["input_ids"]
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    ref = _reference(small, [texts[i] for i in order])
    lean = LeanEncoder(small.model).eval()
    for fixed in (False, True):  # small packs (256 tokens): many packs, several lengths per pack, a short last one
        out = lean.embed_sequences([ids[i] for i in order], "mean", max_tokens=256, fixed_shapes=fixed)
        assert out.shape == ref.shape and (out - ref).abs().max() <= 1e-5
    cls = lean.embed_sequences([ids[i] for i in order[:40]], "cls", max_tokens=512)
    with torch.inference_mode():
        batch = small.tokenize([texts[i] for i in order[:40]])
        ref_cls = small.model(**batch).last_hidden_state[:, 0]
    assert (cls - ref_cls).abs().max() <= 1e-5


def test_int8_copy_stays_close_and_leaves_fp32_alone(small, moses_smiles):
    texts = small.prepare(moses_smiles).texts
    ids = small.tokenizer(texts)["input_ids"]
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))
    seqs = [ids[i] for i in order]
    ref = _reference(small, [texts[i] for i in order])
    lean = LeanEncoder(small.model).eval()
    before = [p.detach().clone() for p in small.model.parameters()]
    engines = [e for e in ("x86", "onednn") if e in torch.backends.quantized.supported_engines]
    for engine in engines:
        q = lean.quantized(engine)
        assert sum(isinstance(m, torch.nn.Linear) for m in q.modules()) == 0  # every Linear quantized
        assert all(b.qkv is not None for b in q.blocks)  # one fused QKV projection per block
        out = q.embed_sequences(seqs, "mean", max_tokens=4096, fixed_shapes=engine == "onednn")
        cos = torch.nn.functional.cosine_similarity(out, ref)
        assert cos.min() >= 0.999, (engine, float(cos.min()))
    assert all(torch.equal(a, b) for a, b in zip(before, small.model.parameters()))
    assert all(b.qkv is None for b in lean.blocks)


def test_training_mode_backpropagates_into_the_shared_weights(small):
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
    lean = LeanEncoder(enc.model).train()
    batch = enc.tokenize(["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"])
    torch.manual_seed(0)
    a = lean(batch["input_ids"], batch["attention_mask"])
    b = lean(batch["input_ids"], batch["attention_mask"])
    assert not torch.allclose(a, b)  # dropout is on in training mode
    a.pow(2).mean().backward()
    grads = [p.grad for p in enc.model.encoder.layer[0].attention.self.query.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)


def test_unsupported_models_fall_back_with_a_reason(caplog):
    esm = sciptm.Encoder.from_config(domain="protein", size="tiny", seed=0)
    assert not is_supported(esm.model) and "esm" in unsupported_reason(esm.model)
    with caplog.at_level(logging.DEBUG, logger="sciptm.encoders.lean"):
        assert lean_or_none(esm.model) is None
    assert "lean forward not used" in caplog.text
    with pytest.raises(ValueError, match="cannot run"):
        LeanEncoder(esm.model)
    assert np.isfinite(esm.embed(["MKTAYIAK"])).all()


def test_regex_twin_gives_the_tokenizer_ids(small, moses_smiles):
    twin = regex_token_ids(small.tokenizer)
    assert twin is not None
    texts = small.prepare(moses_smiles).texts + [
        "C%10CC%10", "[MASK]CC", "CCα", "", "C C", "CC[UNK]", "Xx", "c1ccccc1[nH]", "[PAD]"]
    assert twin(texts) == small.tokenizer(texts)["input_ids"]
    protein = sciptm.Encoder.from_config(domain="protein", size="tiny", seed=0)
    twin_p = regex_token_ids(protein.tokenizer)
    seqs = ["MKTAYIAKQR", "ACDEFGHIKLMNPQRSTVWYXBZUO", "mkta", ""]
    assert twin_p is None or twin_p(seqs) == protein.tokenizer(seqs)["input_ids"]


def test_embed_runs_the_lean_path_and_matches_the_model(small, moses_smiles, monkeypatch, tmp_path):
    rows = moses_smiles[:120] + ["C", "[Na+].[Cl-]"]
    fast = small.embed(rows, progress=False)
    fast_int8 = small.embed(rows, progress=False, quantize="int8")
    assert small.__dict__["_lean_cache"]["int8"] is not None  # the lean int8 copy ran
    streamed = small.embed(rows, progress=False, out=tmp_path / "e.npy", chunk_size=50)
    monkeypatch.setenv("SCIPTM_LEAN_FORWARD", "0")
    ref = small.embed(rows, progress=False)
    assert np.abs(fast - ref).max() <= 1e-5 and np.abs(np.asarray(streamed) - ref).max() <= 1e-5
    cos = (fast_int8 * ref).sum(1) / np.linalg.norm(fast_int8, axis=1) / np.linalg.norm(ref, axis=1)
    assert cos.min() >= 0.999
