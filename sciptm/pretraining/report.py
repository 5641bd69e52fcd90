"""Run records: the metrics log (JSONL), the loss-curve PNG and the exported encoder's model card."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class MetricsLog:
    """Append-only ``metrics.jsonl``; on resume, rows past the resumed step are dropped first."""

    def __init__(self, path: Path):
        self.path = path

    def truncate_after(self, step: int) -> None:
        if not self.path.exists():
            return
        rows = [r for r in self.rows() if r["step"] <= step]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        tmp.replace(self.path)

    def write(self, row: dict[str, Any]) -> None:
        with open(self.path, "a") as handle:
            handle.write(json.dumps(row) + "\n")

    def rows(self, split: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        rows = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
        return [r for r in rows if split is None or r["split"] == split]


def plot_curves(log: MetricsLog, path: Path, title: str) -> Path:
    """Training / validation loss and validation masked-token accuracy against steps (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train, val = log.rows("train"), log.rows("val")
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    if train:
        ax_loss.plot([r["step"] for r in train], [r["loss"] for r in train], label="train", alpha=0.7)
    lm_val = [r for r in val if "loss" in r]
    if lm_val:
        ax_loss.plot([r["step"] for r in lm_val], [r["loss"] for r in lm_val], "o-", label="validation (LM)")
        ax_acc.plot([r["step"] for r in lm_val], [r["accuracy"] for r in lm_val], "o-", color="C1", label="token accuracy")
    for i, key in enumerate(sorted({k for r in val for k in r if k.endswith("_r2")})):
        rows = [r for r in val if key in r]
        ax_acc.plot([r["step"] for r in rows], [r[key] for r in rows], "s--", color=f"C{i + 2}", label=f"{key} (val)")
    for i, key in enumerate(sorted({k for r in val for k in r if k.endswith("_mse")})):
        rows = [r for r in val if key in r]
        ax_loss.plot([r["step"] for r in rows], [r[key] for r in rows], "s--", color=f"C{i + 2}", label=f"{key} (val)")
    ax_loss.set(xlabel="step", ylabel="loss (LM cross-entropy / standardized MSE)", title="loss")
    ax_loss.legend()
    ax_acc.set(xlabel="step", ylabel="accuracy / R²", title="validation token accuracy / mean R²")
    if ax_acc.lines:
        ax_acc.legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def model_card(summary: dict[str, Any]) -> str:
    """Markdown card of an exported encoder: data, filtering counts, training, results, command, config."""
    s = summary
    c = s["corpus"]
    objectives = s.get("objectives") or {s["objective"]: 1.0}
    multi = len([w for w in objectives.values() if w > 0]) > 1 or objectives.get(s["objective"], 0.0) == 0
    title = " + ".join(k.upper() if k in ("mlm", "clm") else k for k, w in objectives.items() if w > 0)
    lm_text = ("masked-token prediction (15% dynamic masking, 80/10/10)" if s["objective"] == "mlm"
               else "next-token prediction (causal LM)")
    lines = [
        "---", "library_name: transformers", f"tags: [sciptm, {s['domain']}, pretraining]", "---",
        f"# sciptm {s['domain']} encoder ({s['architecture']}, {title} pretraining)", "",
        f"- parameters (base model): {s['parameters']:,}; hidden size {s['hidden_size']}; weights stored as fp16",
        ("- objective: " + lm_text) if not multi else
        "- objectives (weight): " + "; ".join(f"`{k}` {w:g}" + (f" ({lm_text})" if k in ("mlm", "clm") else "")
                                              for k, w in objectives.items()),
        "", "## Data", "",
        f"- training corpus: `{c.get('train_source')}`",
        f"- validation: `{c.get('val_source') or 'held out from the training corpus by key hash'}`",
        "", "| split | read | invalid | duplicates | benchmark overlap | other drops | kept |",
        "|---|---|---|---|---|---|---|",
    ]
    for split in ("train", "val"):
        n = c.get(split, {})
        if "read" in n:
            other = n.get("blocked_ids", 0) + n.get("in_train", 0) + n.get("held_out_for_validation", 0)
            lines.append(f"| {split} | {n['read']} | {n['invalid']} | {n['duplicates']} | {n['benchmark_overlap']} "
                         f"| {other} | {n['kept']} |")
        else:
            lines.append(f"| {split} | - | - | - | - | - | {n.get('kept')} |")
    lines += ["", "Other drops: record ids of the blocked-ids file, validation items already in train, or train items "
              "held out for validation.", "", "Identity keys (de-duplication and benchmark filtering):", "",
              "```", (c.get("keys") or "").strip(), "```", ""]
    label_block = c.get("label_split_block")
    if label_block:
        lines += [f"Label-split exclusion: the test rows of `{label_block['dataset']}` ({label_block['split']} split, "
                  f"sizes {label_block['sizes']}, seeds {sorted(label_block['test_rows_per_seed'])}: "
                  f"{label_block['ids']} distinct record ids) and any corpus item identical to one of them are "
                  f"dropped: {c.get('train', {}).get('blocked_ids', 0)} training items (in \"other drops\").", ""]
    overlap = c.get("train", {}).get("overlap_by_benchmark") or {}
    if overlap:
        lines += ["Benchmark keys found in the training corpus (before filtering):", "",
                  "| benchmark | keys | found in corpus |", "|---|---|---|"]
        lines += [f"| {name} | {v['benchmark_keys']} | {v['found_in_corpus']} |" for name, v in overlap.items()]
        lines.append("")
    targets = s.get("targets")
    if targets:
        lines += ["## Regression objectives", "",
                  "Each objective's targets are regressed from the mean-pooled last hidden states by a small head "
                  "(Linear-GELU-Linear), masked MSE on targets standardized with the training split's mean and std "
                  "and clipped; columns constant or mostly missing on the training split are dropped. The head is "
                  "stored beside the encoder as `regression_head.safetensors` + `regression_head.json` (target "
                  "names, means, stds); `transformers.AutoModel` and `sciptm.Encoder.from_pretrained` ignore it.", "",
                  "| objective | targets kept | dropped (constant) | dropped (mostly missing) | clip |",
                  "|---|---|---|---|---|"]
        for spec in targets["objectives"]:
            d = spec.get("dropped", {})
            lines.append(f"| {spec['objective']} | {len(spec['names'])} | {len(d.get('constant', []))} "
                         f"| {len(d.get('mostly_missing', []))} | ±{spec['clip']:g} |")
        lines.append("")
        for spec in targets["objectives"]:
            lines += [f"Target names ({spec['objective']}): " + ", ".join(f"`{n}`" for n in spec["names"]), ""]
            dropped = [n for v in spec.get("dropped", {}).values() for n in v]
            if dropped:
                lines += [f"Dropped ({spec['objective']}): " + ", ".join(f"`{n}`" for n in dropped), ""]
    if s.get("init_from"):
        lines += [f"Initialised from `{s['init_from']}` (continued pretraining; tokens seen below count this run "
                  "only).", ""]
    t = s["training"]
    lines += [
        "## Training", "",
        f"- steps: {t['steps']} of {t['max_steps']} planned; batch size {t['batch_size']}; "
        f"tokens seen: {t['tokens_seen']:,}",
        f"- optimiser: AdamW, lr {t['lr']}, {t['schedule']} schedule, {t['warmup_steps']} warm-up steps",
        f"- precision: {t['precision']}; device: {t['device']}; wall time {t['wall_s']:.0f} s",
        "", "## Validation", "",
    ]
    base, final = s["untrained"], s["final"]
    cols = [k for k in ("loss", "accuracy") if k in final] + sorted(k for k in final if k.endswith(("_mse", "_r2")))
    names = {"loss": "LM loss", "accuracy": "token accuracy"}
    lines += ["| model | " + " | ".join(names.get(k, k) for k in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    if base:
        first = "initial weights (step 0)" if s.get("init_from") else "untrained, same architecture and seed (step 0)"
        lines.append(f"| {first} | " + " | ".join(f"{base[k]:.4f}" if k in base else "-" for k in cols) + " |")
    lines.append(f"| this encoder (step {final['step']}) | " + " | ".join(f"{final[k]:.4f}" for k in cols) + " |")
    lines += ["", "![loss curve](loss_curve.png)", "", "## Reproduce", "", "```bash", s["command"], "```", "",
              "```yaml", s["config_yaml"].rstrip(), "```", "", "## Use", "", "```python", "import sciptm",
              'enc = sciptm.Encoder.from_pretrained("<this folder>")', "X = enc.embed([...])", "```", ""]
    return "\n".join(lines)
