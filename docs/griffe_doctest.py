"""Griffe extension for the docs build: doctests as code blocks, one-line items, no duplicate entries.

sciptm's docstrings carry doctests (``>>> ...`` with their output) in free text, under ``Example``
headings and inside parameter descriptions. Markdown would read ``>>>`` as nested quotes and doctest
output such as ``['A23G', 'L40P']`` as reference links, so this extension wraps every run of doctest
lines in a fenced block before the docstring is parsed. The source docstrings stay plain doctests
(``python -m doctest`` / ``pytest --doctest-modules`` read them unchanged).

Loaded by ``mkdocs.yml`` (``extensions: [docs/griffe_doctest.py]``).
"""
from __future__ import annotations

from typing import Any

import re

import griffe

#: numpy sections whose items are ``name`` lines followed by indented descriptions
ITEM_SECTIONS = {"parameters", "other parameters", "attributes"}
_ITEM = re.compile(r"^(\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*):\s*(.*)$")
#: an item's first line: ``name``, ``a, b``, ``name : type`` or ``name: text``
_ITEM_START = re.compile(r"^\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*\s*(?::.*)?$")


_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|data|attr|exc|obj|const|ref):`(~?)([^`]+)`")


def plain_roles(text: str) -> str:
    r"""Show Sphinx cross-reference roles as code; ``~`` keeps the last dotted part, as Sphinx does.

    >>> plain_roles("See :class:`~sciptm.encoders.Encoder` and :func:`sciptm.splits.make_split`.")
    'See `Encoder` and `sciptm.splits.make_split`.'
    """
    return _ROLE.sub(lambda m: "`" + (m.group(2).rsplit(".", 1)[-1] if m.group(1) else m.group(2)) + "`", text)


def expand_items(text: str) -> str:
    r"""Rewrite one-line ``name: text`` items of item sections as ``name`` + indented ``text``.

    A paragraph of prose after the items (a blank line, then an unindented line that is not an item)
    would be read as more items; it is put under a ``Notes`` heading instead.

    >>> print(expand_items("Parameters\n----------\nkind: the kind.\n    More.\nn_jobs:\n    Workers."))
    Parameters
    ----------
    kind
        the kind.
        More.
    n_jobs
        Workers.
    >>> print(expand_items("Parameters\n----------\nk: folds.\n\nA note on k."))
    Parameters
    ----------
    k
        folds.
    <BLANKLINE>
    Notes
    -----
    A note on k.
    """
    lines = text.split("\n")
    out: list[str] = []
    section = ""
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and nxt.strip() and set(nxt.strip()) == {"-"} and not line.startswith(" "):
            section = line.strip().lower()
        elif section in ITEM_SECTIONS and (m := _ITEM.match(line)):
            out.append(m.group(1))
            if m.group(2):
                out.append("    " + m.group(2))
            continue
        elif (section in ITEM_SECTIONS and line.strip() and not line.startswith(" ") and i > 0
              and not lines[i - 1].strip() and not _ITEM_START.match(line)):
            out.extend(["Notes", "-----"])
            section = "notes"
        out.append(line)
    return "\n".join(out)


def fence_doctests(text: str) -> str:
    r"""Wrap each doctest run (a ``>>>`` line up to the next blank line) in a ```` ```pycon ```` fence.

    >>> fence_doctests("Text.\n>>> 1 + 1\n2").splitlines()
    ['Text.', '', '```pycon', '>>> 1 + 1', '2', '```']
    """
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    in_fence = False
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip()
        if stripped.startswith("```"):
            in_fence = not in_fence
        if in_fence or not (stripped == ">>>" or stripped.startswith(">>> ")):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(stripped)]
        block = []
        while i < len(lines) and lines[i].strip() and lines[i].startswith(indent):
            block.append(lines[i][len(indent):])
            i += 1
        if out and out[-1].strip():
            out.append("")
        out.extend([f"{indent}```pycon", *(indent + b for b in block), f"{indent}```"])
        if i < len(lines) and lines[i].strip():
            out.append("")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence doctests and expand one-line items of every docstring (before griffe parses it); hide
    a package's re-exports of its own objects so that each object is documented once."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:  # noqa: ARG002
        root = pkg.path + "."
        todo = [pkg]
        while todo:
            mod = todo.pop()
            for member in list(mod.members.values()):
                if member.is_alias:
                    if member.target_path.startswith(root) and not member.inherited:
                        member.public = False
                elif member.is_module:
                    todo.append(member)

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:  # noqa: ARG002
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_doctests(obj.docstring.value)
        if obj.docstring is not None and ":" in obj.docstring.value:
            obj.docstring.value = plain_roles(expand_items(obj.docstring.value))
