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
    if val:
        ax_loss.plot([r["step"] for r in val], [r["loss"] for r in val], "o-", label="validation")
        ax_acc.plot([r["step"] for r in val], [r["accuracy"] for r in val], "o-", color="C1")
    ax_loss.set(xlabel="step", ylabel="cross-entropy (masked tokens)", title="loss")
    ax_loss.legend()
    ax_acc.set(xlabel="step", ylabel="accuracy", title="validation token accuracy")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def model_card(summary: dict[str, Any]) -> str:
    """Markdown card of an exported encoder: data, filtering counts, training, results, command, config."""
    s = summary
    c = s["corpus"]
    lines = [
        "---", "library_name: transformers", f"tags: [sciptm, {s['domain']}, pretraining]", "---",
        f"# sciptm {s['domain']} encoder ({s['architecture']}, {s['objective'].upper()} pretraining)", "",
        f"- parameters (base model): {s['parameters']:,}; hidden size {s['hidden_size']}; weights stored as fp16",
        "- objective: " + ("masked-token prediction (15% dynamic masking, 80/10/10)" if s["objective"] == "mlm"
                           else "next-token prediction (causal LM)"),
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
    overlap = c.get("train", {}).get("overlap_by_benchmark") or {}
    if overlap:
        lines += ["Benchmark keys found in the training corpus (before filtering):", "",
                  "| benchmark | keys | found in corpus |", "|---|---|---|"]
        lines += [f"| {name} | {v['benchmark_keys']} | {v['found_in_corpus']} |" for name, v in overlap.items()]
        lines.append("")
    t = s["training"]
    lines += [
        "## Training", "",
        f"- steps: {t['steps']} of {t['max_steps']} planned; batch size {t['batch_size']}; "
        f"tokens seen: {t['tokens_seen']:,}",
        f"- optimiser: AdamW, lr {t['lr']}, {t['schedule']} schedule, {t['warmup_steps']} warm-up steps",
        f"- precision: {t['precision']}; device: {t['device']}; wall time {t['wall_s']:.0f} s",
        "", "## Validation", "",
        "| model | loss | token accuracy |", "|---|---|---|",
    ]
    base, final = s["untrained"], s["final"]
    if base:
        lines.append(f"| untrained, same architecture and seed (step 0) | {base['loss']:.4f} "
                     f"| {base['accuracy']:.4f} |")
    lines.append(f"| this encoder (step {final['step']}) | {final['loss']:.4f} | {final['accuracy']:.4f} |")
    lines += ["", "![loss curve](loss_curve.png)", "", "## Reproduce", "", "```bash", s["command"], "```", "",
              "```yaml", s["config_yaml"].rstrip(), "```", "", "## Use", "", "```python", "import sciptm",
              'enc = sciptm.Encoder.from_pretrained("<this folder>")', "X = enc.embed([...])", "```", ""]
    return "\n".join(lines)
