"""Pretraining's ``attention_dropout`` key (#16): validated, applied to the attention probabilities only (the
hidden dropout stays), recorded in the exported encoder's config; resuming a run without the key is the default
(``None``). A micro SMILES model on a small MOSES subset."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import sciptm
from sciptm.pretraining import PretrainConfig, pretrain
from sciptm.pretraining.loop import _LATER_KEYS

MICRO = {"layers": 2, "hidden": 32, "heads": 2, "ffn": 64}


@pytest.mark.parametrize("value", [1.0, -0.5, True, "0"])
def test_invalid_attention_dropout_is_refused(value):
    with pytest.raises(ValueError, match="attention_dropout"):
        PretrainConfig(attention_dropout=value)


def test_attention_dropout_zero_is_trained_and_exported(tmp_path: Path, mirror: Path, cache: Path):
    assert "attention_dropout" in _LATER_KEYS and PretrainConfig().attention_dropout is None
    cfg = PretrainConfig(domain="smiles", size=MICRO, mirror=str(mirror), cache_dir=str(cache), workers=1,
                         max_items=600, max_val_items=100, val_size=32, block_benchmarks=False, batch_size=16,
                         max_steps=4, warmup_steps=1, eval_every=4, checkpoint_every=4, log_every=2, cpu_threads=1,
                         crop="head", attention_dropout=0.0)
    seen: list[tuple[float, float]] = []
    original = sciptm.Encoder.from_config

    def spy(*args, **kwargs):  # record the dropout the training forward passes run with
        enc = original(*args, **kwargs)
        layer = enc.model.encoder.layer[0]
        layer.register_forward_pre_hook(lambda m, a: seen.append((m.attention.self.dropout.p, m.output.dropout.p))
                                        if m.training else None)
        return enc

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sciptm.pretraining.loop.Encoder.from_config", spy)
        result = pretrain(cfg, tmp_path / "run", log=lambda _: None)
    assert seen and set(seen) == {(0.0, 0.1)}
    enc = sciptm.Encoder.from_pretrained(result.encoder_dir)
    assert enc.model.config.attention_probs_dropout_prob == 0.0 and enc.model.config.hidden_dropout_prob == 0.1
    assert torch.isfinite(torch.as_tensor(result.final["loss"]))
