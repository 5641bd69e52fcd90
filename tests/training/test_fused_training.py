"""The packed fine-tuning path with C kernels (#16, ``sciptm.training.fused_training``): every parameter's gradient
against the ``transformers`` forward on real ESOL rows, the attention kernel against SDPA on random packed lengths,
GELU and dropout + add + LayerNorm against autograd (float64 references), the dropout masks' statistics, same-seed
fits identical, packed validation predictions, and the fallbacks (switch off, no compiler, unsupported modules)."""
from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

import sciptm
from sciptm.encoders.lean import LeanEncoder
from sciptm.heads.mlp import MLPHead, PredictorModule
from sciptm.training import fused_training as ft
from sciptm.training.kernel_calls import row_bounds
from sciptm.training.trainer import set_encoder_dropout

ESOL_TARGET = "measured log solubility in mols per litre"


@pytest.fixture(scope="module")
def esol(chem_dir) -> pd.DataFrame:
    return pd.read_csv(chem_dir / "delaney-processed.csv")


@pytest.fixture(scope="module")
def lib():
    lib = ft.kernel()
    if lib is None:
        pytest.skip("no C compiler / AVX2 here: the fused training kernels are not built")
    return lib


def _module(seed: int = 0, pooling: str = "mean", dropout: float = 0.0) -> tuple[PredictorModule, sciptm.Encoder]:
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=seed)
    torch.manual_seed(seed)
    module = PredictorModule(enc.model, MLPHead(enc.model.config.hidden_size, 2, dropout=dropout), pooling)
    set_encoder_dropout(module.encoder, dropout, 0.0)
    return module.train(), enc


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_every_gradient_matches_the_transformers_path(esol, lib, pooling):
    module, enc = _module(pooling=pooling)
    rows = esol["smiles"].tolist()[:64]  # real ESOL rows, lengths 5-70 tokens: a padded batch
    batch = enc.tokenize(rows)
    assert not bool(batch["attention_mask"].all())
    feats = torch.randn(len(rows), 0)
    fused = ft.fused_forward(module)
    assert fused is not None
    target = torch.randn(len(rows), 2)

    def grads(fn):
        module.zero_grad(set_to_none=True)
        out = fn(batch["input_ids"], batch["attention_mask"], feats)
        ((out - target) ** 2).mean().backward()
        return out.detach(), {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}

    out_f, g_f = grads(fused)
    out_t, g_t = grads(module)
    torch.testing.assert_close(out_f, out_t, atol=1e-5, rtol=1e-5)
    assert set(g_f) == set(g_t) and len(g_t) == len(list(module.parameters()))
    scale = max(float(g.abs().max()) for g in g_t.values())
    for name, g in g_t.items():
        if name.endswith("attention.self.key.bias"):  # softmax is shift-invariant: this gradient is 0 up to rounding
            assert float(g_f[name].abs().max()) < 1e-6 * scale, name
            continue
        rel = float((g_f[name] - g).norm() / g.norm())
        assert rel < 2e-5, (name, rel)


@pytest.mark.parametrize("heads, head_dim", [(4, 32), (2, 64), (3, 8), (2, 16), (1, 24), (1, 40)])
def test_attention_kernel_matches_sdpa_forward_and_backward(lib, heads, head_dim):
    rng = np.random.default_rng(heads)
    lengths = np.concatenate([[1, 2, 7, 8, 9, 300], rng.integers(1, 301, size=6)]).astype(np.int64)
    firsts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    seqs = np.ascontiguousarray(np.stack([firsts, lengths], axis=1))
    d = heads * head_dim
    gen = torch.Generator().manual_seed(heads)
    qkv = torch.randn(int(lengths.sum()), 3 * d, generator=gen).requires_grad_()
    bias = (0.3 * torch.randn(3 * d, generator=gen)).requires_grad_()
    grad_out = torch.randn(int(lengths.sum()), d, generator=gen)
    out = ft.PackedAttention.apply(qkv, bias, seqs, heads, lib)
    out.backward(grad_out)
    ref_in, ref_bias = qkv.detach().double().requires_grad_(), bias.detach().double().requires_grad_()
    parts = []
    for first, t in seqs:
        q, k, v = (ref_in[first:first + t] + ref_bias).view(t, 3, heads, head_dim).permute(1, 2, 0, 3)
        parts.append(F.scaled_dot_product_attention(q, k, v).transpose(0, 1).reshape(t, d))
    ref = torch.cat(parts)
    ref.backward(grad_out.double())
    torch.testing.assert_close(out.double(), ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(qkv.grad.double(), ref_in.grad, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(bias.grad.double(), ref_bias.grad, atol=1e-4, rtol=1e-5)
    plain = ft.PackedAttention.apply(qkv.detach(), None, seqs, heads, lib)  # no bias
    torch.testing.assert_close(plain, ft.PackedAttention.apply(qkv.detach(), torch.zeros(3 * d), seqs, heads, lib))


@pytest.mark.parametrize("cols", [512, 13])
def test_gelu_forward_and_backward_match_autograd(lib, cols):
    u = torch.linspace(-12, 12, 80 * cols).view(80, cols).requires_grad_()
    bias = (0.5 * torch.randn(cols, generator=torch.Generator().manual_seed(1))).requires_grad_()
    g = torch.randn(u.shape, generator=torch.Generator().manual_seed(0))
    y = ft.Gelu.apply(u, bias, lib)
    y.backward(g)
    ref_in, ref_bias = u.detach().double().requires_grad_(), bias.detach().double().requires_grad_()
    ref = F.gelu(ref_in + ref_bias)
    ref.backward(g.double())
    torch.testing.assert_close(y.double(), ref, atol=2e-6, rtol=1e-6)
    torch.testing.assert_close(u.grad.double(), ref_in.grad, atol=2e-6, rtol=1e-5)
    torch.testing.assert_close(bias.grad.double(), ref_bias.grad, atol=1e-4, rtol=1e-5)
    y = ft.Gelu.apply(u, None, lib)
    y.sum().backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="once"):
        y.sum().backward()


@pytest.mark.parametrize("p", [0.0, 0.1])
def test_dropout_add_layernorm_forward_and_backward_match_autograd(lib, p):
    torch.manual_seed(1)
    h, x = torch.randn(300, 128, requires_grad=True), torch.randn(300, 128, requires_grad=True)
    w, b = (1 + 0.1 * torch.randn(128)).requires_grad_(), (0.1 * torch.randn(128)).requires_grad_()
    hb = (0.2 * torch.randn(128)).requires_grad_()
    keep, scale = ft.dropout_keep((300, 128), p, lib)
    assert (keep is None) == (p == 0)
    y = ft.AddDropNorm.apply(h, hb, x, w, b, keep, scale, 1e-12, lib)
    g = torch.randn_like(y)
    y.backward(g)
    refs = [t.detach().double().requires_grad_() for t in (h, hb, x, w, b)]
    mask = torch.ones(300, 128, dtype=torch.float64) if keep is None else keep.double() * scale
    ref = F.layer_norm((refs[0] + refs[1]) * mask + refs[2], (128,), refs[3], refs[4], 1e-12)
    ref.backward(g.double())
    torch.testing.assert_close(y.double(), ref, atol=1e-5, rtol=1e-5)
    for ours, theirs in zip((h, hb, x, w, b), refs):
        torch.testing.assert_close(ours.grad.double(), theirs.grad, atol=1e-4, rtol=1e-5)


def test_dropout_masks_have_the_fast_dropout_statistics_and_follow_the_seed(lib):
    n, p = 1_000_000, 0.1
    torch.manual_seed(3)
    keep, scale = ft.dropout_keep((n,), p, lib)
    q = round(p * 65536) / 65536
    assert scale == pytest.approx(1 / (1 - q))
    assert abs(1 - float(keep.double().mean()) - q) < 5 * math.sqrt(q * (1 - q) / n)
    k = keep.numpy().astype(np.float64) - keep.numpy().mean()
    for lag in (1, 2, 3, 4, 5, 8, 128):  # neighbours, the four slices of one word, the next row
        assert abs(float((k[:-lag] * k[lag:]).mean()) / float((k * k).mean())) < 5 / math.sqrt(n), lag
    torch.manual_seed(3)
    again, _ = ft.dropout_keep((n,), p, lib)
    other, _ = ft.dropout_keep((n,), p, lib)  # the next call draws a new seed
    assert torch.equal(keep, again) and not torch.equal(keep, other)


def _fit(esol, epochs=2, **kw):
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
    model = sciptm.PropertyPredictor(enc, task="regression", epochs=epochs, batch_size=16, seed=0, **kw)
    df = esol.iloc[:96]
    model.fit(df["smiles"].tolist()[:80], df[ESOL_TARGET].to_numpy(float)[:80],
              valid=(df["smiles"].tolist()[80:], df[ESOL_TARGET].to_numpy(float)[80:]))
    return model


def test_same_seed_fits_are_identical_and_train(esol, lib):
    a, b = _fit(esol), _fit(esol)
    sa, sb = a.module_.state_dict(), b.module_.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a.history_["train_loss"].tolist() == b.history_["train_loss"].tolist()
    assert a.history_["valid_score"].tolist() == b.history_["valid_score"].tolist()
    fresh = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0).model.state_dict()
    assert any(not torch.equal(sa[f"encoder.{k}"], v) for k, v in fresh.items())  # the encoder was trained


def test_the_fused_path_runs_in_fit_and_the_switch_turns_it_off(esol, lib, monkeypatch):
    calls = {"fused": 0}
    real = ft.FusedForward._encode

    def counted(self, *args):
        calls["fused"] += 1
        return real(self, *args)

    monkeypatch.setattr(ft.FusedForward, "_encode", counted)
    on = _fit(esol, epochs=1)
    assert calls["fused"] == 5  # 80 rows in batches of 16
    monkeypatch.setenv("SCIPTM_FUSED_TRAINING", "0")
    calls["fused"] = 0
    off = _fit(esol, epochs=1)
    assert calls["fused"] == 0
    module, _ = _module()
    assert ft.fused_forward(module) is None
    # both paths train the same function: the first epoch's losses agree closely, not bit for bit
    assert on.history_["train_loss"].iloc[0] == pytest.approx(off.history_["train_loss"].iloc[0], rel=0.05)
    monkeypatch.setenv("SCIPTM_FUSED_TRAINING", "1")
    monkeypatch.setenv("SCIPTM_FAST_DROPOUT", "0")  # PyTorch's dropout asked for: not the fused masks
    assert ft.fused_forward(module) is None


def test_no_compiler_gives_the_transformers_path(esol, monkeypatch, caplog):
    monkeypatch.setenv("CC", "/nonexistent/cc")
    ft.reset()
    try:
        with caplog.at_level(logging.INFO, logger="sciptm.training.fused_training"):
            assert ft.kernel() is None
            module, _ = _module()
            assert ft.fused_forward(module) is None
            model = _fit(esol, epochs=1)
        assert "fused training kernels not used" in caplog.text and "no C compiler" in caplog.text
        assert np.isfinite(model.history_["train_loss"]).all()
    finally:
        monkeypatch.delenv("CC")
        ft.reset()


def test_unsupported_modules_and_batches_fall_back(esol, lib):
    module, enc = _module()

    class Other(PredictorModule):
        pass

    assert "not a PredictorModule" in ft.unsupported_reason(Other(module.encoder, module.head, "mean"))
    esm = sciptm.Encoder.from_config(domain="protein", size="tiny", seed=0)
    assert ft.unsupported_reason(PredictorModule(esm.model, MLPHead(esm.model.config.hidden_size, 1), "mean"))
    fused = ft.fused_forward(module)
    batch = enc.tokenize(esol["smiles"].tolist()[:8])
    set_encoder_dropout(module.encoder, 0.0, 0.1)  # attention-probability dropout: the transformers forward
    assert fused.fallback_reason(batch["input_ids"], batch["attention_mask"]) == "attention-probability dropout"
    module.eval()
    assert fused.fallback_reason(batch["input_ids"], batch["attention_mask"]) == "eval mode"


@pytest.mark.parametrize("sgemm", [True, False])
def test_packed_validation_predictions_match_the_module(esol, lib, sgemm, monkeypatch):
    from sciptm.training import packed_linear

    monkeypatch.setattr(packed_linear, "INFERENCE", sgemm)  # validation's linear layers on sciptm's GEMM or MKL
    calls = []
    made = packed_linear.inference_linear
    monkeypatch.setattr(packed_linear, "inference_linear", lambda lib: calls.append(made(lib)) or calls[-1])
    module, enc = _module()
    module.eval()
    rows = esol["smiles"].tolist()[:300]  # ~8,000 tokens: two packs
    batch = enc.tokenize(rows)
    ids = [list(r[m.bool()]) for r, m in zip(batch["input_ids"], batch["attention_mask"])]
    feats = np.random.default_rng(0).normal(size=(300, 0))
    with torch.inference_mode():
        ref = module(batch["input_ids"], batch["attention_mask"])
        out = ft.predict_packed(module, ids, feats)
        states = module.encoder(batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled_ref = (states * mask).sum(1) / mask.sum(1)
        pooled = LeanEncoder(module.encoder).embed_sequences(ids, linear=calls[-1])
    assert (calls[-1] is not None) == sgemm
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(pooled, pooled_ref, atol=1e-5, rtol=1e-5)
    module.train()
    assert ft.predict_packed(module, ids, feats) is None


def test_fit_freezes_the_collector_only_while_it_runs_and_keeps_a_callers_freeze(esol):
    import gc

    seen = []
    from sciptm.training.trainer import epoch_callback

    with epoch_callback(lambda row: seen.append(gc.get_freeze_count())):
        _fit(esol, epochs=1)
    assert seen[0] > 0 and gc.get_freeze_count() == 0
    gc.freeze()
    try:
        before = gc.get_freeze_count()
        _fit(esol, epochs=1)
        assert gc.get_freeze_count() > 0.9 * before  # still frozen (a few frozen objects may have been freed)
    finally:
        gc.unfreeze()


def test_two_threads_split_the_kernels_and_give_the_same_gradients(esol, lib):
    module, enc = _module()
    batch = enc.tokenize(esol["smiles"].tolist()[:96])  # ~2,600 packed rows: split over two threads
    fused = ft.fused_forward(module)

    def grads():
        module.zero_grad(set_to_none=True)
        torch.manual_seed(0)
        fused(batch["input_ids"], batch["attention_mask"]).pow(2).mean().backward()
        return {n: p.grad.clone() for n, p in module.named_parameters()}

    one = grads()
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert len(row_bounds(2600)) == 3 and len(ft._seq_parts(np.array([[0, 50]] * 52), 4, 2600)) == 2
        two, again = grads(), grads()
    finally:
        torch.set_num_threads(before)
    for name, g in one.items():
        torch.testing.assert_close(two[name], g, atol=1e-6 * float(g.abs().max()) + 1e-9, rtol=1e-5)
        assert torch.equal(two[name], again[name])  # deterministic for a given thread count


def test_mean_pooling_matches_per_sequence_means_and_their_gradient(lib):
    module, _ = _module()
    fused = ft.fused_forward(module)
    lengths = torch.tensor([1, 5, 17, 2, 40, 8])
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(int(lengths.sum()), 128, generator=gen).requires_grad_()
    g = torch.randn(len(lengths), 128, generator=gen)
    out = fused._pool(x, lengths)
    out.backward(g)
    ref_in = x.detach().double().requires_grad_()
    ref = torch.stack([part.mean(0) for part in ref_in.split(lengths.tolist())])
    ref.backward(g.double())
    torch.testing.assert_close(out.double(), ref, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(x.grad.double(), ref_in.grad, atol=1e-7, rtol=1e-6)


def test_the_best_epoch_state_copy_is_what_deepcopy_gives():
    import copy

    from sciptm.training.trainer import state_copy

    module, _ = _module()
    ours, ref = state_copy(module), copy.deepcopy(module.state_dict())
    assert list(ours) == list(ref) and ours._metadata == ref._metadata and type(ours) is type(ref)
    assert all(torch.equal(ours[k], ref[k]) for k in ref)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(1.0)  # the copy does not share storage with the module
    assert all(torch.equal(ours[k], ref[k]) for k in ref)
    module.load_state_dict(ours)
    assert all(torch.equal(v, ref[k]) for k, v in module.state_dict().items())


def _reference_mask(n: int, level: int, seed: int) -> np.ndarray:
    """keep flags by the kernel's definition, in Python: SFC64 seeded by splitmix64 (12 warm-up draws), each word's
    16-bit slices from the low end, kept when the slice read as int16 is >= level - 32768."""
    m64 = (1 << 64) - 1
    s = seed

    def splitmix() -> int:
        nonlocal s
        s = (s + 0x9E3779B97F4A7C15) & m64
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & m64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m64
        return z ^ (z >> 31)

    st = [splitmix(), splitmix(), splitmix(), 1]

    def draw() -> int:
        a, b, c, w = st
        out = (a + b + w) & m64
        st[:] = [b ^ (b >> 11), (c + (c << 3)) & m64, ((((c << 24) | (c >> 40)) & m64) + out) & m64, w + 1]
        return out

    for _ in range(12):
        draw()
    flags = []
    while len(flags) < n:
        w = draw()
        for k in range(4):
            v = (w >> (16 * k)) & 0xFFFF
            flags.append(int((v - 65536 if v >= 32768 else v) >= level - 32768))
    return np.array(flags[:n], dtype=np.uint8)


def test_dropout_masks_follow_their_definition_bit_for_bit(lib):
    for n, level, seed in [(1, 6554, 7), (37, 6554, 2**64 - 1), (64, 32768, 0), (203, 1, 12345), (100, 65535, 99)]:
        keep = torch.empty(n, dtype=torch.uint8)
        lib.sciptm_dropout_mask(keep.data_ptr(), n, level, seed)
        assert np.array_equal(keep.numpy(), _reference_mask(n, level, seed)), (n, level, seed)
