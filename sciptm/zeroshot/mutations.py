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
from sciptm.errors import InvalidInputError, InvalidRecord
from sciptm.progress import progress_bar
from sciptm.domains.protein.mutations import _parse, check_mutations, parse_table

Method = Literal["masked-marginal", "wt-marginal"]
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
                    device: torch.device) -> torch.Tensor:
    """Log-probabilities ``K x V`` at the ``(row_idx, col_idx)`` positions of one batch of windows.

    The encoder runs on every position, but the LM head (dense + activation + norm + vocabulary projection)
    only on the K positions read, when the model exposes its body and ``lm_head`` (ESM, RoBERTa); otherwise
    the full logits are computed and indexed.
    """
    ids = torch.tensor(rows, dtype=torch.long, device=device)
    mask = torch.ones_like(ids)
    r = torch.as_tensor(row_idx, device=device)
    c = torch.as_tensor(col_idx, device=device)
    head = getattr(lm, "lm_head", None)
    body = getattr(lm, "base_model", None)
    if head is not None and body is not None and body is not lm:
        with _last_block_at(body, r, c) as picked:
            hidden = body(input_ids=ids, attention_mask=mask).last_hidden_state
        logits = head(hidden[:, 0] if picked else hidden[r, c])
    else:
        logits = lm(input_ids=ids, attention_mask=mask).logits[r, c]
    return torch.log_softmax(logits.float(), dim=-1)


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


def _parse_all(texts: list[Any], row_ids: list[Any], wt: str, offset: int, vocab_id: dict[str, int], unk: int | None):
    """Flatten the variants into per-site arrays (row, 0-based position, wt id, mutant id).

    Vectorized (:func:`~sciptm.domains.protein.mutations.parse_table`: each distinct substitution parsed once);
    rows that fail a check, or name a residue outside the vocabulary, are re-read one by one by
    :func:`_parse_rows` for their exact error message.
    """
    rows, pos, wt_res, mut_res, bad = parse_table(texts, wt, offset)

    def as_ids(residues: np.ndarray) -> np.ndarray:
        if not len(residues):
            return np.zeros(0, dtype=np.int64)
        # one code point per 1-character residue: a lookup table instead of sorting strings
        points = np.ascontiguousarray(residues, dtype="<U1").view(np.uint32).astype(np.int64)
        table = np.full(int(points.max()) + 1, -1, dtype=np.int64)
        for cp in np.flatnonzero(np.bincount(points)).tolist():
            c = chr(cp)
            table[cp] = -1 if vocab_id.get(c, unk) in (None, unk) else vocab_id[c]
        return table[points]

    wt_ids, mut_ids = as_ids(wt_res), as_ids(mut_res)
    if (mut_ids < 0).any():
        bad = np.union1d(bad, rows[mut_ids < 0])
    if len(bad):
        _parse_rows([texts[i] for i in bad], [row_ids[i] for i in bad], wt, offset, vocab_id, unk)
        raise AssertionError(f"rows {bad[:5].tolist()} failed the vectorized check but not the row-wise one")
    return rows.astype(np.int64), pos.astype(np.int64), wt_ids, mut_ids


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
    as_int = lambda a: np.asarray(a, dtype=np.int64)  # noqa: E731
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
    prefix, suffix, res = _residue_ids(encoder.tokenizer, wt_text)
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
    try:
        with _fused_gelu(lm):
            for b in progress_bar(range(n_batches), "scoring sites", show, n_batches):
                lo, hi = b * batch_size, min(len(inputs), (b + 1) * batch_size)
                ks = np.flatnonzero((want_row >= lo) & (want_row < hi))
                if not len(ks):
                    continue
                out[ks] = _site_log_probs(lm, inputs[lo:hi], want_row[ks] - lo, want_col[ks], device).cpu().numpy()
    finally:
        lm.train(was_training)
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
    texts, row_ids = as_list(mutants)
    vocab_id = encoder.tokenizer.get_vocab()
    rows, pos, wt_ids, mut_ids = _parse_all(texts, row_ids, wt_text, offset, vocab_id,
                                            encoder.tokenizer.unk_token_id)
    present = np.bincount(pos) > 0 if len(pos) else np.zeros(0, dtype=bool)
    positions = np.flatnonzero(present)  # sorted distinct positions, and each site's index among them
    site_index = (np.cumsum(present) - 1)[pos] if len(pos) else np.zeros(0, dtype=np.int64)
    table = site_log_probs(encoder, wt_text, positions, method, batch_size, window, progress)
    scores = np.bincount(rows, weights=(table[site_index, mut_ids] - table[site_index, wt_ids]).astype(np.float64),
                         minlength=len(texts))
    index = mutants.index if isinstance(mutants, pd.Series) else None
    return pd.DataFrame({"mutant": texts, "score": scores}, index=index)


__all__ = ["METHODS", "SCORING_METHODS", "score_mutations", "site_log_probs"]
