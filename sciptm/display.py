"""Deprecated: token views moved to :mod:`sciptm.domains.view`, the notebook views of results and reports to
:mod:`sciptm.reports.notebook` (this re-export goes away in the next release)."""
import warnings

from sciptm.domains.view import KIND_COLOURS, TokenView, show_tokens, token_kind, token_view
from sciptm.reports.notebook import ReportFiles, frame_html, results_html

warnings.warn("sciptm.display moved: use sciptm.domains.view (token views) and sciptm.reports.notebook (results "
              "and report views); the old import path will be removed in the next release",
              DeprecationWarning, stacklevel=2)

__all__ = ["KIND_COLOURS", "ReportFiles", "TokenView", "frame_html", "results_html", "show_tokens", "token_kind",
           "token_view"]
