"""Zero-shot variant-effect scores from a masked protein language model.

Two standard estimators (Meier et al. 2021, "Language models enable zero-shot prediction
of the effects of mutations on protein function"), summed over the sites of a
multi-mutant:

- ``"wt-marginal"``: one forward pass of the wild type; each site scores
  ``log p(mut | wt) - log p(wt | wt)``.
- ``"masked-marginal"``: the site is masked in the wild type; each site scores
  ``log p(mut | wt with site masked) - log p(wt | ...)``. One forward pass per distinct
  mutated position, cached, so 60,000 variants over 56 positions cost 56 passes.

Wild types longer than the model's context are read through a window of the maximum
length centred on the site (clamped to the sequence ends), as ProteinGym does.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch

from sciptm._util.items import as_list
from sciptm.domains.protein.mutations import _parse, check_mutations
from sciptm.errors import InvalidInputError, InvalidRecord
from sciptm.progress import progress_bar

Method = Literal["masked-marginal", "wt-marginal"]
_STR_DTYPE = pd.Series(["A1G"]).dtype  # what a list of strings becomes in a DataFrame column
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3  # a frame may share the input's column without copying
SCORING_METHODS: tuple[str, ...] = ("masked-marginal", "wt-marginal")
METHODS = SCORING_METHODS  # older name


def _masked_lm(encoder: Any) -> torch.nn.Module:
    lm = getattr(encoder, "lm_model", None)
    if lm is None:
        raise ValueError("score_mutations needs an encoder with its masked-language-model head (encoder.lm_model is "
                         "None); build it with Encoder.from_config or load a *ForMaskedLM checkpoint")
    if "MaskedLM" not in type(lm).__name__:
        raise ValueError(f"score_mutations needs a masked language model, not {type(lm).__name__}")
    if encoder.tokenizer.mask_token_id is None:
        raise ValueError("the encoder's tokenizer has no mask token")
    return lm


def _residue_ids(tokenizer: Any, wt: str) -> tuple[list[int], list[int], np.ndarray]:
    """Split the tokenized wild type into (prefix specials, suffix specials, one id per residue)."""
    ids = tokenizer(wt, truncation=False)["input_ids"]
    content = tokenizer(wt, add_special_tokens=False, truncation=False)["input_ids"]
    if len(content) != len(wt):
        raise ValueError(f"score_mutations needs one token per residue; the tokenizer gave {len(content)} tokens "
                         f"for {len(wt)} residues")
    k = next((i for i in range(len(ids) - len(content) + 1) if ids[i:i + len(content)] == content), None)
    if k is None:
        raise ValueError("cannot locate the residues among the tokenizer's special tokens")
    return ids[:k], ids[k + len(content):], np.asarray(content, dtype=np.int64)


_WORKSPACES: dict[tuple[torch.device, int], dict[str, torch.Tensor]] = {}
_KEEP_WORKSPACE = 64 * 2**20  # bytes of lean-pass buffers kept for the next call (fresh pages cost faults)
_RESIDUE_IDS: Any = None  # weak tokenizer -> {wild type: _residue_ids(...)}, made on first use


def _residue_ids_cached(tokenizer: Any, wt: str) -> tuple[list[int], list[int], np.ndarray]:
    """:func:`_residue_ids`, remembered per tokenizer (weakly) and wild type: a second call for the same
    protein does not tokenize it again (the residue ids come back read-only)."""
    global _RESIDUE_IDS
    import weakref

    if _RESIDUE_IDS is None:
        _RESIDUE_IDS = weakref.WeakKeyDictionary()
    try:
        known = _RESIDUE_IDS.setdefault(tokenizer, {})
    except TypeError:  # not weakly referenceable
        return _residue_ids(tokenizer, wt)
    key = (wt, len(tokenizer))
    if key not in known:
        if len(known) >= 8:
            known.clear()
        prefix, suffix, res = _residue_ids(tokenizer, wt)
        res.setflags(write=False)
        known[key] = (tuple(prefix), tuple(suffix), res)
    prefix, suffix, res = known[key]
    return list(prefix), list(suffix), res


def _max_window(encoder: Any, n_special: int) -> int:
    """Residues per forward pass the model accepts (specials excluded)."""
    limit = int(min(encoder.tokenizer.model_max_length, 10**9))
    max_pos = getattr(encoder.model.config, "max_position_embeddings", None)
    if max_pos:
        limit = min(limit, int(max_pos) - 2)  # ESM/RoBERTa reserve two positions (padding offset)
    return limit - n_special


def _window_start(pos: np.ndarray, length: int, width: int) -> np.ndarray:
    """Start of the ``width``-residue window centred on each 0-based ``pos``, clamped to the sequence."""
    return np.clip(pos - width // 2, 0, max(length - width, 0))


@contextmanager
def _fused_gelu(lm: torch.nn.Module) -> Iterator[None]:
    """Run ESM's exact GELU as one ``torch.nn.functional.gelu`` kernel instead of its four-op Python formula
    (``x * 0.5 * (1 + erf(x / sqrt(2)))``, the same function): 35% of a small ESM forward on CPU.

    ``transformers``' ESM looks the module-level ``gelu`` up at call time; it is swapped for the duration of
    the block and put back after (any model class other than ESM is left alone).
    """
    import sys

    module = sys.modules.get(type(lm).__module__)
    original = getattr(module, "gelu", None) if module is not None else None
    if module is None or not module.__name__.endswith("modeling_esm") or original is None:
        yield
        return
    module.gelu = torch.nn.functional.gelu
    try:
        yield
    finally:
        module.gelu = original


def _log_probs(lm: torch.nn.Module, rows: list[list[int]], device: torch.device) -> torch.Tensor:
    ids = torch.tensor(rows, dtype=torch.long, device=device)
    logits = lm(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    return torch.log_softmax(logits.float(), dim=-1)


def _site_log_probs(lm: torch.nn.Module, rows: list[list[int]], row_idx: np.ndarray, col_idx: np.ndarray,
                    device: torch.device, workspace: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """Log-probabilities ``K x V`` at the ``(row_idx, col_idx)`` positions of one batch of windows.

    The encoder runs on every position, but the LM head (dense + activation + norm + vocabulary projection)
    only on the K positions read, when the model exposes its body and ``lm_head`` (ESM, RoBERTa); otherwise
    the full logits are computed and indexed. A ``transformers`` ESM model takes :func:`_esm_site_logits`
    (``workspace``: its reusable buffers).
    """
    ids = torch.tensor(rows, dtype=torch.long, device=device)
    mask = torch.ones_like(ids)
    r = torch.as_tensor(row_idx, device=device)
    c = torch.as_tensor(col_idx, device=device)
    if _lean_esm_ok(lm):
        return torch.log_softmax(_esm_site_logits(lm, ids, r, c, workspace).float(), dim=-1)
    head = getattr(lm, "lm_head", None)
    body = getattr(lm, "base_model", None)
    if head is not None and body is not None and body is not lm:
        with _last_block_at(body, r, c) as picked:
            hidden = body(input_ids=ids, attention_mask=mask).last_hidden_state
        logits = head(hidden[:, 0] if picked else hidden[r, c])
    else:
        logits = lm(input_ids=ids, attention_mask=mask).logits[r, c]
    return torch.log_softmax(logits.float(), dim=-1)


def _lean_esm_ok(lm: torch.nn.Module) -> bool:
    """Whether :func:`_esm_site_logits` can stand in for ``lm``'s forward: a ``transformers`` ESM masked LM,
    encoder-only, rotary or absolute positions, in eval mode."""
    config = getattr(lm, "config", None)
    return (type(lm).__name__ == "EsmForMaskedLM" and type(lm).__module__.endswith("modeling_esm")
            and not lm.training and config is not None and not config.is_decoder
            and not getattr(config, "add_cross_attention", False)
            and config.position_embedding_type in ("rotary", "absolute"))


def _shared_first_block(esm: torch.nn.Module, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The embeddings of the distinct rows of a rotary ESM's input, and each token's row among them.

    With rotary positions the embedding of a token depends only on the token and (ESM's token dropout) on the
    number of mask tokens in its sequence, so ``B`` masked copies of one window hold a few dozen distinct rows.
    The arithmetic is ``transformers``' ``EsmEmbeddings`` (mask rows zeroed, scaled by ``(1 - 0.15 * 0.8) /
    (1 - masked fraction)``), element by element, so the rows are those it gives. ``None`` where the module
    does more (a norm on the embeddings, learned positions)."""
    emb = esm.embeddings
    if getattr(emb, "layer_norm", None) is not None or getattr(emb, "position_embedding_type", "") != "rotary":
        return None
    batch, length = ids.shape
    is_mask = ids == emb.mask_token_id
    # per sequence: its masked fraction, as EsmEmbeddings computes it (no padding: every length is L)
    ratio = is_mask.sum(-1).float() / torch.full((batch,), length, dtype=torch.long, device=ids.device)
    kinds, kind = torch.unique(ratio, return_inverse=True)
    key = ids * len(kinds) + kind[:, None]
    distinct, inverse = torch.unique(key.view(-1), return_inverse=True)
    tokens = distinct // len(kinds)
    x = emb.word_embeddings(tokens)
    if emb.token_dropout:
        x = x.masked_fill((tokens == emb.mask_token_id).unsqueeze(-1), 0.0)
        mask_ratio_train = 0.15 * 0.8
        x = (x * (1 - mask_ratio_train) / (1 - kinds[distinct % len(kinds)])[:, None]).to(x.dtype)
    return x, inverse


def _esm_site_logits(lm: torch.nn.Module, ids: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                     workspace: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """``lm(input_ids=ids).logits[rows, cols]`` for a ``transformers`` ESM masked LM (no padding), with the
    model's own weights, operations and their order, but less work:

    - query, key and value in one matrix product per block; no attention mask (there is no padding);
    - the rotary embedding written without ``transformers``' concatenation (the same arithmetic);
    - in the last block the output projection, residual and feed-forward only at the ``(rows, cols)`` read;
    - the full-size activations written into ``workspace`` buffers reused across blocks and batches (a fresh
      multi-megabyte tensor per operation costs its page faults again on every call: ~25% of the pass);
    - the blocks' GELU is ``torch.nn.functional.gelu`` (ESM's exact GELU as one kernel, see :func:`_fused_gelu`).

    The values are the model's own, bit for bit (``tests/zeroshot/test_score_mutations_cached.py``)."""
    esm = lm.esm
    config = lm.config
    layers = esm.encoder.layer
    n_heads = config.num_attention_heads
    width = config.hidden_size
    head_dim = width // n_heads
    half = head_dim // 2
    batch, length = ids.shape
    n = batch * length
    ws = {} if workspace is None else workspace

    def buffer(name: str, *shape: int) -> torch.Tensor:
        size = int(np.prod(shape))
        t = ws.get(name)
        if t is None or t.numel() < size or t.dtype != dtype or t.device != ids.device:
            t = ws[name] = torch.empty(size, dtype=dtype, device=ids.device)
        return t[:size].view(shape)

    def norm(module: torch.nn.LayerNorm, inp: torch.Tensor, name: str) -> torch.Tensor:
        out = buffer(name, *inp.shape)
        torch.ops.aten.native_layer_norm.out(inp, module.normalized_shape, module.weight, module.bias, module.eps,
                                             out0=out, out1=buffer("mean", len(inp), 1),
                                             out2=buffer("rstd", len(inp), 1))
        return out

    def linear(module: torch.nn.Linear, inp: torch.Tensor, name: str) -> torch.Tensor:
        return torch.addmm(module.bias, inp, module.weight.t(), out=buffer(name, len(inp), module.out_features))

    rotary = esm.rotary_embeddings if config.position_embedding_type == "rotary" else None
    shared = _shared_first_block(esm, ids) if rotary is not None else None
    if shared is None:
        x = esm.embeddings(input_ids=ids, attention_mask=torch.ones_like(ids))
        dtype = x.dtype
        x = x.view(n, width)
    else:  # each distinct (token, masks in its row) embedded once: the masked copies share almost every token
        x_u, inverse = shared
        dtype = x_u.dtype
        x = torch.index_select(x_u, 0, inverse, out=buffer("x", n, width))
    if rotary is not None:  # (1, L, 1, 1, head_dim): over batch, {query, key} and heads in a (B, L, 2, H, hd) view
        cos, sin = (t.view(1, length, 1, 1, head_dim)
                    for t in rotary(x, torch.arange(length, device=ids.device).unsqueeze(0)))

    last = len(layers) - 1
    for i, layer in enumerate(layers):
        attention = layer.attention
        self_attn = attention.self
        weight = torch.cat([self_attn.query.weight, self_attn.key.weight, self_attn.value.weight])
        bias = torch.cat([self_attn.query.bias, self_attn.key.bias, self_attn.value.bias])
        if i == 0 and shared is not None:  # the first block's norm and q/k/v (before rotary) per distinct row too
            # (at least 64 rows in the product, so the matrix kernel is the one a full batch gets, not a
            # matrix-vector path with its own rounding)
            rows_u = torch.zeros(max(64, len(x_u)), width, dtype=dtype, device=ids.device)
            rows_u[:len(x_u)] = attention.LayerNorm(x_u)
            qkv_u = torch.addmm(bias, rows_u, weight.t())[:len(x_u)]
            qkv = torch.index_select(qkv_u, 0, inverse, out=buffer("qkv", n, 3 * width))
        else:
            h = norm(attention.LayerNorm, x, "h")
            qkv = torch.addmm(bias, h, weight.t(), out=buffer("qkv", n, 3 * width))
        qkv = qkv.view(batch, length, 3, n_heads, head_dim)
        qkv[:, :, 0].mul_(self_attn.attention_head_size ** -0.5)
        if rotary is not None:  # t * cos + rotate_half(t) * sin on query and key, rotate_half(t) = cat(-t2, t1)
            qk = qkv[:, :, :2]
            turned = buffer("turned", batch, length, 2, n_heads, head_dim)
            torch.neg(qk[..., half:], out=turned[..., :half])
            turned[..., half:] = qk[..., :half]
            qk.mul_(cos).add_(turned.mul_(sin))
        q, k, v = (qkv[:, :, j].transpose(1, 2) for j in range(3))
        # every query, also in the last block: the attention kernel's result for one query depends on how many
        # it is given (its blocking), so fewer would not give the full pass's numbers
        context = torch.nn.functional.scaled_dot_product_attention(q, k, v, scale=1.0).transpose(1, 2)
        if i < last:
            attended = linear(attention.output.dense, context.reshape(n, width), "attended").add_(x)
            inner = linear(layer.intermediate.dense, norm(layer.LayerNorm, attended, "h"), "inner")
            torch._C._nn.gelu_(inner)
            x = linear(layer.output.dense, inner, "x").add_(attended)
        else:  # the output projection, residual and feed-forward only where read (all position-wise)
            x3 = x.view(batch, length, width)
            x = layer.feed_forward_chunk(attention.output(context[rows, cols].reshape(len(rows), width),
                                                          x3[rows, cols]))
    if esm.encoder.emb_layer_norm_after is not None:
        x = esm.encoder.emb_layer_norm_after(x)
    return lm.lm_head(x)


@contextmanager
def _last_block_at(body: torch.nn.Module, rows: torch.Tensor, cols: torch.Tensor) -> Iterator[bool]:
    """Within the block, the last transformer block's feed-forward (two thirds of its FLOPs) runs only on the
    ``(rows, cols)`` positions that are read: a forward hook on its attention keeps those rows, as a batch of
    ``K`` one-token sequences, so ``last_hidden_state`` comes out ``K x 1 x d``. Everything after the
    attention is position-wise (feed-forward, residuals, ESM's final norm), so the values are those of the
    full pass. Yields ``False`` (and changes nothing) for a model without ``encoder.layer[-1].attention``."""
    layers = getattr(getattr(body, "encoder", None), "layer", None)
    last = layers[-1] if isinstance(layers, torch.nn.ModuleList) and len(layers) else None
    attention = getattr(last, "attention", None)
    if attention is None or not hasattr(last, "feed_forward_chunk") or getattr(last, "add_cross_attention", False):
        yield False
        return

    def keep_read_rows(module: torch.nn.Module, args: Any, output: Any) -> Any:
        if isinstance(output, tuple):
            return (output[0][rows, cols].unsqueeze(1), *output[1:])
        return output[rows, cols].unsqueeze(1)

    handle = attention.register_forward_hook(keep_read_rows)
    try:
        yield True
    finally:
        handle.remove()


_MAX_TOKEN = 14  # bytes of the longest substitution read by the byte parser: residue, 12 digits, residue


def _byte_tables(vocab_id: dict[str, int], unk: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """256-entry tables over ASCII bytes: is a residue letter, the wild-type id (``vocab.get(c, unk)``, -1 for
    None) and the mutant id (-1 where the residue is missing from the vocabulary or is its unknown token)."""
    from sciptm.domains.protein.mutations import _RESIDUES

    is_res = np.zeros(256, dtype=bool)
    is_res[np.frombuffer(_RESIDUES.encode("ascii"), dtype=np.uint8)] = True
    wt_id = np.full(256, -1, dtype=np.int64)
    mut_id = np.full(256, -1, dtype=np.int64)
    for b in range(128):
        v = vocab_id.get(chr(b), unk)
        if v is not None:
            wt_id[b] = v
            if v != unk:
                mut_id[b] = v
    return is_res, wt_id, mut_id


def _parse_all(texts: list[Any], row_ids: Any, wt: str, offset: int, vocab_id: dict[str, int], unk: int | None):
    """Flatten the variants into per-site arrays (row, 0-based position, wt id, mutant id).

    Vectorized over the bytes of all strings joined once (no per-variant or per-token Python): the tokens'
    ``<residue><position><residue>`` shape, position, wild-type residue, vocabulary and repeated positions are
    checked with array operations (the digits read one column at a time over the tokens of each length).
    Rows that fail any check are re-read one by one by :func:`_parse_rows` for their exact error message
    (``row_ids``: a list, or a pandas Index, read only then).
    """
    n = len(texts)
    if not n:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty
    try:  # all strings (the usual case): one C-level join
        joined = "\n".join(texts)
        not_str = np.zeros(0, dtype=np.int64)
    except TypeError:
        is_str = np.fromiter((isinstance(v, str) for v in texts), dtype=bool, count=n)
        joined = "\n".join(v if ok else "" for v, ok in zip(texts, is_str))
        not_str = np.flatnonzero(~is_str)
    # the reference reads each string as text.upper().replace(" ", ""); non-ASCII bytes match nothing
    if not joined.isupper():
        joined = joined.upper()
    if " " in joined:
        joined = joined.replace(" ", "")
    raw = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)
    newline = raw == 10
    if int(newline.sum()) != n - 1:  # a newline inside a mutant string (always invalid): rows one by one
        return _parse_rows(texts, list(row_ids), wt, offset, vocab_id, unk)
    sep = np.flatnonzero(newline | (raw == 58))  # "\n" ends a row, ":" a token
    starts = np.concatenate([[0], sep + 1])
    lengths = np.concatenate([sep, [len(raw)]]) - starts
    tok_rows = np.concatenate([[0], np.cumsum(newline[sep])])
    n_tokens = np.bincount(tok_rows, minlength=n)
    padded = np.append(raw, np.uint8(0))  # byte 0 (no residue, digit or separator) stands for "no byte"
    present = lengths > 0
    first = np.where(present, padded[np.minimum(starts, len(raw))], 0)
    last = np.where(present, padded[np.maximum(starts + lengths - 1, 0)], 0)
    # wild-type rows: a single token "", "WT" or "_WT"
    single = n_tokens[tok_rows] == 1
    wt_token = single & (~present | ((lengths == 2) & (first == 87) & (last == 84))
                         | ((lengths == 3) & (first == 95) & (last == 84)
                            & (padded[np.minimum(starts + 1, len(raw))] == 87)))
    # the position: tokens of one length at a time (a few lengths), one digit column at a time
    number = np.zeros(len(starts), dtype=np.int64)
    digits_ok = np.zeros(len(starts), dtype=bool)
    for size in (np.flatnonzero(np.bincount(np.minimum(lengths, _MAX_TOKEN + 1))[3:_MAX_TOKEN + 1]) + 3).tolist():
        sel = np.flatnonzero(lengths == size)
        at = starts[sel]
        digit = raw[at + 1] - np.uint8(48)  # wraps around below "0": one test for 0-9
        ok_here = (digit >= 1) & (digit <= 9)  # [1-9][0-9]*
        value = digit.astype(np.int64)
        for k in range(2, size - 1):
            digit = raw[at + k] - np.uint8(48)
            ok_here &= digit <= 9
            value = value * 10 + digit
        number[sel], digits_ok[sel] = value, ok_here
    is_res, wt_table, mut_table = _byte_tables(vocab_id, unk)
    shape_ok = digits_ok & is_res[first] & is_res[last]
    pos = number - offset - 1
    wt_bytes = np.frombuffer(wt.encode("utf-8"), dtype=np.uint8) if wt.isascii() else None
    ok = shape_ok & (pos >= 0) & (pos < len(wt))
    if wt_bytes is not None:
        ok[ok] &= wt_bytes[pos[ok]] == first[ok]
    else:  # a non-ASCII wild type: compare characters
        ok[ok] &= np.array(list(wt), dtype="<U1")[pos[ok]] == first[ok].astype(np.uint8).view("S1").astype("<U1")
    mut_ids = mut_table[last]
    site = ~wt_token
    bad_tok = site & (~ok | (mut_ids < 0))
    # a position given twice in one row (a row's tokens are consecutive): compare tokens `lag` apart
    most = int(n_tokens.max())
    if most > 1:
        key = np.where(ok, pos, -1 - np.arange(len(pos)))  # a token that failed already matches nothing
        if most <= 16:
            for lag in range(1, most):
                same = (tok_rows[lag:] == tok_rows[:-lag]) & (key[lag:] == key[:-lag])
                bad_tok[lag:] |= same
        else:
            order = np.lexsort((key, tok_rows))
            same = (tok_rows[order][1:] == tok_rows[order][:-1]) & (key[order][1:] == key[order][:-1])
            bad_tok[order[1:][same]] = True
    bad_rows = np.zeros(n, dtype=bool)
    bad_rows[not_str] = True
    bad_rows[tok_rows[bad_tok]] = True
    bad = np.flatnonzero(bad_rows)
    if len(bad):
        ids = row_ids[bad].tolist() if hasattr(row_ids, "take") else [row_ids[i] for i in bad.tolist()]
        _parse_rows([texts[i] for i in bad.tolist()], ids, wt, offset, vocab_id, unk)  # raises, naming each row
        # not reached but for a case the byte checks do not cover (a position of more than 12 digits): all rows
        return _parse_rows(texts, list(row_ids), wt, offset, vocab_id, unk)
    keep = np.flatnonzero(site)
    return tok_rows[keep], pos[keep], wt_table[first[keep]], mut_ids[keep]


def _parse_rows(texts: list[Any], row_ids: list[Any], wt: str, offset: int, vocab_id: dict[str, int],
                unk: int | None):
    """Row-by-row parse and check (the reference behaviour; raises :class:`InvalidInputError` naming each bad row)."""
    rows, pos, wt_ids, mut_ids = [], [], [], []
    bad: list[InvalidRecord] = []
    for r, (rid, text) in enumerate(zip(row_ids, texts)):
        try:
            if not isinstance(text, str):
                raise ValueError(f"expected a mutation string, got {type(text).__name__}")
            mutations = _parse(text)
            check_mutations(wt, mutations, offset)
            for m in mutations:
                mid = vocab_id.get(m.mut, unk)
                if mid is None or mid == unk:
                    raise ValueError(f"mutation {m}: residue {m.mut!r} is not in the model's vocabulary")
                rows.append(r)
                pos.append(m.position - offset - 1)
                wt_ids.append(vocab_id.get(m.wt, unk))
                mut_ids.append(mid)
        except ValueError as exc:
            bad.append(InvalidRecord(rid, text, str(exc)))
    if bad:
        raise InvalidInputError(bad)
    as_int = lambda a: np.asarray(a, dtype=np.int64)
    return as_int(rows), as_int(pos), as_int(wt_ids), as_int(mut_ids)


@torch.inference_mode()
def site_log_probs(
    encoder: Any,
    wt: Any,
    positions: Sequence[int],
    method: Method = "masked-marginal",
    batch_size: int | None = None,
    window: int | None = None,
    progress: bool | None = None,
) -> np.ndarray:
    """Log-probabilities over the vocabulary at each 0-based ``positions`` of the wild type.

    Returns an array ``P x V`` (``V`` = vocabulary size); see :func:`score_mutations` for the methods.
    ``batch_size`` is the number of windows per forward pass (default: as many as fit the device's token
    budget, :func:`~sciptm.encoders.batching.default_max_tokens`).

    Example
    -------
    >>> import sciptm
    >>> enc = sciptm.Encoder.from_config(domain="protein", size="tiny")
    >>> site_log_probs(enc, "MKTAYIAK", [0, 3]).shape
    (2, 33)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    lm = _masked_lm(encoder)
    wt_text = encoder.domain.to_text(wt)
    prefix, suffix, res = _residue_ids_cached(encoder.tokenizer, wt_text)
    length = len(res)
    limit = _max_window(encoder, len(prefix) + len(suffix))
    if window is not None and not 1 <= window <= limit:
        raise ValueError(f"window must be between 1 and {limit} residues, not {window}")
    width = min(length, window or limit)
    positions = np.asarray(positions, dtype=np.int64)
    if positions.size and (positions.min() < 0 or positions.max() >= length):
        raise ValueError(f"positions must lie in 0..{length - 1}")
    mask_id = encoder.tokenizer.mask_token_id

    if method == "wt-marginal":
        # tiles overlapping by half; each site is read from the tile whose centre is nearest
        stride = max(width // 2, 1)
        starts = sorted(set(range(0, length - width + 1, stride)) | {length - width})
        centres = np.asarray(starts) + width / 2
        tile_of = np.abs(positions[:, None] - centres[None, :]).argmin(1) if positions.size else positions
        needed = sorted(set(tile_of.tolist()))
        inputs = [prefix + res[starts[t]:starts[t] + width].tolist() + suffix for t in needed]
        sites = [(needed.index(t), starts[t]) for t in tile_of.tolist()]
    else:
        site_starts = _window_start(positions, length, width)
        inputs = []
        for p, s in zip(positions.tolist(), site_starts.tolist()):
            chunk = res[s:s + width].copy()
            chunk[p - s] = mask_id
            inputs.append(prefix + chunk.tolist() + suffix)
        sites = [(i, int(s)) for i, s in enumerate(site_starts.tolist())]

    was_training = lm.training
    if was_training:  # (a no-op .eval() still walks every module)
        lm.eval()
    device = next(lm.parameters()).device
    # the (input row, column) each requested site is read from: only those columns go through the LM head
    want_row = np.array([row for row, _ in sites], dtype=np.int64)
    want_col = np.array([len(prefix) + p - start for p, (_, start) in zip(positions.tolist(), sites)], dtype=np.int64)
    if batch_size is None:
        from sciptm.encoders.batching import default_max_tokens

        batch_size = max(1, default_max_tokens(device) // max(1, len(inputs[0]) if inputs else 1))
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    n_batches = -(-len(inputs) // batch_size)
    show = progress if progress is not None else len(inputs) > 256
    emb = lm.get_output_embeddings() if hasattr(lm, "get_output_embeddings") else None
    vocab = int(emb.weight.shape[0]) if emb is not None else len(encoder.tokenizer)
    out = np.empty((len(positions), vocab), dtype=np.float32)
    # the lean ESM pass's buffers, kept between calls (up to _KEEP_WORKSPACE bytes): taken out while in use, so
    # two threads never share one
    workspace: dict[str, torch.Tensor] = _WORKSPACES.pop((device, id(lm)), {})
    try:
        with _fused_gelu(lm):
            for b in progress_bar(range(n_batches), "scoring sites", show, n_batches):
                lo, hi = b * batch_size, min(len(inputs), (b + 1) * batch_size)
                ks = np.flatnonzero((want_row >= lo) & (want_row < hi))
                if not len(ks):
                    continue
                out[ks] = _site_log_probs(lm, inputs[lo:hi], want_row[ks] - lo, want_col[ks], device,
                                          workspace).cpu().numpy()
    finally:
        if was_training:
            lm.train()
        if sum(t.numel() * t.element_size() for t in workspace.values()) <= _KEEP_WORKSPACE:
            _WORKSPACES.clear()  # one model's buffers at a time
            _WORKSPACES[(device, id(lm))] = workspace
    return out


def score_mutations(
    encoder: Any,
    wt: Any,
    mutants: str | Sequence[str] | Any,
    method: Method = "masked-marginal",
    offset: int = 0,
    batch_size: int | None = None,
    window: int | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Zero-shot scores of substitution variants (higher = more like the wild type's family).

    Parameters
    ----------
    encoder: a :class:`sciptm.Encoder` with a masked-LM head (``encoder.lm_model``), e.g. ESM-2.
    wt: wild-type sequence (``str``, ``Bio.Seq``, ``Bio.SeqRecord``).
    mutants: ProteinGym-style strings (``"A23G"``, ``"A23G:L40P"``; ``""``/``"WT"`` score 0).
    method: ``"masked-marginal"`` (one masked pass per distinct position) or ``"wt-marginal"``
        (one pass of the wild type).
    offset: numbering offset of the mutant strings (position ``p`` is ``wt[p - offset - 1]``).
    batch_size: sequences per forward pass (default: as many as fit the device's token budget).
    window: residues per pass (default: the model's maximum); longer wild types are windowed.
    progress: show a progress bar (default: when there are more than 256 passes).

    Returns
    -------
    DataFrame with columns ``mutant`` and ``score`` (sum over sites of ``log p(mut) - log p(wt)``),
    in input order (with the input's index when ``mutants`` is a Series).

    Raises
    ------
    InvalidInputError
        Mutant strings that cannot be parsed or do not match ``wt`` (each row named).
    ValueError
        The encoder has no masked-LM head, or an unknown ``method``.

    Example
    -------
    >>> import sciptm
    >>> enc = sciptm.Encoder.from_config(domain="protein", size="tiny")
    >>> df = score_mutations(enc, "MKTAYIAK", ["K2R", "K2R:A4G", "WT"], method="wt-marginal")
    >>> df["mutant"].tolist(), float(df["score"].iloc[-1])
    (['K2R', 'K2R:A4G', 'WT'], 0.0)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    _masked_lm(encoder)
    wt_text = encoder.domain.to_text(wt)
    if isinstance(mutants, pd.Series):  # the index is read only to name a bad row
        texts, row_ids = mutants.tolist(), mutants.index
    elif isinstance(mutants, list):
        texts, row_ids = mutants, range(len(mutants))
    else:
        texts, row_ids = as_list(mutants)
    vocab_id = encoder.tokenizer.get_vocab()
    rows, pos, wt_ids, mut_ids = _parse_all(texts, row_ids, wt_text, offset, vocab_id,
                                            encoder.tokenizer.unk_token_id)
    present = np.bincount(pos) > 0 if len(pos) else np.zeros(0, dtype=bool)
    positions = np.flatnonzero(present)  # sorted distinct positions, and each site's index among them
    site_index = (np.cumsum(present) - 1)[pos] if len(pos) else np.zeros(0, dtype=np.int64)
    table = site_log_probs(encoder, wt_text, positions, method, batch_size, window, progress)
    # log p(mut) - log p(wt) per (site, residue) once (every variant at a site shares its wild-type residue),
    # then one gather per substitution and one sum per variant
    wt_of_site = np.zeros(len(positions), dtype=np.int64)
    wt_of_site[site_index] = wt_ids
    delta = table - table[np.arange(len(positions)), wt_of_site][:, None]
    scores = np.bincount(rows, weights=delta.ravel()[site_index * delta.shape[1] + mut_ids].astype(np.float64),
                         minlength=len(texts))
    if isinstance(mutants, pd.Series):  # the column as given (no per-row conversion), with the input's index
        column = mutants.array if mutants.dtype == _STR_DTYPE else texts
        return pd.DataFrame({"mutant": column, "score": scores}, index=mutants.index, copy=not _COPY_ON_WRITE)
    return pd.DataFrame({"mutant": texts, "score": scores})


__all__ = ["METHODS", "SCORING_METHODS", "score_mutations", "site_log_probs"]
