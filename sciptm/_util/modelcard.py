"""Model cards for ``save_pretrained`` folders, ready for ``huggingface_hub`` (``push_to_hub``/``upload_folder``).

Public face: :mod:`sciptm.interop.hub`. This module imports nothing from sciptm (objects are duck-typed), so the
encoders and the predictor can both use it.

Every folder sciptm saves (an :class:`~sciptm.Encoder`, a fitted :class:`~sciptm.PropertyPredictor`) gets a
``README.md`` whose YAML front matter is the Hub's model-card metadata: ``library_name``, ``tags``, ``license``,
``datasets``, ``metrics`` (and ``model-index`` results when the predictor has a validation score). Pass
``card={...}`` to override or add keys (``license``, ``datasets``, ``base_model``...). The body says what the
model is and how to load it. No network is used here; ``huggingface_hub.metadata_load`` reads the front matter
back.

>>> print(front_matter({"library_name": "transformers", "tags": ["sciptm"], "license": "mit"}), end="")
---
library_name: transformers
tags:
- sciptm
license: mit
---
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import yaml

#: sciptm's own licence, the default for the weights it trains (override with ``card={"license": ...}``)
DEFAULT_LICENSE = "mit"
_ORDER = ("library_name", "pipeline_tag", "tags", "license", "base_model", "datasets", "metrics", "model-index")


def front_matter(meta: dict[str, Any]) -> str:
    """YAML front matter (``---`` ... ``---``) with the Hub's keys first, in their usual order."""
    ordered = {k: meta[k] for k in _ORDER if k in meta and meta[k] is not None and meta[k] != ""}
    ordered.update({k: v for k, v in meta.items() if k not in ordered and v is not None and v != ""})
    return "---\n" + yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True) + "---\n"


def _merge(base: dict[str, Any], card: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(base)
    for key, value in (card or {}).items():
        if key == "tags":
            out["tags"] = list(dict.fromkeys([*out.get("tags", []), *value]))
        else:
            out[key] = value
    return out


def encoder_card(encoder: Any, card: dict[str, Any] | None = None) -> str:
    """The model card of an encoder folder."""
    c = encoder.model.config
    domain = encoder.domain.name
    meta = _merge({"library_name": "transformers", "pipeline_tag": "feature-extraction",
                   "tags": ["sciptm", domain, c.model_type], "license": DEFAULT_LICENSE, "datasets": [],
                   "metrics": []}, card)
    body = (f"# sciptm {domain} encoder\n\n"
            f"- architecture: `{c.model_type}` ({encoder.n_parameters():,} parameters, hidden size "
            f"{encoder.hidden_size})\n"
            f"- domain adapter: `{json.dumps(encoder.domain.to_config())}`\n"
            f"- pooling: {encoder.pooling}; vocabulary: {len(encoder.tokenizer)} tokens\n\n"
            "```python\nimport sciptm\nenc = sciptm.Encoder.from_pretrained(\"<this folder or hub id>\")\n"
            "X = enc.embed([...])\n```\n\n"
            "`transformers.AutoModel.from_pretrained` opens the folder as a plain encoder as well.\n")
    return front_matter(meta) + body


def predictor_card(predictor: Any, card: dict[str, Any] | None = None) -> str:
    """The model card of a fitted :class:`~sciptm.PropertyPredictor` folder (task, targets, metric, best epoch,
    validation score as ``model-index`` when there is one)."""
    enc = predictor.encoder_
    c = enc.model.config
    task = predictor.task_.name
    metric = getattr(predictor, "metric_", None)
    targets = [str(t) for t in (getattr(predictor, "target_names_", None) or [])]
    kind = "text-classification" if predictor.task_.is_classifier else None
    meta: dict[str, Any] = {"library_name": "transformers", "pipeline_tag": kind,
                            "tags": ["sciptm", enc.domain.name, c.model_type, "property-prediction", task],
                            "license": DEFAULT_LICENSE, "datasets": [], "metrics": [metric] if metric else []}
    score = _valid_score(predictor, metric)
    meta = _merge(meta, card)
    name = (card or {}).get("model_name") or f"sciptm-{enc.domain.name}-{task}"
    meta.pop("model_name", None)
    if score is not None and metric:
        dataset = (meta.get("datasets") or ["validation set"])[0]
        meta["model-index"] = [{"name": name, "results": [{
            "task": {"type": "tabular-classification" if predictor.task_.is_classifier else "tabular-regression",
                     "name": task},
            "dataset": {"name": str(dataset), "type": str(dataset), "split": "validation"},
            "metrics": [{"type": metric, "value": round(float(score), 6), "name": f"validation {metric}"}]}]}]
    fit = getattr(predictor, "fit_report_", {}) or {}
    body = (f"# {name}\n\n"
            f"A sciptm `PropertyPredictor`: a `{c.model_type}` {enc.domain.name} encoder "
            f"({enc.n_parameters():,} parameters) fine-tuned with an MLP head for **{task}**"
            + (f" of {', '.join(f'`{t}`' for t in targets)}" if targets else "") + ".\n\n"
            f"- training rows used: {fit.get('n_used', '?')} (invalid inputs: {fit.get('n_invalid', '?')})\n"
            f"- best epoch: {getattr(predictor, 'best_epoch_', None)}; metric: {metric}"
            + (f"; validation {metric}: {score:.4g}" if score is not None else "") + "\n"
            f"- side features: {predictor.features if isinstance(predictor.features, str) else None}\n\n"
            "```python\nimport sciptm\nmodel = sciptm.PropertyPredictor.from_pretrained(\"<this folder or hub id>\")\n"
            "model.predict([...])\n```\n\n"
            "The folder is a plain `save_pretrained` encoder folder (`transformers.AutoModel` opens the fine-tuned "
            "encoder) plus `head.safetensors` and `sciptm_predictor.json`.\n")
    return front_matter(meta) + body


def _valid_score(predictor: Any, metric: str | None) -> float | None:
    """The best epoch's validation score in the targets' own units (the trainer scores standardized regression
    targets: RMSE/MAE are scaled back for one target; other multi-target scale-dependent scores are left out)."""
    history = getattr(predictor, "history_", None)
    if metric is None or history is None or not len(history):
        return None
    score = _history_score(history, getattr(predictor, "best_epoch_", None))
    std = getattr(predictor, "target_std_", None)
    if score is None or std is None or metric not in ("rmse", "mae", "mse"):
        return score
    std = np.asarray(std, dtype=float).reshape(-1)
    if std.size != 1:
        return None
    return score * float(std[0]) ** (2 if metric == "mse" else 1)


def _history_score(history: Any, best: int | None) -> float | None:
    for col in ("valid_score", "score"):
        if col in history.columns:
            values = history[col].dropna()
            if best is not None and "epoch" in history.columns and (history["epoch"] == best).any():
                picked = history.loc[history["epoch"] == best, col].dropna()
                if len(picked):
                    return float(picked.iloc[-1])
            return float(values.iloc[-1]) if len(values) else None
    return None


def write_card(folder: str | Path, text: str) -> Path:
    """Write ``README.md`` in ``folder`` (replacing an older card) and return its path."""
    path = Path(folder) / "README.md"
    path.write_text(text, encoding="utf-8")
    return path


__all__ = ["DEFAULT_LICENSE", "encoder_card", "front_matter", "predictor_card", "write_card"]
