"""Fast CPU dropout for fine-tuning (#16, ``sciptm.training.fast_dropout``): the drop fraction and scale of
``F.dropout`` (binomial 5-sigma bands on 1e6 elements), no correlation between neighbouring elements or between
calls, identity in eval, reproducible under ``torch.manual_seed`` and ``seed=``, used by the trainer while it
trains only, and saved checkpoints unchanged (plain ``transformers`` loads them). Tiny encoder, real ESOL rows."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel

import sciptm
from sciptm.training import fast_dropout as fd

N = 1_000_000
ESOL_TARGET = "measured log solubility in mols per litre"


@pytest.fixture(scope="module")
def esol(chem_dir) -> pd.DataFrame:
    return pd.read_csv(chem_dir / "delaney-processed.csv")


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_drop_fraction_and_scale_match_f_dropout(p):
    torch.manual_seed(0)
    x = torch.rand(N) + 0.5
    y = fd.fast_dropout(x, p)
    dropped = y == 0
    q = fd.quantized_p(p)
    assert abs(q - p) <= 2**-17
    sigma = math.sqrt(p * (1 - p) / N)
    assert abs(float(dropped.float().mean()) - p) < 5 * sigma
    # kept elements are scaled by 1 / (1 - p_actual) exactly
    torch.testing.assert_close(y[~dropped], x[~dropped] / (1 - q))
    # the expected value of every element is kept: mean of y vs mean of x within 5 sigma of the estimate
    spread = float((x**2).mean()) * q / (1 - q) / N
    assert abs(float(y.double().mean() - x.double().mean())) < 5 * math.sqrt(spread)
    # same distribution as PyTorch's dropout (their drop fractions agree within the two-sample band)
    ref = torch.nn.functional.dropout(x, p, True) == 0
    assert abs(float(dropped.float().mean() - ref.float().mean())) < 5 * math.sqrt(2) * sigma


@pytest.mark.parametrize("p", [0.1, 0.5])
def test_no_correlation_between_neighbours_or_calls(p):
    torch.manual_seed(1)
    x = torch.ones(N)
    a = (fd.fast_dropout(x, p) == 0).double()
    b = (fd.fast_dropout(x, p) == 0).double()
    band = 5 / math.sqrt(N)

    def corr(u: torch.Tensor, v: torch.Tensor) -> float:
        return float(torch.corrcoef(torch.stack([u, v]))[0, 1])

    # lags 1-3 share a 64-bit word, 4 and 5 cross words, 64 is a stride of the generator's output
    for lag in (1, 2, 3, 4, 5, 64):
        assert abs(corr(a[:-lag], a[lag:])) < band, lag
    assert abs(corr(a, b)) < band
    assert not torch.equal(a, b)
    # all 16 patterns of 4 consecutive elements (one 64-bit word) at their binomial frequencies
    groups = a.view(-1, 4) @ torch.tensor([1.0, 2.0, 4.0, 8.0], dtype=torch.float64)
    counts = torch.bincount(groups.long(), minlength=16).double()
    n_groups = N // 4
    for pattern in range(16):
        k = pattern.bit_count()
        prob = p**k * (1 - p) ** (4 - k)
        assert abs(float(counts[pattern]) - n_groups * prob) < 5 * math.sqrt(n_groups * prob * (1 - prob)), pattern


def test_eval_identity_gradient_and_reproducible_under_manual_seed():
    x = torch.randn(8, 33, 16)
    assert fd.fast_dropout(x, 0.1, training=False) is x
    assert fd.fast_dropout(x, 0.0) is x
    drop = fd.FastDropout(0.1).eval()
    assert torch.equal(drop(x), x)
    torch.manual_seed(5)
    first = fd.fast_dropout(x, 0.3)
    torch.manual_seed(5)
    assert torch.equal(fd.fast_dropout(x, 0.3), first)
    torch.manual_seed(6)
    assert not torch.equal(fd.fast_dropout(x, 0.3), first)
    # the gradient is the incoming gradient times the same mask
    leaf = x.clone().requires_grad_(True)
    torch.manual_seed(5)
    out = fd.fast_dropout(leaf, 0.3)
    out.backward(torch.ones_like(out))
    torch.testing.assert_close(leaf.grad, first / x)
    # non-contiguous input, bf16, and p that rounds to 0 (PyTorch's dropout)
    t = torch.randn(40, 30).t()
    assert fd.fast_dropout(t, 0.5).shape == t.shape
    assert fd.fast_dropout(torch.ones(1000, dtype=torch.bfloat16), 0.5).dtype == torch.bfloat16
    assert fd.fast_dropout(torch.ones(10), 1e-6).shape == (10,)
    with pytest.raises(ValueError):
        fd.fast_dropout(x, 1.5)


def test_swap_leaves_attention_dropout_and_restores():
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
    keys = list(enc.model.state_dict())
    before = {n: (type(m), m.p) for n, m in enc.model.named_modules() if isinstance(m, torch.nn.Dropout)}
    restore = fd.use_fast_dropout(enc.model)
    swapped = {n: type(m) for n, m in enc.model.named_modules() if isinstance(m, torch.nn.Dropout)}
    assert all(swapped[n] is fd.FastDropout for n in swapped if not n.endswith("attention.self.dropout"))
    assert all(swapped[n] is torch.nn.Dropout for n in swapped if n.endswith("attention.self.dropout"))
    assert sum(t is fd.FastDropout for t in swapped.values()) == 1 + 2 * enc.model.config.num_hidden_layers
    assert list(enc.model.state_dict()) == keys
    restore()
    assert {n: (type(m), m.p) for n, m in enc.model.named_modules() if isinstance(m, torch.nn.Dropout)} == before


def test_fit_uses_fast_dropout_is_seeded_and_saves_plain_checkpoints(esol, tmp_path, monkeypatch):
    rows = esol.iloc[:96]
    calls = []
    real = fd.dropout_mask
    monkeypatch.setattr(fd, "dropout_mask", lambda *a, **k: calls.append(1) or real(*a, **k))
    preds, models = [], []
    for _ in range(2):
        enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
        keys = list(enc.model.state_dict())
        model = sciptm.PropertyPredictor(enc, task="regression", epochs=2, batch_size=32, seed=11)
        model.fit(rows.smiles, rows[ESOL_TARGET], valid=(rows.smiles[:16], rows[ESOL_TARGET][:16]))
        preds.append(model.predict(rows.smiles))
        models.append(model)
    assert calls  # the trainer's forward went through the fast dropout
    np.testing.assert_array_equal(preds[0], preds[1])
    model = models[0]
    assert not any(isinstance(m, fd.FastDropout) for m in model.module_.modules())  # restored after fit
    assert list(model.encoder_.model.state_dict()) == keys
    # the saved folder holds the same tensors as an untrained encoder's, and transformers opens it the same way
    model.save_pretrained(tmp_path / "esol")
    sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0).save_pretrained(tmp_path / "fresh")
    saved = {d: sorted(load_file(tmp_path / d / "model.safetensors")) for d in ("esol", "fresh")}
    assert saved["esol"] == saved["fresh"]
    hf = AutoModel.from_pretrained(tmp_path / "esol")
    assert list(hf.state_dict()) == list(AutoModel.from_pretrained(tmp_path / "fresh").state_dict())
    assert not any(isinstance(m, fd.FastDropout) for m in hf.modules())
    # the kill switch: PyTorch's dropout, another (still seeded) run
    monkeypatch.setenv("SCIPTM_FAST_DROPOUT", "0")
    calls.clear()
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
    sciptm.PropertyPredictor(enc, task="regression", epochs=1, batch_size=32, seed=11).fit(rows.smiles,
                                                                                          rows[ESOL_TARGET])
    assert not calls
