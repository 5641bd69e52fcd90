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
from sciptm.reports.results import BenchmarkResults
from sciptm.reports.writer import write_report


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
    return write_report(BenchmarkResults(results_dir), out_dir)

__all__ = ["build_report"]
