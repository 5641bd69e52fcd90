"""Render a report as one self-contained HTML file: inline CSS, PNGs as base64 data URIs,
no scripts and no external assets.

Example
-------
>>> html_table(("a",), [("<b>",)])
'<table><thead><tr><th>a</th></tr></thead><tbody><tr><td>&lt;b&gt;</td></tr></tbody></table>'
"""
from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

from sciptm.reports.content import (
    REFERENCE_HEADER,
    SPLIT_HEADER,
    ReportContent,
    environment_rows,
    protocol_legend,
    reference_rows,
    split_rows,
)
from sciptm.reports.tables import ScoreTable

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.4; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .6em 0 1em; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
thead th { background: #f2f2f2; }
td.best { font-weight: bold; background: #eef7ee; }
tr.ours td { background: #f7f9fc; }
table.refs td:nth-child(3) { white-space: nowrap; }
.remark { color: #a33; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; }
code { background: #f5f5f5; padding: 0 .2em; }
dl.meta dt { font-weight: bold; float: left; clear: left; width: 6em; } dl.meta dd { margin-left: 7em; }
"""


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]], row_class: Sequence[str] = ()) -> str:
    """A plain HTML table with escaped cells; ``row_class[i]`` sets a class on row ``i``."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{escape(row_class[i])}"' if i < len(row_class) and row_class[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def score_table_html(table: ScoreTable) -> str:
    """The tasks x models score table, best cell per task in bold (``<td class="best"><b>``).

    Example
    -------
    >>> from sciptm.reports.tables import Cell
    >>> t = ScoreTable(["esol"], ["rf"], {"esol": "rmse"}, {"esol": False}, {("esol", "rf"): Cell("1.0", True, 3)})
    >>> "<b>1.0</b>" in score_table_html(t)
    True
    """
    head = "".join(f"<th>{escape(h)}</th>" for h in ("task", "metric", *table.models))
    body = []
    for task in table.tasks:
        cells = [f"<th>{escape(task)}</th>", f"<td>{escape(table.metric_label(task))}</td>"]
        for model in table.models:
            cell = table.cells.get((task, model))
            if cell is not None and cell.best:
                cells.append(f'<td class="best"><b>{escape(cell.text)}</b></td>')
            else:
                cells.append(f"<td>{escape(table.text(task, model))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="scores"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def data_uri(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _reference_table(content: ReportContent, task: str) -> str:
    rows = reference_rows(content, task)
    n_ours = sum(1 for r in rows if r[4] == "sciptm, this run")
    html = html_table(REFERENCE_HEADER, rows, ["ours"] * n_ours).replace("<table>", '<table class="refs">', 1)
    return html.replace("<td>different protocol", '<td><span class="remark">different protocol</span>')


def render_html(content: ReportContent) -> str:
    """The report as a complete, self-contained HTML document."""
    seeds = sorted({c.n_seeds for c in content.table.cells.values()})
    proto = content.protocol
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(content.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(content.title)}</h1>",
        '<dl class="meta">',
        f"<dt>command</dt><dd><code>{escape(content.command or '(not recorded)')}</code></dd>",
        f"<dt>date</dt><dd>{escape(content.created or '(not recorded)')}</dd>",
        (f"<dt>protocol</dt><dd><code>{escape(str(proto.get('id', '')))}</code>: "
         f"{escape(str(proto.get('description', '')))}</dd></dl>"),
        "<h2>Results</h2>",
        (f"<p>Test-set score, mean ± standard deviation over seeds (seeds per cell: "
         f"{escape(', '.join(map(str, seeds)))}). ↑ higher is better, ↓ lower is better; "
         "the best model of each task is in bold.</p>"),
        score_table_html(content.table),
    ]
    if content.figures:
        parts.append("<h2>Figures</h2>")
        for fig in content.figures:
            parts.append(f'<figure><img src="{data_uri(fig.png)}" alt="{escape(fig.task)} {escape(fig.kind)}">'
                         f"<figcaption>{escape(fig.caption)}</figcaption></figure>")
    parts += ["<h2>Published reference numbers</h2>",
              ("<p>Only numbers on the same protocol id are comparable; others are marked "
               "&ldquo;different protocol&rdquo;.</p>")]
    for task in content.table.tasks:
        parts += [f"<h3>{escape(task)}</h3>", _reference_table(content, task)]
    legend = protocol_legend(content)
    if legend:
        parts.append("<p>Protocols:</p><ul>" + "".join(
            f"<li><code>{escape(pid)}</code>: {escape(text)}</li>" for pid, text in legend) + "</ul>")
    parts += ["<h2>Splits</h2>", html_table(SPLIT_HEADER, split_rows(content)),
              "<h2>Environment</h2>", html_table(("key", "value"), environment_rows(content))]
    if content.notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in content.notes) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
