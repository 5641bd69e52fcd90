"""Render a report as Markdown (figures referenced as PNG files beside it).

Example
-------
>>> print(md_table(("a", "b"), [("1", "x|y")]))
| a | b |
|---|---|
| 1 | x\\|y |
"""
from __future__ import annotations

from collections.abc import Sequence

from sciptm.reports.content import (
    REFERENCE_HEADER,
    SPLIT_HEADER,
    ReportContent,
    environment_rows,
    protocol_legend,
    reference_rows,
    split_rows,
)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table (pipes in cells escaped)."""
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _scores(content: ReportContent) -> str:
    t = content.table
    rows = []
    for task in t.tasks:
        cells = []
        for model in t.models:
            cell = t.cells.get((task, model))
            cells.append(t.text(task, model) if cell is None or not cell.best else f"**{cell.text}**")
        rows.append((task, t.metric_label(task), *cells))
    return md_table(("task", "metric", *t.models), rows)


def render_markdown(content: ReportContent, figures_dir: str = "figures") -> str:
    """The report as Markdown; figures are linked as ``<figures_dir>/<name>.png``."""
    seeds = sorted({c.n_seeds for c in content.table.cells.values()})
    out = [f"# {content.title}", ""]
    out += [f"- command: `{content.command}`" if content.command else "- command: (not recorded)",
            f"- date: {content.created or '(not recorded)'}",
            f"- protocol: `{content.protocol.get('id', '')}`: {content.protocol.get('description', '')}", ""]
    out += ["## Results", "",
            (f"Test-set score, mean ± standard deviation over seeds (seeds per cell: {', '.join(map(str, seeds))}). "
             "↑ higher is better, ↓ lower is better; the best model of each task is in bold."), "",
            _scores(content), ""]
    if content.figures:
        out += ["## Figures", ""]
        for fig in content.figures:
            out += [f"![{fig.task} {fig.kind}]({figures_dir}/{fig.name}.png)", "", f"*{fig.caption}*", ""]
    out += ["## Published reference numbers", "",
            "Only numbers on the same protocol id are comparable; others are marked \"different protocol\".", ""]
    for task in content.table.tasks:
        out += [f"### {task}", "", md_table(REFERENCE_HEADER, reference_rows(content, task)), ""]
    legend = protocol_legend(content)
    if legend:
        out += ["Protocols:", ""] + [f"- `{pid}`: {text}" for pid, text in legend] + [""]
    out += ["## Splits", "", md_table(SPLIT_HEADER, split_rows(content)), ""]
    out += ["## Environment", "", md_table(("key", "value"), environment_rows(content)), ""]
    if content.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in content.notes] + [""]
    return "\n".join(out)
