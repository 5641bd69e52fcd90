"""Fine-tuning's encoder dropout options (#16): ``attention_dropout`` / ``encoder_dropout`` reach the right
modules of stock HF encoders (RoBERTa, ESM, GPT-2), hold during training only, and are validated. Tiny encoders,
real ESOL rows."""
from __future__ import annotations

import pandas as pd
import pytest
import torch

import sciptm
from sciptm.errors import ConfigError
from sciptm.training.trainer import TrainerConfig, set_encoder_dropout


def _dropouts(model: torch.nn.Module) -> dict[str, float]:
    return {name: m.p for name, m in model.named_modules() if isinstance(m, torch.nn.Dropout)}


def test_attention_dropout_reaches_attention_probabilities_only_and_restores():
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
    before = _dropouts(enc.model)
    restore = set_encoder_dropout(enc.model, None, 0.0)
    after = _dropouts(enc.model)
    attention = {n for n in after if n.endswith("attention.self.dropout")}
    assert len(attention) == enc.model.config.num_hidden_layers
    assert all(after[n] == 0.0 for n in attention)
    assert all(after[n] == before[n] == 0.1 for n in after if n not in attention)  # hidden dropout kept
    assert enc.model.config.attention_probs_dropout_prob == 0.0
    restore()
    assert _dropouts(enc.model) == before
    assert enc.model.config.attention_probs_dropout_prob == 0.1


@pytest.mark.parametrize("domain, architecture, attention_attr, hidden_name",
                         [("protein", None, "dropout", "encoder.layer.0.output.dropout"),
                          ("smiles", "gpt2", "attn_dropout", "h.0.attn.resid_dropout")])
def test_other_architectures(domain, architecture, attention_attr, hidden_name):
    enc = sciptm.Encoder.from_config(domain=domain, size="tiny", architecture=architecture, seed=0)
    restore = set_encoder_dropout(enc.model, 0.25, 0.0)
    attn = [m for m in enc.model.modules() if "Attention" in type(m).__name__ and hasattr(m, attention_attr)]
    assert attn
    for m in attn:
        value = getattr(m, attention_attr)
        assert (value.p if isinstance(value, torch.nn.Dropout) else value) == 0.0
    assert dict(enc.model.named_modules())[hidden_name].p == 0.25
    restore()
    assert dict(enc.model.named_modules())[hidden_name].p == 0.1


def test_no_encoder_dropout_makes_training_forward_deterministic():
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
    batch = enc.tokenizer(["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"], padding=True, return_tensors="pt",
                          return_token_type_ids=False)
    enc.model.eval()
    with torch.no_grad():
        ref = enc.model(**batch).last_hidden_state
    enc.model.train()
    with torch.no_grad():
        noisy = enc.model(**batch).last_hidden_state
    assert not torch.allclose(noisy, ref, atol=1e-4)  # dropout on: training differs from eval
    restore = set_encoder_dropout(enc.model, 0.0, 0.0)
    with torch.no_grad():
        a = enc.model(**batch).last_hidden_state
    restore()
    torch.testing.assert_close(a, ref, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("field, value", [("attention_dropout", 1.0), ("attention_dropout", -0.1),
                                          ("encoder_dropout", "0.1"), ("encoder_dropout", True)])
def test_invalid_dropout_values_are_refused(field, value):
    with pytest.raises(ValueError, match=field):
        TrainerConfig(**{field: value})
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
    with pytest.raises(ConfigError, match=field):
        sciptm.PropertyPredictor(enc, task="regression", trainer={field: value}).fit(["CCO", "CCN"], [0.1, 0.2])


def test_fit_trains_with_the_setting_and_returns_the_encoders_own(chem_dir, monkeypatch):
    monkeypatch.setenv("SCIPTM_FUSED_TRAINING", "0")  # the hook watches the transformers layers' own forward
    df = pd.read_csv(chem_dir / "delaney-processed.csv").iloc[:48]
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
    seen: list[tuple[bool, float, float]] = []
    hook = enc.model.encoder.layer[0].register_forward_pre_hook(  # the fit works on a copy, which keeps the hook
        lambda m, args: seen.append((m.training, m.attention.self.dropout.p, m.output.dropout.p)))
    model = sciptm.PropertyPredictor(enc, task="regression", trainer={"attention_dropout": 0.0, "encoder_dropout": 0.2},
                                     epochs=1, batch_size=16, seed=0)
    model.fit(df["smiles"].tolist(), df["measured log solubility in mols per litre"].to_numpy(float))
    hook.remove()
    assert {(p, h) for training, p, h in seen if training} == {(0.0, 0.2)}
    fitted = model.module_.encoder
    assert fitted.encoder.layer[0].attention.self.dropout.p == 0.1  # restored after fitting
    assert fitted.encoder.layer[0].output.dropout.p == 0.1
    assert fitted.config.attention_probs_dropout_prob == 0.1


def test_default_drops_no_attention_probabilities_but_keeps_hidden_dropout(chem_dir, monkeypatch):
    monkeypatch.setenv("SCIPTM_FUSED_TRAINING", "0")  # the hook watches the transformers layers' own forward
    assert TrainerConfig().attention_dropout == 0.0 and TrainerConfig().encoder_dropout is None
    df = pd.read_csv(chem_dir / "delaney-processed.csv").iloc[:32]
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
    seen: list[tuple[bool, float, float]] = []
    hook = enc.model.encoder.layer[0].register_forward_pre_hook(
        lambda m, args: seen.append((m.training, m.attention.self.dropout.p, m.output.dropout.p)))
    model = sciptm.PropertyPredictor(enc, task="regression", epochs=1, batch_size=16, seed=0)
    model.fit(df["smiles"].tolist(), df["measured log solubility in mols per litre"].to_numpy(float))
    hook.remove()
    assert {(p, h) for training, p, h in seen if training} == {(0.0, 0.1)}
