"""How benchmark results and report files look in Jupyter: :func:`results_html` (the view of
:class:`sciptm.reports.BenchmarkResults`), :class:`ReportFiles` (what :func:`sciptm.reports.build_report`
returns) and :func:`frame_html`.

>>> import pandas as pd
>>> frame_html(pd.DataFrame({"a": [1.23456]})).startswith('<div class="sciptm-frame">')
True
"""
from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

_TABLE_STYLE = "border-collapse:collapse;font-size:90%"


def frame_html(df: pd.DataFrame, caption: str | None = None, float_format: str = "{:.4g}") -> str:
    """A DataFrame as a compact HTML table (floats to 4 significant digits)."""
    html = df.to_html(float_format=float_format.format, border=0, na_rep="–")
    cap = f'<div style="font-size:85%;color:#374151">{escape(caption)}</div>' if caption else ""
    return f'<div class="sciptm-frame">{cap}{html}</div>'


def results_html(res: Any) -> str:
    """HTML view of :class:`sciptm.reports.BenchmarkResults`: a header line (field, protocol, grid),
    the tasks x models score table (best per task in bold) and, folded, the summary DataFrame."""
    from sciptm.reports.html import score_table_html
    from sciptm.reports.tables import score_table

    n_seeds = int(res.summary["n_seeds"].max()) if len(res.summary) else 0
    head = (f"{escape(res.field or 'benchmark')}: {len(res.tasks)} task(s) x {len(res.models)} model(s), "
            f"up to {n_seeds} seed(s)")
    protocol = res.protocol.get("description")
    if protocol:
        head += f"; {escape(str(protocol))}"
    problems = []
    for key in ("failures", "missing"):
        items = res.raw.get(key) or []
        if items:
            problems.append(f'<div style="color:#dc2626">{len(items)} {key}: '
                            + escape(", ".join(f"{i['task']}/{i['model']}/seed{i['seed']}" for i in items[:5]))
                            + ("…" if len(items) > 5 else "") + "</div>")
    summary = res.summary[[c for c in ("task", "model", "metric", "mean", "std", "n_seeds") if c in res.summary]]
    return (f'<div class="sciptm-results"><div style="font-size:85%;color:#374151">{head}</div>'
            f'{score_table_html(score_table(res.summary))}{"".join(problems)}'
            f"<details><summary>summary ({len(summary)} rows)</summary>{frame_html(summary)}</details>"
            f'<div style="font-size:75%;color:#6b7280">{escape(str(res.path))}</div></div>')


class ReportFiles(dict):
    """What :func:`sciptm.reports.build_report` returns: ``{"markdown", "html", "figures"}`` paths,
    shown in Jupyter as links plus the report's figure files."""

    def _repr_html_(self) -> str:
        rows = []
        for key, path in self.items():
            path = Path(path)
            rows.append(f'<tr><th style="text-align:left">{escape(key)}</th>'
                        f'<td><a href="{escape(path.as_posix())}" target="_blank">{escape(str(path))}</a></td></tr>')
        figures = Path(self["figures"]) if "figures" in self else None
        if figures is not None and figures.is_dir():
            names = sorted(p.name for p in figures.glob("*.png"))
            rows.append(f'<tr><th style="text-align:left">figure files</th><td>{len(names)} PNG: '
                        f'{escape(", ".join(names[:8]))}{"…" if len(names) > 8 else ""}</td></tr>')
        return f'<table class="sciptm-report-files" style="{_TABLE_STYLE}">{"".join(rows)}</table>'



__all__ = ["ReportFiles", "frame_html", "results_html"]
