"""Benchmark reports: Markdown and self-contained HTML with tables, plots and published references.

>>> from sciptm.reports import BenchmarkResults, build_report
>>> res = BenchmarkResults("bench-out")  # doctest: +SKIP
>>> res.table()  # doctest: +SKIP
>>> build_report("bench-out")["html"]  # doctest: +SKIP
PosixPath('bench-out/report.html')

Names load on first use (matplotlib is imported only when a report is built).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY = {
    "BenchmarkResults": "sciptm.reports.results",
    "Reference": "sciptm.reports.references",
    "all_references": "sciptm.reports.references",
    "load_references": "sciptm.reports.references",
    "build_report": "sciptm.reports.build",
    "dump_dom": "sciptm.reports.browser",
    "find_chromium": "sciptm.reports.browser",
    "screenshot": "sciptm.reports.browser",
}

__all__ = ["BenchmarkResults", "Reference", "all_references", "build_report", "dump_dom", "find_chromium",
           "load_references", "screenshot"]

if TYPE_CHECKING:
    from sciptm.reports.browser import dump_dom, find_chromium, screenshot
    from sciptm.reports.build import build_report
    from sciptm.reports.references import Reference, all_references, load_references
    from sciptm.reports.results import BenchmarkResults


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sciptm.reports' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
