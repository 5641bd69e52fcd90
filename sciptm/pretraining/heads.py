"""The multi-objective model: a language model plus a regression head on its mean-pooled embedding.

:class:`MultiObjectiveModel` wraps the ``transformers`` LM (``RobertaForMaskedLM``...) and a
:class:`RegressionHead`; one forward pass over a batch gives every loss:

- ``lm``: the model's own masked- (or causal-) LM cross-entropy over the batch's ``labels``;
- one masked mean-squared error per regression objective (``descriptors``, ``formation_energy``) between the
  head's output on the mean-pooled last hidden states (the pooling :meth:`sciptm.Encoder.embed` uses) and
  the standardized targets; missing (NaN) targets are left out.

The total is ``sum(weight * loss)``. When the LM weight is > 0 both use the same (masked) inputs, one forward
pass; with LM weight 0 the collator leaves the inputs unmasked and the LM loss is not computed.

The head is saved next to the encoder as ``regression_head.safetensors`` + ``regression_head.json`` (target
names and standardization): ``transformers.AutoModel`` and :meth:`sciptm.Encoder.from_pretrained` ignore
both files.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from sciptm.pretraining.collate import IGNORE

HEAD_WEIGHTS = "regression_head.safetensors"
HEAD_META = "regression_head.json"


class RegressionHead(torch.nn.Module):
    """``Linear -> GELU -> Linear`` from the pooled embedding to the standardized targets; ``hidden=0`` gives a
    single linear layer (the pooled embedding must then encode the targets linearly, as frozen linear probes
    read it)."""

    def __init__(self, hidden_size: int, n_targets: int, hidden: int | None = None, dropout: float = 0.1):
        super().__init__()
        width = int(hidden_size if hidden is None else hidden)
        if width == 0:
            self.net = torch.nn.Sequential(torch.nn.Dropout(dropout), torch.nn.Linear(hidden_size, n_targets))
        else:
            self.net = torch.nn.Sequential(torch.nn.Dropout(dropout), torch.nn.Linear(hidden_size, width),
                                           torch.nn.GELU(), torch.nn.Linear(width, n_targets))
        self.hidden_size, self.n_targets, self.width = hidden_size, n_targets, width

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.net(pooled)


def masked_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the finite entries of ``target`` (0 when there are none)."""
    finite = torch.isfinite(target)
    if not bool(finite.any()):
        return pred.sum() * 0.0
    diff = (pred.float() - torch.nan_to_num(target.float()))[finite]
    return (diff * diff).mean()


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


class MultiObjectiveModel(torch.nn.Module):
    """LM + regression head; ``forward(batch)`` returns ``{"loss": total, "lm": ..., <objective>: ...}``.

    Parameters
    ----------
    lm_model: the ``transformers`` model with its LM head.
    weights: ``{"lm": w, <objective>: w}``.
    slices: the target columns of each regression objective (``{}``: LM only, no head).
    head: the regression head (``None`` when ``slices`` is empty).
    objective: ``"mlm"`` or ``"clm"`` (for the LM accuracy in :meth:`evaluate_batch`).
    """

    def __init__(self, lm_model: torch.nn.Module, weights: dict[str, float], slices: dict[str, slice],
                 head: RegressionHead | None, objective: str = "mlm"):
        super().__init__()
        self.lm_model = lm_model
        self.head = head
        self.weights = dict(weights)
        self.slices = dict(slices)
        self.objective = objective
        if self.slices and head is None:
            raise ValueError("regression objectives need a head")

    @property
    def uses_lm(self) -> bool:
        return self.weights.get("lm", 0.0) > 0

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor | None = None,
                targets: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        need_hidden = bool(self.slices)
        if self.training and self.objective == "mlm" and self.uses_lm and labels is not None:
            split = split_lm(self.lm_model)
            if split is not None:  # the LM head runs only on the masked positions (identical loss)
                return self._forward_masked(*split, input_ids, attention_mask, labels, targets)
        kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.uses_lm and labels is not None:
            kwargs["labels"] = labels
        if need_hidden:
            kwargs["output_hidden_states"] = True
        out = self.lm_model(**kwargs)
        losses: dict[str, torch.Tensor] = {}
        total = None
        if "labels" in kwargs:
            losses["lm"] = out.loss
            total = self.weights["lm"] * out.loss
        if need_hidden:
            if targets is None:
                raise ValueError("regression objectives need batch['targets']")
            pooled = mean_pool(out.hidden_states[-1], attention_mask)
            pred = self.head(pooled)
            for name, cols in self.slices.items():
                loss = masked_mse(pred[:, cols], targets[:, cols])
                losses[name] = loss
                total = self.weights[name] * loss if total is None else total + self.weights[name] * loss
            losses["_pred"] = pred
        losses["_logits"] = out.logits
        losses["loss"] = total
        return losses

    def _forward_masked(self, body: torch.nn.Module, head: torch.nn.Module, input_ids: torch.Tensor,
                        attention_mask: torch.Tensor, labels: torch.Tensor,
                        targets: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Training forward of a masked LM: the body on every position, the LM head (dense, norm, vocabulary
        projection) only on the ``labels != -100`` positions. ``_logits`` holds those ``K x V`` logits."""
        hidden = body(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        chosen = labels != IGNORE
        logits = head(hidden[chosen])
        lm_loss = torch.nn.functional.cross_entropy(logits.float(), labels[chosen])
        losses: dict[str, torch.Tensor] = {"lm": lm_loss}
        total = self.weights["lm"] * lm_loss
        if self.slices:
            if targets is None:
                raise ValueError("regression objectives need batch['targets']")
            pred = self.head(mean_pool(hidden, attention_mask))
            for name, cols in self.slices.items():
                loss = masked_mse(pred[:, cols], targets[:, cols])
                losses[name] = loss
                total = total + self.weights[name] * loss
            losses["_pred"] = pred
        losses["_logits"] = logits
        losses["loss"] = total
        return losses


def split_lm(lm_model: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module] | None:
    """``(body, lm_head)`` of a ``transformers`` masked LM whose head maps hidden states position by position
    (RoBERTa/ESM ``lm_head``, BERT ``cls``), or ``None`` when the model does not expose them."""
    body = getattr(lm_model, "base_model", None)
    head = getattr(lm_model, "lm_head", None) or getattr(lm_model, "cls", None)
    if body is None or body is lm_model or head is None:
        return None
    return body, head


@torch.no_grad()
def evaluate_objectives(model: MultiObjectiveModel, batches: list[dict[str, torch.Tensor]], device: torch.device,
                        autocast) -> dict[str, float]:
    """Validation scores: LM cross-entropy / token accuracy (``loss`` / ``accuracy``, when the batches hold
    LM targets), per-objective MSE and mean per-column R² of each regression objective, and ``total``."""
    was_training = model.training
    model.eval()
    total, correct, count = 0.0, 0, 0
    sq: dict[str, float] = {name: 0.0 for name in model.slices}
    n_reg: dict[str, int] = {name: 0 for name in model.slices}
    preds, trues = [], []
    for batch in batches:
        ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        labels = batch["labels"].to(device)
        targets = batch["targets"].to(device) if "targets" in batch else None
        with autocast():
            out = model(ids, mask, labels=None, targets=targets)
        logits = out["_logits"]
        if model.objective == "clm":
            logits, labels = logits[:, :-1], labels[:, 1:]
        chosen = labels != IGNORE
        if bool(chosen.any()):
            picked, target = logits[chosen].float(), labels[chosen]
            total += float(torch.nn.functional.cross_entropy(picked, target, reduction="sum"))
            correct += int((picked.argmax(-1) == target).sum())
            count += int(chosen.sum())
        if model.slices:
            pred = out["_pred"].float()
            preds.append(pred.cpu())
            trues.append(targets.float().cpu())
            for name, cols in model.slices.items():
                t = targets[:, cols]
                finite = torch.isfinite(t)
                d = (pred[:, cols] - torch.nan_to_num(t))[finite]
                sq[name] += float((d * d).sum())
                n_reg[name] += int(finite.sum())
    model.train(was_training)
    scores: dict[str, float] = {}
    weighted = 0.0
    if count:
        scores.update({"loss": total / count, "accuracy": correct / count, "tokens": count})
        weighted += model.weights.get("lm", 0.0) * scores["loss"] if model.uses_lm else 0.0
    if model.slices:
        pred_all, true_all = torch.cat(preds), torch.cat(trues)
        for name, cols in model.slices.items():
            mse = sq[name] / max(n_reg[name], 1)
            scores[f"{name}_mse"] = mse
            scores[f"{name}_r2"] = _mean_r2(pred_all[:, cols], true_all[:, cols])
            weighted += model.weights[name] * mse
    if not count and not model.slices:
        raise ValueError("the validation batches hold no target tokens")
    scores["total"] = weighted
    return scores


def _mean_r2(pred: torch.Tensor, true: torch.Tensor) -> float:
    """Mean per-column R² over the columns that vary on these rows."""
    r2 = []
    for j in range(true.shape[1]):
        t, p = true[:, j], pred[:, j]
        ok = torch.isfinite(t)
        if int(ok.sum()) < 2:
            continue
        t, p = t[ok], p[ok]
        var = float(((t - t.mean()) ** 2).sum())
        if var <= 1e-3 * len(t):  # (standardized units) nearly constant on these rows: R² is meaningless
            continue
        r2.append(1.0 - float(((t - p) ** 2).sum()) / var)
    return float(sum(r2) / len(r2)) if r2 else float("nan")


def save_head(folder: Path, head: RegressionHead, meta: dict[str, Any]) -> None:
    """``regression_head.safetensors`` (fp32) + ``regression_head.json`` (shape, targets, standardization)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().float().cpu().contiguous() for k, v in head.state_dict().items()},
              str(folder / HEAD_WEIGHTS))
    info = {"hidden_size": head.hidden_size, "n_targets": head.n_targets, "width": head.width, **meta}
    (folder / HEAD_META).write_text(json.dumps(info, indent=1))


def load_head(folder: Path) -> tuple[RegressionHead, dict[str, Any]]:
    """The head saved by :func:`save_head` and its metadata."""
    from safetensors.torch import load_file

    info = json.loads((folder / HEAD_META).read_text())
    head = RegressionHead(info["hidden_size"], info["n_targets"], info["width"])
    head.load_state_dict(load_file(str(folder / HEAD_WEIGHTS)))
    return head, info


__all__ = ["HEAD_META", "HEAD_WEIGHTS", "MultiObjectiveModel", "RegressionHead", "evaluate_objectives", "load_head",
           "masked_mse", "save_head"]
