"""Encoder interface: shapes, masks, pooling, save -> load identity, AutoModel, token-budget batching."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

import sciptm
from sciptm.encoders.batching import token_budget_batches
from sciptm.errors import InvalidInputError, SkippedInputWarning

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O", "C[C@@H](N)C(=O)O", "ClCCl"]


@pytest.fixture(scope="module")
def enc() -> sciptm.Encoder:
    return sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)


def test_encode_output_shapes_and_masks(enc) -> None:
    out = enc.encode(SMILES)
    b, t, d = out.last_hidden_state.shape
    assert (b, d) == (5, 128)
    assert out.attention_mask.shape == (5, t) and out.pooled.shape == (5, 128)
    lengths = [len(enc.tokenizer(s)["input_ids"]) for s in SMILES]
    assert out.attention_mask.sum(1).tolist() == lengths
    # masked mean ignores padding: the pooled vector of a row equals the mean of its real tokens
    row = 0
    real = out.last_hidden_state[row, : lengths[row]].mean(0)
    torch.testing.assert_close(out.pooled[row], real)


def test_cls_pooling_takes_first_token() -> None:
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", pooling="cls")
    out = enc.encode(SMILES[:2])
    torch.testing.assert_close(out.pooled, out.last_hidden_state[:, 0])


def test_embed_is_batch_invariant_and_keeps_order(enc) -> None:
    full = enc.embed(SMILES, batch_size=256)
    one_by_one = np.concatenate([enc.embed([s]) for s in SMILES])
    small_budget = enc.embed(SMILES, max_tokens=30)
    np.testing.assert_allclose(full, one_by_one, atol=1e-5)
    np.testing.assert_allclose(full, small_budget, atol=1e-5)


def test_embed_skip_gives_nan_rows(enc) -> None:
    with pytest.warns(SkippedInputWarning):
        X = enc.embed(["CCO", "not a smiles", "CCN"], errors="skip")
    assert np.isnan(X[1]).all() and np.isfinite(X[[0, 2]]).all()
    with pytest.raises(InvalidInputError, match="row 1"):
        enc.embed(["CCO", "not a smiles"])


def test_save_load_identical_outputs_and_automodel(enc, tmp_path) -> None:
    enc.save_pretrained(tmp_path)
    for name in ("config.json", "model.safetensors", "tokenizer.json", "README.md"):
        assert (tmp_path / name).exists()
    loaded = sciptm.Encoder.from_pretrained(tmp_path)
    assert loaded.domain.to_config() == enc.domain.to_config()
    np.testing.assert_array_equal(loaded.embed(SMILES), enc.embed(SMILES))
    # plain transformers opens the folder and computes the same hidden states
    hf = AutoModel.from_pretrained(tmp_path).eval()
    tok = AutoTokenizer.from_pretrained(tmp_path)
    texts = enc.prepare(SMILES).texts  # canonical SMILES, as the encoder sees them
    batch = tok(texts, padding=True, return_tensors="pt", return_token_type_ids=False)
    with torch.inference_mode():
        hidden = hf(**batch).last_hidden_state
    torch.testing.assert_close(hidden, enc.encode(SMILES).last_hidden_state, atol=1e-5, rtol=1e-5)


def test_fp16_save_loads(enc, tmp_path) -> None:
    from safetensors import safe_open

    enc.save_pretrained(tmp_path, dtype=torch.float16)
    with safe_open(str(tmp_path / "model.safetensors"), "pt") as fh:
        assert {fh.get_tensor(k).dtype for k in fh.keys()} == {torch.float16}
    assert next(enc.model.parameters()).dtype == torch.float32  # the original is untouched
    loaded = sciptm.Encoder.from_pretrained(tmp_path)  # stored fp16, computed in fp32
    assert next(loaded.model.parameters()).dtype == torch.float32
    np.testing.assert_allclose(loaded.embed(SMILES), enc.embed(SMILES), atol=5e-2)
    half = sciptm.Encoder.from_pretrained(tmp_path, dtype=torch.float16)
    assert next(half.model.parameters()).dtype == torch.float16


def test_gpt_style_encoder_builds_and_round_trips(tmp_path) -> None:
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", architecture="gpt2")
    assert enc.lm_model is not None and "GPT2" in type(enc.lm_model).__name__
    X = enc.embed(SMILES)
    enc.save_pretrained(tmp_path)
    np.testing.assert_allclose(sciptm.Encoder.from_pretrained(tmp_path).embed(SMILES), X, atol=1e-6)


def test_shipped_smiles_encoder_loads_and_recovers_masked_tokens() -> None:
    enc = sciptm.Encoder.from_pretrained("sciptm/smiles-small")
    assert enc.domain.name == "smiles" and enc.lm_model is not None
    tok = enc.tokenizer
    smiles = enc.prepare(["CC(=O)Oc1ccccc1C(=O)O", "CN1CCC[C@H]1c1cccnc1", "O=C(O)c1ccccc1O"]).texts
    batch = tok(smiles, padding=True, return_tensors="pt", return_token_type_ids=False)
    ids = batch["input_ids"].clone()
    special = torch.isin(ids, torch.tensor([tok.cls_token_id, tok.sep_token_id, tok.pad_token_id]))
    positions = (~special).nonzero()[::3]  # mask every third real token
    masked = ids.clone()
    masked[positions[:, 0], positions[:, 1]] = tok.mask_token_id
    with torch.inference_mode():
        logits = enc.lm_model(input_ids=masked, attention_mask=batch["attention_mask"]).logits
    guess = logits[positions[:, 0], positions[:, 1]].argmax(-1)
    accuracy = (guess == ids[positions[:, 0], positions[:, 1]]).float().mean().item()
    assert accuracy > 0.6, accuracy  # an untrained model of this shape scores about 0.002


def masked_accuracy(enc, texts: list[str], every: int = 3) -> float:
    """Accuracy of ``enc``'s LM head on every ``every``-th real token of ``texts``, masked."""
    tok = enc.tokenizer
    batch = tok(texts, padding=True, return_tensors="pt", return_token_type_ids=False)
    ids = batch["input_ids"].clone()
    special = torch.isin(ids, torch.tensor(tok.all_special_ids))
    positions = (~special).nonzero()[::every]
    masked = ids.clone()
    masked[positions[:, 0], positions[:, 1]] = tok.mask_token_id
    with torch.inference_mode():
        logits = enc.lm_model(input_ids=masked, attention_mask=batch["attention_mask"]).logits
    guess = logits[positions[:, 0], positions[:, 1]].argmax(-1)
    return (guess == ids[positions[:, 0], positions[:, 1]]).float().mean().item()


def test_shipped_protein_encoder_beats_its_untrained_twin(mirror) -> None:
    """sciptm/protein-small (CPU-pretrained tiny ESM; UniProt validation accuracy 0.20) on TAPE stability sequences."""
    import sciptm.datasets as sd

    seqs = list(sd.load("tape_stability", progress=False).inputs.iloc[:60])
    enc = sciptm.Encoder.from_pretrained("sciptm/protein-small")
    assert enc.domain.name == "protein" and enc.lm_model is not None
    texts = enc.prepare(seqs).texts
    pre = masked_accuracy(enc, texts)
    ctrl = masked_accuracy(sciptm.Encoder.from_pretrained("sciptm/protein-small", random_init=True), texts)
    assert pre > 0.09 and pre > ctrl + 0.05, (pre, ctrl)  # measured 0.119 vs 0.026 (designed mini-proteins)


def test_shipped_crystal_encoder_reads_both_kinds(mirror) -> None:
    """sciptm/crystal-small on real Matbench phonons structures and on their compositions."""
    import sciptm.datasets as sd

    structures = list(sd.load("matbench_phonons", progress=False).inputs.iloc[:40])
    enc = sciptm.Encoder.from_pretrained("sciptm/crystal-small")
    ctrl = sciptm.Encoder.from_pretrained("sciptm/crystal-small", random_init=True)
    assert enc.domain.name == "crystal" and enc.domain.kind == "structure"
    texts = enc.prepare(structures).texts
    pre, untrained = masked_accuracy(enc, texts), masked_accuracy(ctrl, texts)
    # measured 0.126 vs 0.0 (phonons formulas were kept out of the corpus; validation accuracy 0.356 vs 0.0005)
    assert pre > 0.08 and pre > untrained + 0.08, (pre, untrained)
    comp = enc.domain.with_kind("composition")
    comp_texts = [comp.to_text(enc.domain.structure(s).composition) for s in structures]
    assert masked_accuracy(enc, comp_texts, every=2) > masked_accuracy(ctrl, comp_texts, every=2)


def test_random_init_control_keeps_shape_and_tokenizer_but_not_weights() -> None:
    pre = sciptm.Encoder.from_pretrained("sciptm/smiles-small")
    ctrl = sciptm.Encoder.from_pretrained("sciptm/smiles-small", random_init=True, seed=3)
    again = sciptm.Encoder.from_pretrained("sciptm/smiles-small", random_init=True, seed=3)
    assert ctrl.n_parameters() == pre.n_parameters() and ctrl.tokenizer.get_vocab() == pre.tokenizer.get_vocab()
    assert type(ctrl.model) is type(pre.model) and ctrl.domain.to_config() == pre.domain.to_config()
    X_pre, X_ctrl = pre.embed(SMILES), ctrl.embed(SMILES)
    assert np.abs(X_pre - X_ctrl).max() > 0.1  # fresh weights
    np.testing.assert_array_equal(X_ctrl, again.embed(SMILES))  # seeded


def test_unknown_names_list_known_ones() -> None:
    with pytest.raises(KeyError, match="known: .*smiles"):
        sciptm.Encoder.from_config(domain="smile")
    with pytest.raises(FileNotFoundError, match="no shipped sciptm checkpoint"):
        sciptm.Encoder.from_pretrained("sciptm/does-not-exist")


def test_token_budget_batches_respect_budget() -> None:
    lengths = [5, 50, 7, 12, 49, 3, 30]
    batches = list(token_budget_batches(lengths, max_tokens=100, max_batch=3))
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) <= 3
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 100
