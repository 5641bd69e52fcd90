"""sciptm's fp32 GEMM for the packed fine-tuning path (#16, ``kernels/sgemm.h``, ``sciptm.training.packed_linear``):
the three products of a linear layer against float64 on the real shapes and awkward ones, the fused GELU
epilogues against autograd, run-to-run and thread-count determinism, the switch back to MKL, and the fused
path's gradients with the GEMM on against the GEMM off."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sciptm.training import fused_training as ft
from sciptm.training import packed_linear as pl


@pytest.fixture()
def lib(training_kernels):
    return training_kernels


def _rand(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _close(got: torch.Tensor, ref: torch.Tensor, k: int) -> None:
    # fp32 accumulation of k products of N(0, 1) numbers: error ~ sqrt(k) * eps * |terms|
    tol = 4e-7 * max(k, 1) ** 0.5 * 8
    torch.testing.assert_close(got.double(), ref, atol=tol * max(1.0, float(ref.abs().max())) ** 0.5, rtol=tol)


@pytest.mark.parametrize("rows", [1, 5, 7, 17, 1000, 1800])
@pytest.mark.parametrize(("k", "n"), [(128, 384), (128, 128), (128, 512), (512, 128), (13, 3 * 128), (100, 19)])
def test_the_three_products_of_a_linear_match_float64(lib, rows, k, n):
    x, w, dy = _rand(rows, k, seed=0), _rand(n, k, seed=1), _rand(rows, n, seed=2)
    xd, wd, dyd = x.double(), w.double(), dy.double()
    _close(pl.gemm(lib, x, w.t())[0], xd @ wd.t(), k)  # y = x W^T
    _close(pl.gemm(lib, dy, w)[0], dyd @ wd, n)  # dx = dy W
    _close(pl.gemm(lib, dy.t(), x)[0], dyd.t() @ xd, rows)  # dW = dy^T x (K = rows: several K blocks at 1800)
    acc = _rand(n, k, seed=3)
    got = pl.gemm(lib, dy.t(), x, out=acc.clone(), accumulate=True)[0]
    _close(got, acc.double() + dyd.t() @ xd, rows)


@pytest.mark.parametrize("rows", [1, 7, 17, 1000, 2600])
@pytest.mark.parametrize(("k", "n"), [(128, 384), (512, 128), (13, 19), (1300, 40)])
def test_the_bias_epilogue_of_the_inference_linear_matches_float64(lib, rows, k, n, monkeypatch):
    x, w, b = _rand(rows, k, seed=3), _rand(n, k, seed=4), _rand(n, seed=5)
    linear = pl.inference_linear(lib)
    with torch.inference_mode():
        _close(linear(x, w, b), x.double() @ w.double().t() + b.double(), k)  # full and partial tiles, K blocks
        _close(linear(x, w, None), x.double() @ w.double().t(), k)
        _close(pl.gemm(lib, x, w.t(), kind=pl.BIAS, bias=b, out=torch.ones(rows, n), accumulate=True)[0],
               x.double() @ w.double().t() + b.double() + 1, k)
    monkeypatch.setattr(pl, "INFERENCE", False)
    assert pl.inference_linear(lib) is None and pl.inference_linear(None) is None


def test_transposed_and_strided_operands_and_bad_shapes(lib):
    a, b = _rand(70, 40, seed=4), _rand(33, 70, seed=5)
    _close(pl.gemm(lib, a.t(), b.t())[0], a.double().t() @ b.double().t(), 70)  # both transposed (packed A)
    wide = _rand(50, 90, seed=6)
    c = _rand(40, 70, seed=9)
    _close(pl.gemm(lib, wide[:, 10:50], c[:, 5:30])[0], wide[:, 10:50].double() @ c[:, 5:30].double(), 40)  # strides
    with pytest.raises(ValueError, match="inner sizes"):
        pl.gemm(lib, a, a)
    empty = pl.gemm(lib, _rand(4, 0, seed=7), _rand(0, 9, seed=8))[0]
    assert torch.equal(empty, torch.zeros(4, 9))


@pytest.mark.parametrize("rows", [1, 7, 600])
@pytest.mark.parametrize("fuse", [True, False])
def test_gelu_ffn_forward_and_backward_match_autograd(lib, rows, fuse, monkeypatch):
    monkeypatch.setattr(pl, "FUSE_GELU", fuse)
    x = (0.5 * _rand(rows, 128, seed=10)).requires_grad_()
    w_up, b_up = (0.2 * _rand(512, 128, seed=11)).requires_grad_(), (0.5 * _rand(512, seed=12)).requires_grad_()
    w_down = (0.1 * _rand(128, 512, seed=13)).requires_grad_()
    dh = _rand(rows, 128, seed=14)
    h = pl.GeluFFN.apply(x, w_up, b_up, w_down, lib)
    h.backward(dh)
    leaves = [t.detach().double().requires_grad_() for t in (x, w_up, b_up, w_down)]
    ref = F.linear(F.gelu(F.linear(leaves[0], leaves[1], leaves[2])), leaves[3])
    ref.backward(dh.double())
    torch.testing.assert_close(h.double(), ref, atol=2e-5, rtol=1e-5)
    for got, want in zip((x, w_up, b_up, w_down), leaves):  # GELU derivative and the bias gradient included
        torch.testing.assert_close(got.grad.double(), want.grad, atol=1e-4 * float(want.grad.abs().max()), rtol=1e-4)
    with pytest.raises(RuntimeError, match="once"):
        h2 = pl.GeluFFN.apply(x, w_up, None, w_down, lib)
        h2.sum().backward(retain_graph=True)
        h2.sum().backward()


def test_gelu_epilogue_matches_the_separate_kernel_and_the_mulsum_colsums(lib):
    x, w, b = _rand(601, 128, seed=20), 0.1 * _rand(512, 128, seed=21), _rand(512, seed=22)
    y, dg = pl.gemm(lib, x, w.t(), kind=pl.GELU, bias=b)
    u = (x.double() @ w.double().t() + b.double()).requires_grad_()
    ref = F.gelu(u)
    ref.sum().backward()
    torch.testing.assert_close(y.double(), ref, atol=2e-6, rtol=1e-5)
    torch.testing.assert_close(dg.double(), u.grad, atol=2e-6, rtol=1e-5)  # GELU'(u)
    dh, wd = _rand(601, 128, seed=23), 0.1 * _rand(128, 512, seed=24)
    du, db = pl.gemm(lib, dh, wd, kind=pl.MULSUM, aux=dg)
    want = (dh.double() @ wd.double()) * dg.double()
    torch.testing.assert_close(du.double(), want, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(db.double(), want.sum(0), atol=1e-4, rtol=1e-5)


def test_results_are_bit_identical_run_to_run_and_across_threads(lib):
    x, w, dy = _rand(1800, 128, seed=30), _rand(384, 128, seed=31), _rand(1800, 384, seed=32)
    before = torch.get_num_threads()
    runs = []
    try:
        for threads in (1, 1, 2):
            torch.set_num_threads(threads)
            runs.append([pl.gemm(lib, x, w.t())[0], pl.gemm(lib, dy, w)[0], pl.gemm(lib, dy.t(), x)[0],
                         *pl.gemm(lib, x, w.t(), kind=pl.GELU)])
    finally:
        torch.set_num_threads(before)
    for other in runs[1:]:  # rows split over threads: every element keeps its summation order
        assert all(torch.equal(a, b) for a, b in zip(runs[0], other))


def test_fused_training_gradients_match_with_the_gemm_on_and_off(lib, chem_dir, monkeypatch):
    import pandas as pd

    import sciptm
    from sciptm.heads.mlp import MLPHead, PredictorModule
    from sciptm.training.trainer import set_encoder_dropout

    smiles = pd.read_csv(chem_dir / "delaney-processed.csv")["smiles"].tolist()[:64]
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
    torch.manual_seed(0)
    module = PredictorModule(enc.model, MLPHead(enc.model.config.hidden_size, 2, dropout=0.0), "mean").train()
    set_encoder_dropout(module.encoder, 0.0, 0.0)
    batch = enc.tokenize(smiles)
    fused = ft.fused_forward(module)
    calls = {"ffn": 0}
    real = pl.GeluFFN.forward

    def counted(*args):
        calls["ffn"] += 1
        return real(*args)

    monkeypatch.setattr(pl.GeluFFN, "forward", staticmethod(counted))

    def grads(enabled: bool) -> dict[str, torch.Tensor]:
        monkeypatch.setattr(pl, "ENABLED", enabled)
        module.zero_grad(set_to_none=True)
        fused(batch["input_ids"], batch["attention_mask"]).pow(2).mean().backward()
        return {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}

    on, off, again = grads(True), grads(False), grads(True)
    assert calls["ffn"] == 2 * len(module.encoder.encoder.layer)  # the GEMM path ran (twice), not off
    assert on.keys() == off.keys()
    for name, g in off.items():
        torch.testing.assert_close(on[name], g, atol=2e-5 * float(g.abs().max()) + 1e-9, rtol=2e-4)
        assert torch.equal(on[name], again[name])


def test_the_header_ships_inlined_and_missing_kernels_fall_back_to_torch():
    from sciptm.encoders.fused_attention import source_text

    text = source_text("train.c")
    assert "int sciptm_sgemm(" in text and '#include "sgemm.h"' not in text  # compiled text (cache key) covers it
    x, w = _rand(9, 16, seed=40), _rand(5, 16, seed=41)
    assert torch.equal(pl.linear(x, w, None), F.linear(x, w))  # no library: F.linear
    assert pl.gelu_ffn(x, w, None, w.t(), None) is None  # the caller keeps its own path
