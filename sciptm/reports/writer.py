"""Write a report for loaded results: ``report.md``, a self-contained ``report.html`` and ``figures/*.png``.

:func:`write_report` takes a :class:`~sciptm.reports.BenchmarkResults` object (so ``BenchmarkResults.report()``
can call it without an import circle); :func:`sciptm.reports.build_report` takes a folder.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sciptm._util.atomic import write_bytes_atomic, write_text_atomic
from sciptm.reports.content import collect
from sciptm.reports.html import render_html
from sciptm.reports.markdown import render_markdown
from sciptm.reports.notebook import ReportFiles

if TYPE_CHECKING:
    from sciptm.reports.results import BenchmarkResults


def write_report(res: BenchmarkResults, out_dir: str | Path | None = None) -> ReportFiles:
    """Write the report of ``res`` into ``out_dir`` (default: the results folder); returns the paths."""
    content = collect(res)
    out = Path(out_dir) if out_dir is not None else res.path
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    for fig in content.figures:
        write_bytes_atomic(figdir / f"{fig.name}.png", fig.png)
    md = out / "report.md"
    write_text_atomic(md, render_markdown(content, figures_dir="figures"))
    html = out / "report.html"
    write_text_atomic(html, render_html(content))
    return ReportFiles(markdown=md, html=html, figures=figdir)


__all__ = ["write_report"]
