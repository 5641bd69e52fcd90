"""Benchmark reports: Markdown and self-contained HTML with tables, plots and published references.

>>> from sciptm.reports import BenchmarkResults, build_report
>>> res = BenchmarkResults("bench-out")  # doctest: +SKIP
>>> res.table()  # doctest: +SKIP
>>> build_report("bench-out")["html"]  # doctest: +SKIP
PosixPath('bench-out/report.html')
"""
from sciptm.reports.browser import dump_dom, find_chromium, screenshot
from sciptm.reports.build import build_report
from sciptm.reports.references import Reference, all_references, load_references
from sciptm.reports.results import BenchmarkResults

__all__ = ["BenchmarkResults", "Reference", "all_references", "build_report", "dump_dom", "find_chromium",
           "load_references", "screenshot"]
