"""Per-token attributions of a fitted :class:`~sciptm.PropertyPredictor` (or a bare encoder).

Two methods:

* ``integrated_gradients`` (Sundararajan et al. 2017) over the input token embeddings, i.e. the
  output of the model's word-embedding layer. The path runs from a baseline (every non-special
  token replaced by the ``[PAD]``/``<pad>`` embedding, the ``[MASK]`` embedding or zeros; special
  tokens and position embeddings unchanged) to the input, integrated with Gauss-Legendre
  quadrature. A token's score is ``(x - x') . mean gradient``; scores sum to
  ``output - baseline_output`` (completeness), reported per input as ``delta``. Inputs go through
  the same path as ``predict``: domain adapter, tokenizer, side-features (held fixed), encoder,
  pooling, head. The explained quantity is the logit (classification) or the prediction in target
  units (regression).
* ``attention_rollout`` (Abnar & Zuidema 2020): head-averaged attention plus identity, row
  normalised and multiplied through the layers; the score of token ``j`` is the rollout weight that
  the pooled vector takes from it (mean over real tokens, or the first token for ``cls`` pooling).
  Not specific to an output; non-negative.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from sciptm._util.items import as_list
from sciptm.domains.base import Errors
from sciptm.encoders import Encoder
from sciptm.encoders.encoder import pool
from sciptm.heads.tasks import MulticlassTask
from sciptm.interpret.result import TokenAttribution

Method = Literal["integrated_gradients", "attention_rollout"]
Baseline = Literal["pad", "mask", "zeros"]
METHODS = ("integrated_gradients", "attention_rollout")
BASELINES = ("pad", "mask", "zeros")


def attribute(
    model: Any,
    inputs: Any,
    method: Method = "integrated_gradients",
    target: str | float | Callable[[torch.Tensor], torch.Tensor] | None = None,
    steps: int = 32,
    baseline: Baseline = "pad",
    batch_size: int = 16,
    max_rows: int = 256,
    errors: Errors = "raise",
) -> list[TokenAttribution]:
    """Per-token attributions for each valid input, in input order.

    Parameters
    ----------
    model: a fitted :class:`~sciptm.PropertyPredictor`, or an :class:`~sciptm.Encoder` (attention
        rollout; integrated gradients then needs ``target`` as a callable ``pooled B x d -> B``).
    inputs: one item or a list/Series of items (SMILES, sequences, structures...).
    method: ``"integrated_gradients"`` (default) or ``"attention_rollout"``.
    target: which output to explain: ``None`` (the only target; the predicted class for
        multiclass), a target index or name (multitask), or a class label (multiclass).
    steps: quadrature points along the integrated-gradients path.
    baseline: ``"pad"`` (default), ``"mask"`` or ``"zeros"`` embedding for the non-special tokens.
    batch_size: inputs per batch; ``max_rows``: at most this many path points per forward pass.
    errors: ``"raise"`` or ``"skip"`` invalid inputs (skipped ones are left out of the result).

    Example
    -------
    >>> import sciptm
    >>> from sciptm.interpret import attribute
    >>> enc = sciptm.Encoder.from_config(domain="smiles", size={"layers": 1, "hidden": 32, "heads": 2, "ffn": 64})
    >>> model = sciptm.PropertyPredictor(enc, task="regression", epochs=1, head_hidden=16)
    >>> model = model.fit(["CCO", "CCCO", "c1ccccc1", "CCN"], [0.1, 0.2, 0.9, 0.3])
    >>> a = attribute(model, "CCO", steps=16)[0]
    >>> a.tokens, abs(a.delta) < 1e-3
    (['[CLS]', 'C', 'C', 'O', '[SEP]'], True)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, not {baseline!r}")
    if steps < 1 or batch_size < 1 or max_rows < 1:
        raise ValueError("steps, batch_size and max_rows must be positive")
    explainer = _Explainer.build(model, target, method)
    prepared = explainer.encoder.prepare(inputs, errors=errors)
    values, _ = as_list(inputs)
    items = [v for v, ok in zip(values, prepared.valid) if ok]
    texts = prepared.texts
    if not texts:
        return []
    features = explainer.features(texts)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding per batch
    results: list[TokenAttribution | None] = [None] * len(texts)
    with explainer.session(rollout=method == "attention_rollout"):
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            batch = explainer.tokenize([texts[i] for i in rows])
            feats = None if features is None else torch.as_tensor(features[rows], dtype=torch.float32)
            if method == "integrated_gradients":
                scores, out, base_out, tgt = explainer.integrated_gradients(batch, feats, steps, baseline, max_rows)
            else:
                scores, out, tgt = explainer.rollout(batch, feats)
                base_out = None
            for k, i in enumerate(rows):
                results[i] = explainer.record(items[i], texts[i], batch, k, scores[k], method,
                                              None if out is None else out[k],
                                              None if base_out is None else base_out[k],
                                              None if tgt is None else tgt[k])
    return [r for r in results if r is not None]


class _Explainer:
    """What ``attribute`` needs from a predictor or an encoder: modules, tokenizer, target selection."""

    def __init__(self, encoder: Encoder, encoder_model: nn.Module, head_forward: Callable | None,
                 select: Callable[..., tuple[torch.Tensor, list]] | None,
                 to_prediction: Callable[[torch.Tensor, list], np.ndarray] | None,
                 features: Callable[[list[str]], np.ndarray | None], modules: list[nn.Module]):
        self.encoder = encoder
        self.encoder_model = encoder_model
        self.head_forward = head_forward
        self.select = select
        self.to_prediction = to_prediction
        self.features = features
        self.modules = modules
        self.embedding = encoder_model.get_input_embeddings()
        self._override: torch.Tensor | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def build(cls, model: Any, target: Any, method: str) -> _Explainer:
        from sciptm.predictor import PropertyPredictor

        if isinstance(model, PropertyPredictor):
            return cls._from_predictor(model, target)
        if isinstance(model, Encoder):
            if method == "integrated_gradients" and not callable(target):
                raise TypeError("integrated gradients on a bare Encoder needs target=callable(pooled B x d) -> B; "
                                "pass a fitted PropertyPredictor to explain its predictions")
            enc_model = model.model

            def head(ids, mask, feats):
                hidden = enc_model(input_ids=ids, attention_mask=mask).last_hidden_state
                return pool(hidden, mask, model.pooling)

            def select(out, labels=None):
                return target(out).reshape(-1), [None] * out.shape[0]

            return cls(model, enc_model, head, select if callable(target) else None, None,
                       lambda texts: None, [enc_model])
        raise TypeError(f"expected a fitted PropertyPredictor or an Encoder, got {type(model).__name__}")

    @classmethod
    def _from_predictor(cls, predictor: Any, target: Any) -> _Explainer:
        module = predictor._check_fitted()
        state, task = predictor.state, predictor.task_
        names = list(state.get("target_names", []))
        n_targets = int(state.get("n_targets", 1))

        def column(t: Any) -> int:
            if t is None:
                if n_targets > 1:
                    raise ValueError(f"this model predicts {n_targets} targets {names}: pass target= a name or index")
                return 0
            if isinstance(t, str):
                if t not in names:
                    raise ValueError(f"unknown target {t!r}; targets: {names}")
                return names.index(t)
            if not 0 <= int(t) < n_targets:
                raise ValueError(f"target index {t} out of range for {n_targets} targets")
            return int(t)

        if isinstance(task, MulticlassTask):
            classes = list(state["classes"])
            if target is not None and float(target) not in classes:
                raise ValueError(f"unknown class {target!r}; classes: {classes}")
            fixed = None if target is None else classes.index(float(target))

            def select(out, labels=None):
                if labels is not None:  # the classes chosen at the input, kept along the path
                    idx = torch.tensor([classes.index(c) for c in labels], device=out.device)
                elif fixed is None:
                    idx = out.argmax(1)
                else:
                    idx = torch.full((out.shape[0],), fixed, dtype=torch.long, device=out.device)
                return out.gather(1, idx[:, None])[:, 0], [classes[int(i)] for i in idx]

            def to_prediction(out, labels):
                probs = task.activate(out)
                return np.array([float(probs[k, classes.index(c)]) for k, c in enumerate(labels)])
        else:
            col = column(target)
            label = names[col] if names else col
            scale = float(state["target_std"][col]) if task.standardizes_targets else 1.0
            shift = float(state["target_mean"][col]) if task.standardizes_targets else 0.0

            def select(out, labels=None):
                return out[:, col] * scale, [label] * out.shape[0]

            def to_prediction(out, labels):
                if task.standardizes_targets:
                    return (out[:, col] * scale + shift).numpy()
                return task.activate(out[:, col]).numpy()

        def head(ids, mask, feats):
            return module(ids, mask, feats)

        return cls(predictor.encoder_, module.encoder, head, select, to_prediction,
                   lambda texts: predictor._features(texts), [module])

    # ------------------------------------------------------------------ model state
    @contextmanager
    def session(self, rollout: bool):
        """Eval mode, parameter gradients off, the embedding hook installed; all restored afterwards."""
        params = [p for m in self.modules for p in m.parameters()]
        flags = [p.requires_grad for p in params]
        training = [m.training for m in self.modules]
        attn = getattr(self.encoder_model.config, "_attn_implementation", None)
        handle = self.embedding.register_forward_hook(self._hook)
        try:
            for m in self.modules:
                m.eval()
            for p in params:
                p.requires_grad_(False)
            if rollout and attn not in (None, "eager"):
                self.encoder_model.set_attn_implementation("eager")
            yield
        finally:
            handle.remove()
            for p, f in zip(params, flags):
                p.requires_grad_(f)
            for m, t in zip(self.modules, training):
                m.train(t)
            if rollout and attn not in (None, "eager"):
                self.encoder_model.set_attn_implementation(attn)

    def _hook(self, module: nn.Module, args: Any, output: torch.Tensor) -> torch.Tensor:
        return output if self._override is None else self._override

    def tokenize(self, texts: list[str]) -> dict[str, Any]:
        enc = self.encoder.tokenizer(texts, padding=True, truncation=True, return_tensors="pt",
                                     return_token_type_ids=False, return_offsets_mapping=True,
                                     return_special_tokens_mask=True)
        device = self.encoder.device
        return {"input_ids": enc["input_ids"].to(device), "attention_mask": enc["attention_mask"].to(device),
                "special": enc["special_tokens_mask"].bool(), "offsets": enc["offset_mapping"]}

    # ------------------------------------------------------------------ methods
    def integrated_gradients(self, batch: dict[str, Any], feats: torch.Tensor | None, steps: int, baseline: str,
                             max_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        if feats is not None:
            feats = feats.to(ids.device)
        with torch.no_grad():
            x = self.embedding(ids)
            base = self._baseline(ids, x, baseline)
            keep = (batch["special"].to(ids.device) | (mask == 0))[..., None]
            base = torch.where(keep, x, base)  # special tokens and padding stay as they are
            both = self._forward(torch.cat([ids, ids]), torch.cat([mask, mask]),
                                 None if feats is None else torch.cat([feats, feats]), torch.cat([x, base]))
            out_x, labels = self.select(both[: len(ids)])
            out_base, _ = self.select(both[len(ids):], labels)
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        alphas = torch.as_tensor((nodes + 1) / 2, dtype=x.dtype, device=x.device)
        weights = torch.as_tensor(weights / 2, dtype=x.dtype, device=x.device)
        diff = x - base
        grad_sum = torch.zeros_like(x)
        per = max(1, max_rows // len(ids))
        for s in range(0, steps, per):
            a, w = alphas[s:s + per], weights[s:s + per]
            m = len(a)
            path = (base[None] + a[:, None, None, None] * diff[None]).reshape(m * len(ids), *x.shape[1:])
            path.requires_grad_(True)
            out = self._forward(ids.repeat(m, 1), mask.repeat(m, 1), None if feats is None else feats.repeat(m, 1),
                                path)
            value, _ = self.select(out, labels * m)
            (grad,) = torch.autograd.grad(value.sum(), path)
            grad_sum += (grad.reshape(m, *x.shape) * w[:, None, None, None]).sum(0)
        scores = (diff * grad_sum).sum(-1).masked_fill(mask == 0, 0.0)
        return (scores.detach().cpu().numpy(), out_x.cpu().numpy(), out_base.cpu().numpy(),
                self._predictions(both[: len(ids)], labels))

    def _predictions(self, out: torch.Tensor, labels: list) -> list:
        preds = None if self.to_prediction is None else self.to_prediction(out.detach().cpu(), labels)
        return [(labels[k], None if preds is None else float(preds[k])) for k in range(len(labels))]

    @torch.no_grad()
    def rollout(self, batch: dict[str, Any], feats: torch.Tensor | None) -> tuple[np.ndarray, None, list | None]:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        out = self.encoder_model(input_ids=ids, attention_mask=mask, output_attentions=True)
        if not out.attentions:
            raise RuntimeError(f"{type(self.encoder_model).__name__} returned no attention weights")
        n_tok = ids.shape[1]
        eye = torch.eye(n_tok, dtype=out.attentions[0].dtype, device=ids.device)
        roll = eye.expand(len(ids), n_tok, n_tok)
        for att in out.attentions:
            a = att.mean(1) + eye
            a = a / a.sum(-1, keepdim=True)
            roll = a @ roll
        m = mask.to(roll.dtype)
        if self.encoder.pooling == "cls":
            scores = roll[:, 0]
        else:
            scores = (roll * m[:, :, None]).sum(1) / m.sum(1, keepdim=True)
        scores = scores.masked_fill(mask == 0, 0.0)
        preds = None
        if self.select is not None and self.head_forward is not None:
            full = self._forward(ids, mask, None if feats is None else feats.to(ids.device), None)
            _, labels = self.select(full)
            preds = self._predictions(full, labels)
        return scores.cpu().numpy(), None, preds

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor, feats: torch.Tensor | None,
                 embeds: torch.Tensor | None) -> torch.Tensor:
        self._override = embeds
        try:
            return self.head_forward(ids, mask, feats)
        finally:
            self._override = None

    def _baseline(self, ids: torch.Tensor, x: torch.Tensor, kind: str) -> torch.Tensor:
        if kind == "zeros":
            return torch.zeros_like(x)
        tok = self.encoder.tokenizer
        tid = tok.pad_token_id if kind == "pad" else tok.mask_token_id
        if tid is None:
            raise ValueError(f"the tokenizer has no {kind} token; use baseline='zeros'")
        return self.embedding(torch.full_like(ids, tid))

    # ------------------------------------------------------------------ output
    def record(self, item: Any, text: str, batch: dict[str, Any], k: int, scores: np.ndarray, method: str,
               out: float | None, base_out: float | None, target: tuple | None) -> TokenAttribution:
        n = int(batch["attention_mask"][k].sum())
        ids = batch["input_ids"][k, :n].tolist()
        special = batch["special"][k, :n].cpu().numpy().astype(bool)
        spans = [(int(s), int(e)) for s, e in batch["offsets"][k, :n].tolist()]
        spans = [(0, 0) if sp else se for sp, se in zip(special, spans)]
        toks = self.encoder.tokenizer.convert_ids_to_tokens(ids)
        tokens = [t if sp else text[s:e] for t, sp, (s, e) in zip(toks, special, spans)]
        label, pred = (None, None) if target is None else target
        return TokenAttribution(
            input=item, text=text, tokens=tokens, spans=spans, special=special,
            scores=np.asarray(scores[:n], dtype=float), method=method, domain=self.encoder.domain.name,
            prediction=pred, output=None if out is None else float(out),
            baseline_output=None if base_out is None else float(base_out), target=label,
        )
