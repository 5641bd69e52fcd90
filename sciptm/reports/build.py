"""Write a benchmark report: the content is gathered once (:mod:`sciptm.reports.content`) and rendered to
Markdown (:mod:`sciptm.reports.markdown`) and self-contained HTML (:mod:`sciptm.reports.html`).

Example
-------
>>> from sciptm.reports import build_report
>>> paths = build_report("bench-out")  # doctest: +SKIP
>>> sorted(paths)  # doctest: +SKIP
['figures', 'html', 'markdown']
"""
from __future__ import annotations

from pathlib import Path

from sciptm._util.atomic import write_bytes_atomic, write_text_atomic
from sciptm.reports.content import (  # noqa: F401  (re-exported: these lived here before sciptm 0.2)
    BINARY,
    REFERENCE_HEADER,
    REGRESSION,
    SPLIT_HEADER,
    FigureItem,
    ReportContent,
    SplitRow,
    collect,
    environment_rows,
    protocol_legend,
    reference_rows,
    split_rows,
)
from sciptm.reports.html import render_html
from sciptm.reports.markdown import render_markdown
from sciptm.reports.notebook import ReportFiles
from sciptm.reports.results import BenchmarkResults


def build_report(results_dir: str | Path, out_dir: str | Path | None = None) -> dict[str, Path]:
    """Write ``report.md``, a self-contained ``report.html`` and ``figures/*.png``.

    Parameters
    ----------
    results_dir:
        A benchmark results folder (with ``results.json`` and ``runs/``).
    out_dir:
        Where to write; default ``results_dir``.

    Returns
    -------
    ``{"markdown": report.md, "html": report.html, "figures": figures folder}``.

    Example
    -------
    >>> build_report("bench-out")["html"].name  # doctest: +SKIP
    'report.html'
    """
    res = BenchmarkResults(results_dir)
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


__all__ = ["build_report"]
