"""Masked-LM training forward (#16): the LM head runs only on the masked positions and gives the loss and
gradients of the transformers model's own full-head loss. Real MOSES SMILES, micro models."""
from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

import sciptm
from sciptm.pretraining.collate import IGNORE, Collator
from sciptm.pretraining.heads import MultiObjectiveModel, RegressionHead, split_lm

MICRO = {"layers": 2, "hidden": 32, "heads": 2, "ffn": 64}


@pytest.fixture(scope="module")
def moses(chem_dir) -> list[str]:
    with gzip.open(chem_dir / "moses_train.csv.gz", "rt") as fh:
        fh.readline()
        return [next(fh).split(",")[0] for _ in range(48)]


@pytest.mark.parametrize("architecture", ["roberta", "bert"])
def test_masked_positions_head_gives_the_full_head_loss_and_gradients(moses, architecture):
    enc = sciptm.Encoder.from_config(domain="smiles", size=MICRO, architecture=architecture, seed=0)
    batch = Collator(enc.tokenizer, 64)(enc.prepare(moses).texts, np.random.default_rng(0))
    assert 0 < int((batch["labels"] != IGNORE).sum()) < int(batch["attention_mask"].sum())
    lm = enc.lm_model.train()
    assert split_lm(lm) is not None
    model = MultiObjectiveModel(lm, {"lm": 1.0}, {}, None, "mlm").train()

    torch.manual_seed(1)  # the same dropout masks on both sides (the body runs first either way)
    full = lm(**batch).loss
    full.backward()
    want = {n: p.grad.clone() for n, p in lm.named_parameters() if p.grad is not None}
    lm.zero_grad(set_to_none=True)

    torch.manual_seed(1)
    out = model(**batch)
    out["loss"].backward()
    assert torch.allclose(out["loss"], full, atol=1e-6)
    assert out["_logits"].shape == (int((batch["labels"] != IGNORE).sum()), lm.config.vocab_size)
    for name, grad in want.items():
        got = dict(lm.named_parameters())[name].grad
        assert torch.allclose(got, grad, atol=1e-6), name

    model.eval()  # evaluation keeps the full logits (validation accuracy reads them per position)
    with torch.no_grad():
        assert model(batch["input_ids"], batch["attention_mask"])["_logits"].shape[:2] == batch["input_ids"].shape


def test_masked_positions_path_keeps_regression_objectives(moses):
    enc = sciptm.Encoder.from_config(domain="smiles", size=MICRO, seed=0)
    batch = Collator(enc.tokenizer, 64)(enc.prepare(moses).texts, np.random.default_rng(0))
    head = RegressionHead(enc.hidden_size, 3)
    model = MultiObjectiveModel(enc.lm_model, {"lm": 1.0, "desc": 0.5}, {"desc": slice(0, 3)}, head, "mlm").train()
    targets = torch.randn(len(moses), 3)
    targets[0, 1] = float("nan")
    torch.manual_seed(2)
    fast = model(**batch, targets=targets)
    # reference: the original path (full LM output with hidden states), same dropout masks
    torch.manual_seed(2)
    ref = enc.lm_model(**batch, output_hidden_states=True)
    from sciptm.pretraining.heads import masked_mse, mean_pool

    pred = head(mean_pool(ref.hidden_states[-1], batch["attention_mask"]))
    want = ref.loss + 0.5 * masked_mse(pred, targets)
    assert torch.allclose(fast["loss"], want, atol=1e-6)
    assert torch.allclose(fast["desc"], masked_mse(pred, targets), atol=1e-6)
