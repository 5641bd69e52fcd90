"""A kernel call's parts on PyTorch's own OpenMP threads (#16, ``kernels/parallel.h``,
``sciptm.encoders.fused_attention.call_parts``): the libraries bind the ``libgomp`` PyTorch loaded, the parts
give the same bits as the Python-thread fallback and as one thread's call, float/pointer/``None`` arguments
reach the C side intact, a library built without OpenMP still works, and a 2-thread packed training step runs
none of its parts on the Python thread pool (whose threads competed with PyTorch's spinning OpenMP threads)."""
from __future__ import annotations

import ctypes
from pathlib import Path

import pytest
import torch

from sciptm.encoders import fused_attention as fa
from sciptm.training import fused_training as ft
from sciptm.training import packed_linear as pl


@pytest.fixture()
def lib(training_kernels):
    return training_kernels


@pytest.fixture()
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _torch_ships_openmp() -> bool:
    return bool(fa._torch_openmp_runtimes())


def _rand(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def test_the_libraries_run_on_the_openmp_runtime_pytorch_ships(lib):
    if not lib.sciptm_openmp():
        pytest.skip("the compiler here has no OpenMP: the parts run on sciptm's Python threads")
    if not _torch_ships_openmp():
        pytest.skip("this PyTorch build ships no OpenMP runtime of its own")
    runtime = fa.openmp_runtime(lib)
    assert runtime is not None and Path(runtime).exists()
    assert runtime in fa._torch_openmp_runtimes()
    assert fa.shares_torch_threads(lib)
    inference = fa.kernel()
    assert inference is not None and fa.openmp_runtime(inference) == runtime
    assert fa._part_function(lib, lib.sciptm_sgemm) is not None


def test_parts_on_openmp_threads_equal_the_python_pool_and_one_call(lib, two_threads, monkeypatch):
    x, w = _rand(1800, 128, seed=1), _rand(512, 128, seed=2)
    h, res = _rand(1000, 128, seed=3), _rand(1000, 128, seed=4)
    norm = torch.nn.LayerNorm(128, eps=1e-5)
    with torch.no_grad():
        norm.weight.copy_(_rand(128, seed=5))
        norm.bias.copy_(_rand(128, seed=6))
    inference = fa.kernel()

    def run():
        y, dg = pl.gemm(lib, x, w.t(), kind=pl.GELU, bias=_rand(512, seed=7))
        dw = pl.gemm(lib, y.t(), x)[0]  # 512 output rows: split over both threads too
        hh = h.clone()
        with torch.no_grad():
            assert fa.add_layernorm_(hh, res, norm, inference)  # a float argument (eps) through the part words
        return y, dg, dw, hh

    omp = run()
    monkeypatch.setattr(fa, "_part_function", lambda *a: None)  # every call on the Python pool instead
    pool = run()
    torch.set_num_threads(1)
    one = run()
    for a, b, c in zip(omp, pool, one, strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)
    ref = torch.nn.functional.layer_norm(h.double() + res.double(), (128,), norm.weight.double(), norm.bias.double(),
                                         1e-5)
    torch.testing.assert_close(omp[3].double(), ref, atol=2e-5, rtol=1e-5)


def test_words_keep_floats_pointers_none_and_arrays():
    assert fa._word(None, False) == 0 and fa._word(None, True) == 0
    assert fa._word(-1, False) == (1 << 64) - 1  # two's complement in the 64-bit word, int64_t on the C side
    assert fa._word(1, True) == 0x3F800000 and fa._word(0.5, True) == 0x3F000000  # 1 given as an int: still a float
    table = (ctypes.c_void_p * 3)(1, 2, 3)
    assert fa._word(table, False) == ctypes.addressof(table)


def test_each_part_returns_its_own_code(two_threads):
    inference = fa.kernel()
    if inference is None:
        pytest.skip("no C compiler / AVX2 here")
    qkv, out = _rand(20, 3 * 16, seed=8), torch.zeros(20, 16)
    table = fa.group_table([(0, 2, 5), (10, 2, 5)])
    first, second = table[:1], table[1:]
    args = [(qkv.data_ptr(), out.data_ptr(), first.ctypes.data, 1, 2, 8, 8 ** -0.5),
            (qkv.data_ptr(), out.data_ptr(), second.ctypes.data, 1, 0, 8, 8 ** -0.5)]  # heads 0: refused (-2)
    assert fa.call_parts(inference, "sciptm_packed_attention", args) == [0, -2]
    ref = fa.attention_or_none(qkv, [(0, 2, 5)], heads=2)
    torch.testing.assert_close(out[:10], ref[:10])  # the good part still ran
    assert not out[10:].any()


def test_a_library_without_openmp_runs_its_parts_on_python_threads(two_threads):
    if fa.compiler() is None:
        pytest.skip("no C compiler here")
    plain = ft._load(fa.build(source=ft.SOURCE, openmp=False))
    assert plain.sciptm_openmp() == 0 and fa.openmp_runtime(plain) is None
    assert fa._part_function(pl.bind(plain), plain.sciptm_sgemm) is None
    x, w = _rand(1800, 128, seed=10), _rand(384, 128, seed=11)
    torch.testing.assert_close(pl.gemm(plain, x, w.t())[0], x @ w.t(), atol=1e-4, rtol=1e-5)


def test_a_two_thread_training_step_runs_no_part_on_python_threads(lib, chem_dir, two_threads, monkeypatch):
    if not fa.shares_torch_threads(lib):
        pytest.skip("the kernels do not share PyTorch's OpenMP runtime here")
    import pandas as pd

    import sciptm
    from sciptm.heads.mlp import MLPHead, PredictorModule
    from sciptm.training.trainer import set_encoder_dropout

    smiles = pd.read_csv(chem_dir / "delaney-processed.csv")["smiles"].tolist()[:64]
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
    module = PredictorModule(enc.model, MLPHead(enc.model.config.hidden_size, 1, dropout=0.0), "mean").train()
    set_encoder_dropout(module.encoder, 0.0, 0.0)
    batch = enc.tokenizer(smiles, padding=True, return_tensors="pt", return_token_type_ids=False)
    assert int(batch["attention_mask"].sum()) >= 2 * fa._SPLIT_MIN_ROWS  # the kernels split over 2 threads
    pooled: list[int] = []
    run = fa._run
    monkeypatch.setattr(fa, "_run", lambda calls: pooled.append(len(calls)) or run(calls))
    parts: list[int] = []
    call = fa.call_parts
    monkeypatch.setattr(fa, "call_parts", lambda lib, name, args: parts.append(len(args)) or call(lib, name, args))
    for module_ in (ft, pl):
        monkeypatch.setattr(module_, "call_parts", fa.call_parts)
    fused = ft.fused_forward(module)
    assert fused is not None
    fused(batch["input_ids"], batch["attention_mask"]).sum().backward()
    assert parts.count(2) >= 20 and not pooled  # split over 2 threads, none of it on the Python pool
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in module.encoder.parameters()
               if p.requires_grad)
