"""The fused C attention kernel of the lean embed (sciptm.encoders.fused_attention) against PyTorch's SDPA."""
from __future__ import annotations

import itertools
import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import sciptm
from sciptm.encoders import fused_attention as fa
from sciptm.memory import collector_paused

needs_cc = pytest.mark.skipif(fa.compiler() is None, reason="no C compiler (cc/gcc) on PATH: the kernel cannot be built")


@pytest.fixture(autouse=True)
def _fresh_kernel_state():
    """Every test starts and ends with no kernel loaded/failed in this process (CC and the cache may differ)."""
    fa.reset()
    yield
    fa.reset()


@pytest.fixture(scope="module")
def moses_smiles(moses_head) -> list[str]:
    return moses_head


@pytest.fixture(scope="module")
def mixed_rows(moses_head, chem_dir) -> list[str]:
    """140 MOSES SMILES and the first 60 of ESOL (longer, more varied lengths)."""
    import pandas as pd

    return moses_head[:140] + pd.read_csv(chem_dir / "delaney-processed.csv")["smiles"].tolist()[:60]


def _sdpa(qkv: torch.Tensor, groups, heads: int, out: torch.Tensor) -> torch.Tensor:
    d = qkv.shape[1] // 3
    for first, count, t in groups:
        span = slice(first, first + count * t)
        q, k, v = qkv[span].view(count, t, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
        out[span].view(count, t, heads, d // heads).copy_(F.scaled_dot_product_attention(q, k, v).transpose(1, 2))
    return out


def _packed(heads: int, head_dim: int, seed: int):
    """Random packed QKV rows: runs of equal-length sequences (lengths 1 to 600), gaps of unused rows between."""
    gen = torch.Generator().manual_seed(seed)
    groups, row = [], 3
    for t, count in [(1, 5), (2, 3), (7, 4), (36, 6), (37, 1), (130, 2), (600, 1), (3, 2)]:
        groups.append((row, count, t))
        row += count * t + 2  # two rows no group owns
    qkv = torch.randn(row, 3 * heads * head_dim, generator=gen)
    return qkv, groups


@needs_cc
@pytest.mark.parametrize(("heads", "head_dim"), [(8, 32), (4, 32), (12, 64), (3, 24), (2, 20)])
def test_kernel_matches_sdpa_on_packed_sequences(heads, head_dim):
    assert fa.kernel() is not None  # built (or found) and AVX2/FMA present
    qkv, groups = _packed(heads, head_dim, seed=heads * head_dim)
    ref = _sdpa(qkv, groups, heads, torch.full((qkv.shape[0], qkv.shape[1] // 3), float("nan")))
    out = fa.attention_or_none(qkv, groups, heads, out=torch.full_like(ref, float("nan")))
    assert out is not None
    owned = ~torch.isnan(ref[:, 0])
    assert owned.sum() < len(ref)  # some rows belong to no group ...
    assert torch.isnan(out[~owned]).all()  # ... and are left untouched
    assert (out[owned] - ref[owned]).abs().max() <= 1e-5
    # large logits (peaked softmax): the max-subtracted softmax stays finite and exact
    big = qkv * 6
    ref_big = _sdpa(big, groups, heads, torch.zeros_like(ref))
    out_big = fa.attention_or_none(big, groups, heads)
    assert torch.isfinite(out_big).all() and (out_big[owned] - ref_big[owned]).abs().max() <= 1e-4


@needs_cc
def test_threads_split_the_work_and_give_the_same_result():
    lib = fa.kernel()
    qkv, groups = _packed(8, 32, seed=3)
    one = fa.attention_or_none(qkv, groups, 8)
    tables = fa.split_groups(fa.group_table(groups), 3)
    assert 2 <= len(tables) <= 3 and sum(len(t) for t in tables) == sum(c for _, c, _ in groups)  # whole sequences
    seqs = {(int(f), int(t)) for tab in tables for f, c, t in tab}
    assert seqs == {(f + k * t, t) for f, c, t in groups for k in range(c)}
    h, x, big = torch.randn(700, 256), torch.randn(700, 256), torch.randn(700, 1024) * 3  # 2 parts each
    norm = torch.nn.LayerNorm(256)
    g1, n1 = big.clone(), h.clone()
    with torch.inference_mode():
        fa.gelu_(g1, lib), fa.add_layernorm_(n1, x, norm, lib)
        before = torch.get_num_threads()
        torch.set_num_threads(2)
        try:
            two = fa.attention_or_none(qkv, groups, 8)
            g2, n2 = big.clone(), h.clone()
            fa.gelu_(g2, lib), fa.add_layernorm_(n2, x, norm, lib)
        finally:
            torch.set_num_threads(before)
    assert torch.equal(one, two) and torch.equal(g1, g2) and torch.equal(n1, n2)


@needs_cc
def test_gelu_matches_torch_everywhere():
    lib = fa.kernel()
    grid = torch.cat([torch.linspace(-12, 12, 1_000_003), torch.linspace(-300, 300, 100_001), torch.randn(5000) * 3,
                      torch.tensor([0.0, -0.0, 1e-30, -1e-30, 3.9 * 2**0.5, -3.9 * 2**0.5, 1e6, -1e6])])
    for x in (grid, grid[:13]):  # whole vectors and a scalar tail
        y = x.clone()
        assert fa.gelu_(y, lib)
        assert (y - F.gelu(x)).abs().max() <= 1e-6
    assert (fa.gelu_(grid[:-8].clone()[::2], lib) is False) and not fa.gelu_(grid.double(), lib)  # strided, fp64


@needs_cc
@pytest.mark.parametrize("d", [256, 768, 20])
def test_add_layernorm_matches_torch(d):
    lib = fa.kernel()
    gen = torch.Generator().manual_seed(d)
    norm = torch.nn.LayerNorm(d, eps=1e-12 if d == 256 else 1e-5)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(d, generator=gen))
        norm.bias.copy_(torch.randn(d, generator=gen))
    h, x = torch.randn(300, d, generator=gen) * 4 + 3, torch.randn(300, d, generator=gen)
    with torch.inference_mode():
        ref = norm(h + x)
        out = h.clone()
        assert fa.add_layernorm_(out, x, norm, lib)
        assert (out - ref).abs().max() <= 1e-5
        assert not fa.add_layernorm_(h.double(), x.double(), norm, lib)  # fp64: untouched, caller falls back
        assert not fa.add_layernorm_(h[:, :-1].clone(), x[:, :-1].clone(), norm, lib)  # wrong width
    out = h.clone()
    assert not fa.add_layernorm_(out, x, norm, lib) and torch.equal(out, h)  # the norm's weights need grad


@needs_cc
def test_unusable_inputs_and_the_switch_fall_back(monkeypatch):
    qkv, groups = _packed(4, 32, seed=1)
    assert fa.attention_or_none(qkv.double(), groups, 4) is None  # not fp32
    assert fa.attention_or_none(qkv.t().contiguous().t(), groups, 4) is None  # not contiguous
    assert fa.attention_or_none(qkv, groups, 5) is None  # 3d not divisible by 3 * heads
    with pytest.raises(ValueError, match="groups reach row"):
        fa.attention_or_none(qkv[:50], groups, 4)
    monkeypatch.setenv("SCIPTM_FUSED_ATTENTION", "0")
    assert fa.kernel() is None and fa.attention_or_none(qkv, groups, 4) is None


def _embed(enc: sciptm.Encoder, rows: list[str], fused: str, monkeypatch, quantize=None) -> np.ndarray:
    monkeypatch.setenv("SCIPTM_FUSED_ATTENTION", fused)
    return enc.embed(rows, progress=False, quantize=quantize)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(F.cosine_similarity(torch.from_numpy(a), torch.from_numpy(b)).min())


@needs_cc
def test_embed_with_the_kernel_on_and_off(small, mixed_rows, monkeypatch):
    rows = mixed_rows
    calls = []
    real = fa.packed_attention
    monkeypatch.setattr(fa, "packed_attention", lambda *a: calls.append(1) or real(*a))
    on = _embed(small, rows, "1", monkeypatch)
    ran = len(calls)
    assert ran  # the kernel ran
    off = _embed(small, rows, "0", monkeypatch)
    assert len(calls) == ran  # ... and not with the switch off
    assert _cos(on, off) >= 0.99999
    assert np.abs(on - off).max() <= 1e-4
    on8 = _embed(small, rows, "1", monkeypatch, quantize="int8")
    off8 = _embed(small, rows, "0", monkeypatch, quantize="int8")
    assert _cos(on8, off) >= 0.999 and _cos(off8, off) >= 0.999
    assert _cos(on8, off8) >= 0.999  # int8 rounding amplifies the last-bit differences a little


def test_no_compiler_falls_back_to_the_same_embeddings(small, moses_smiles, monkeypatch, tmp_path, caplog):
    rows = moses_smiles[:80]
    monkeypatch.setenv("SCIPTM_FUSED_ATTENTION", "0")
    ref = small.embed(rows, progress=False)
    monkeypatch.setenv("SCIPTM_FUSED_ATTENTION", "1")
    monkeypatch.setenv("SCIPTM_CACHE", str(tmp_path / "cache"))  # nothing compiled there
    monkeypatch.setenv("CC", str(tmp_path / "no-such-compiler"))
    with caplog.at_level(logging.INFO, logger="sciptm.encoders.fused_attention"):
        assert fa.kernel() is None
        out = small.embed(rows, progress=False)
        assert fa.kernel() is None
    assert caplog.text.count("fused attention kernel not used") == 1  # logged once, at INFO, no error
    assert "no-such-compiler" in caplog.text
    np.testing.assert_array_equal(out, ref)
    assert not (tmp_path / "cache" / "kernels").exists() or not any((tmp_path / "cache" / "kernels").iterdir())


@needs_cc
def test_a_failing_compile_falls_back(monkeypatch, tmp_path, caplog):
    fake = tmp_path / "badcc"
    fake.write_text("#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'badcc 1.0'; exit 0; fi\n"
                    "echo 'error: cannot compile' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("SCIPTM_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CC", str(fake))
    with caplog.at_level(logging.INFO, logger="sciptm.encoders.fused_attention"):
        assert fa.kernel() is None
    assert "cannot compile" in caplog.text
    assert not list((tmp_path / "cache" / "kernels").glob("*.so"))  # nothing half-made left to load
    assert not list((tmp_path / "cache" / "kernels").glob(".build-*"))


# loads the module from its file (no torch import: a quick process) and runs the kernel on numpy arrays
_WORKER = textwrap.dedent("""
    import importlib.util, sys
    import numpy as np
    spec = importlib.util.spec_from_file_location("fa", sys.argv[1])
    fa = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fa)
    path = fa.build()
    lib = fa.kernel()
    assert lib is not None
    qkv = np.random.default_rng(0).standard_normal((10, 3 * 16), dtype=np.float32)
    out = np.zeros((10, 16), np.float32)
    table = fa.group_table([(0, 2, 5)])
    assert lib.sciptm_packed_attention(qkv.ctypes.data, out.ctypes.data, table.ctypes.data, 1, 2, 8, 8 ** -0.5) == 0
    q, k, v = qkv.reshape(2, 5, 3, 2, 8).transpose(2, 0, 3, 1, 4)
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(8)
    p = np.exp(s - s.max(-1, keepdims=True))
    ref = ((p / p.sum(-1, keepdims=True)) @ v).transpose(0, 2, 1, 3).reshape(10, 16)
    assert np.abs(out - ref).max() <= 1e-5
    print(path)
""")


@needs_cc
def test_two_processes_compiling_at_once_share_one_whole_library(tmp_path):
    env = {**os.environ, "SCIPTM_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    kernels = tmp_path / "cache" / "kernels"
    kernels.mkdir(parents=True)
    (kernels / ".build-stale").mkdir()  # a crashed build's leftovers: never loaded
    (kernels / ".build-stale" / "half.so").write_bytes(b"\x7fELF truncated")
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER, fa.__file__], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1][-2000:] for r in results]
    paths = {r[0].strip() for r in results}
    assert len(paths) == 1  # the same cache key
    libs = list(kernels.glob("*.so"))
    assert [str(p) for p in libs] == list(paths)
    assert sorted(p.name for p in kernels.iterdir() if p.name.startswith(".build-")) == [".build-stale"]


# ------------------------------------------------------------------ int8 linear layers and the fused block
def _int8_linear(n: int, k: int, seed: int, per_channel: bool = True) -> torch.nn.Module:
    from sciptm.encoders.quantize import dynamic_int8

    gen = torch.Generator().manual_seed(seed)
    lin = torch.nn.Linear(k, n)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(n, k, generator=gen) * 0.05)
        lin.bias.copy_(torch.randn(n, generator=gen) * 0.1)
    return dynamic_int8(torch.nn.Sequential(lin), per_channel=per_channel)[0]


@needs_cc
def test_quantize_rows_round_trips_within_half_a_step():
    lib = fa.kernel()
    if not fa.int8_available(lib):
        pytest.skip("no int8 path in this build (not x86-64 AVX2)")
    gen = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(40, 96, generator=gen) * 3 + 1, torch.zeros(1, 96), torch.full((1, 96), 2.5),
                   -torch.rand(1, 96, generator=gen), torch.randn(1, 96, generator=gen) * 1e4])
    q, s, z = fa.quantize_rows(x, lib)
    assert q.dtype == torch.uint8 and int(q.max()) <= 127 and ((z >= 0) & (z <= 127)).all() and (s > 0).all()
    back = (q.int() - z[:, None]).float() * s[:, None]
    assert ((back - x).abs() <= s[:, None] * 0.5001 + 1e-6).all()
    assert torch.equal(back[40], torch.zeros(96))  # zero is exact
    odd = torch.randn(7, 37, generator=gen)  # scalar tail (k % 32 != 0)
    q2, s2, z2 = fa.quantize_rows(odd, lib)
    assert (((q2.int() - z2[:, None]).float() * s2[:, None] - odd).abs() <= s2[:, None] * 0.5001).all()


@needs_cc
@pytest.mark.parametrize(("rows", "n", "k", "per_channel"), [(101, 768, 256, True), (5, 256, 1024, True),
                                                              (48, 32, 4, False), (300, 1024, 256, True)])
def test_qlinear_is_exact_integer_arithmetic_and_close_to_fp32(rows, n, k, per_channel):
    lib = fa.kernel()
    if not fa.int8_available(lib):
        pytest.skip("no int8 path in this build (not x86-64 AVX2)")
    mod = _int8_linear(n, k, seed=rows + n, per_channel=per_channel)
    packed = fa.pack_linear(mod)
    assert packed is not None and packed.packed.shape == (n // 16, k // 4, 16, 4)
    x = F.gelu(torch.randn(rows, k, generator=torch.Generator().manual_seed(k)) * 2)
    q, s, z = fa.quantize_rows(x, lib)
    out = fa.qlinear(q, s, z, packed, lib)
    w = mod.weight()
    wq = w.int_repr().double()
    scales = (w.q_per_channel_scales() if per_channel else torch.full((n,), w.q_scale(), dtype=torch.float64)).double()
    ref = ((q.double() - z[:, None].double()) @ wq.T) * (s.double()[:, None] * scales[None, :]) + mod.bias().double()
    assert (out.double() - ref).abs().max() <= 1e-4 * (1 + ref.abs().max())  # int32 sums exact, fp32 epilogue
    exact = F.linear(x, w.dequantize(), mod.bias())
    assert F.cosine_similarity(out, exact, dim=1).min() >= 0.999  # per-row 7-bit activations
    # the onednn/fbgemm dynamic op on the same weights is no closer to fp32 than the kernel
    dyn = mod(x)
    assert (out - exact).abs().mean() <= 1.05 * (dyn - exact).abs().mean()


@needs_cc
def test_pack_linear_refuses_what_the_kernel_cannot_run():
    assert fa.pack_linear(torch.nn.Linear(16, 16)) is None  # fp32 weights
    assert fa.pack_linear(_int8_linear(24, 16, seed=1)) is None  # out_features % 16
    assert fa.pack_linear(_int8_linear(16, 18, seed=1)) is None  # in_features % 4
    lin = _int8_linear(16, 16, seed=1)
    norm = torch.nn.LayerNorm(16)
    assert fa.pack_block(lin, lin, lin, lin, norm, norm) is None  # widths of a block do not fit


def _int8_embed(enc: sciptm.Encoder, rows: list[str], monkeypatch, kernel: bool) -> np.ndarray:
    from sciptm.encoders import lean

    monkeypatch.setattr(lean, "INT8_KERNEL", kernel)
    return _embed(enc, rows, "1", monkeypatch, quantize="int8")


@needs_cc
def test_int8_embed_through_the_int8_kernels(small, mixed_rows, monkeypatch):
    if not fa.int8_available(fa.kernel()):
        pytest.skip("no int8 path in this build (not x86-64 AVX2)")
    rows = mixed_rows
    calls = []
    real = fa.int8_finish
    monkeypatch.setattr(fa, "int8_finish", lambda *a: calls.append(1) or real(*a))
    fp32 = _embed(small, rows, "0", monkeypatch)
    onednn = _int8_embed(small, rows, monkeypatch, kernel=False)
    assert not calls  # lean.INT8_KERNEL off: PyTorch's int8 Linear
    on = _int8_embed(small, rows, monkeypatch, kernel=True)
    ran = len(calls)
    assert ran and ran % small.model.config.num_hidden_layers == 0  # one call per block and pack
    off = _embed(small, rows, "0", monkeypatch, quantize="int8")
    assert len(calls) == ran  # SCIPTM_FUSED_ATTENTION=0: no C kernel at all
    assert _cos(on, fp32) >= 0.9995  # per-row activations: closer to fp32 than the per-tensor dynamic op
    assert _cos(on, fp32) >= _cos(onednn, fp32) - 2e-4 and _cos(off, fp32) >= 0.999
    # two threads split the rows: the same result bit for bit
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        two = _int8_embed(small, rows, monkeypatch, kernel=True)
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(two, on)
    # all blocks per chunk of whole sequences instead of per pack: the same result bit for bit
    from sciptm.encoders import lean

    monkeypatch.setattr(lean, "INT8_CHUNK_ROWS", 64)
    np.testing.assert_array_equal(_int8_embed(small, rows, monkeypatch, kernel=True), on)


@needs_cc
def test_a_copied_int8_encoder_does_not_read_the_original_memory(small, moses_smiles, monkeypatch):
    import copy
    import gc

    if not fa.int8_available(fa.kernel()):
        pytest.skip("no int8 path in this build (not x86-64 AVX2)")
    rows = moses_smiles[:50]
    enc = copy.deepcopy(small)
    ref = _int8_embed(enc, rows, monkeypatch, kernel=True)  # packs made and kept on the int8 copy
    twin = copy.deepcopy(enc)
    del enc
    gc.collect()
    np.testing.assert_array_equal(_int8_embed(twin, rows, monkeypatch, kernel=True), ref)


def test_row_chunks_cut_between_whole_sequences():
    groups = fa.group_table([(0, 3, 40), (120, 10, 36), (480, 2, 600), (1680, 5, 7)])
    chunks = fa.row_chunks(groups, 100)
    assert chunks[0][0] == 0 and chunks[-1][1] == 1715
    assert all(b == a2 for (_, b, _), (a2, _, _) in itertools.pairwise(chunks))  # consecutive, no gap
    seqs = []
    for a, b, table in chunks:
        rows = int((table[:, 1] * table[:, 2]).sum())
        assert rows == b - a and (rows <= 100 or len(table) == 1 and table[0, 1] == 1)  # a longer one alone
        assert table[0, 0] == 0 and np.array_equal(table[1:, 0], np.cumsum(table[:, 1] * table[:, 2])[:-1])
        seqs += [(a + int(f) + k * int(t), int(t)) for f, c, t in table for k in range(int(c))]
    assert seqs == [(int(f) + k * int(t), int(t)) for f, c, t in groups for k in range(int(c))]
    assert fa.row_chunks(fa.group_table([]), 100) == []


def test_embed_pauses_the_cyclic_collector_and_restores_it(small, moses_smiles, monkeypatch):
    import gc

    from sciptm.encoders import lean

    seen = []
    real = lean.LeanEncoder._pack_forward
    monkeypatch.setattr(lean.LeanEncoder, "_pack_forward", lambda *a: seen.append(gc.isenabled()) or real(*a))
    assert gc.isenabled()
    small.embed(moses_smiles[:20], progress=False)
    assert seen and not any(seen) and gc.isenabled()  # off while packs run, back on after
    gc.disable()
    try:
        small.embed(moses_smiles[:20], progress=False)
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
