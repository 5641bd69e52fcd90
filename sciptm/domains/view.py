"""How a domain tokenizes one item: :func:`show_tokens` turns one molecule, sequence or crystal into a
:class:`TokenView`: the domain text, its tokens and their ids, shown in a notebook as coloured chips
(``[UNK]`` in red) and as a DataFrame with :meth:`TokenView.to_frame`.

>>> import sciptm
>>> view = sciptm.show_tokens("OCC", domain="smiles")
>>> view.tokens
['[CLS]', 'C', 'C', 'O', '[SEP]']
>>> view.to_frame().loc[1, "kind"], view.ids[1]
('atom', 6)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

#: chip colours by token kind (background); unknown kinds use ``"token"``
KIND_COLOURS: dict[str, str] = {
    "unknown": "#f8b4b4", "special": "#e5e7eb", "token": "#dbeafe",
    # SMILES
    "atom": "#dbeafe", "bracket atom": "#bfdbfe", "bond": "#fde68a", "branch": "#e9d5ff", "ring": "#bbf7d0",
    # proteins (residue chemistry)
    "hydrophobic": "#fde68a", "polar": "#bbf7d0", "positive": "#bfdbfe", "negative": "#fecaca",
    "special residue": "#e9d5ff", "nonstandard": "#fed7aa",
    # crystals
    "space group": "#e9d5ff", "lattice": "#fde68a", "element": "#dbeafe", "wyckoff": "#bbf7d0",
    "coordinate": "#fed7aa", "amount": "#fbcfe8",
}

_PROTEIN_KINDS = {**dict.fromkeys("AVLIMFWC", "hydrophobic"), **dict.fromkeys("STNQYH", "polar"),
                  **dict.fromkeys("KR", "positive"), **dict.fromkeys("DE", "negative"),
                  **dict.fromkeys("GP", "special residue")}
_CRYSTAL_RULES = (("space group", r"SG_\d+"), ("lattice", r"(a|b|c|alpha|beta|gamma)_[\d.]+"),
                  ("wyckoff", r"\d+[a-zA-Z]"), ("coordinate", r"[xyz]_\d+"), ("amount", r"(n|pct)_[\d.]+"),
                  ("element", r"[A-Z][a-z]?"))


def token_kind(token: str, domain: str, special: set[str] = frozenset(), unk: str | None = None) -> str:
    """A coarse category of one token, for colouring and for :meth:`TokenView.to_frame`.

    >>> token_kind("c1", "smiles"), token_kind("=", "smiles"), token_kind("K", "protein")
    ('atom', 'bond', 'positive')
    >>> token_kind("SG_225", "crystal"), token_kind("4a", "crystal")
    ('space group', 'wyckoff')
    """
    if unk is not None and token == unk:
        return "unknown"
    if token in special:
        return "special"
    if domain == "smiles":
        if token.startswith("["):
            return "bracket atom"
        if token in ("(", ")"):
            return "branch"
        if re.fullmatch(r"%?\d+", token):
            return "ring"
        if token in ("-", "=", "#", "$", ":", "/", "\\", "."):
            return "bond"
        return "atom"
    if domain == "protein":
        return _PROTEIN_KINDS.get(token, "nonstandard" if len(token) == 1 else "special")
    if domain == "crystal":
        for kind, pattern in _CRYSTAL_RULES:
            if re.fullmatch(pattern, token):
                return kind
    return "token"


@dataclass(frozen=True)
class TokenView:
    """One tokenized item: the domain text, its tokens and ids (special tokens included).

    Attributes
    ----------
    domain: domain name (``smiles``, ``protein``, ``crystal``).
    text: the text the tokenizer read (``Domain.to_text`` of the item, e.g. canonical SMILES).
    tokens, ids: token strings and ids, in order, ``[CLS]``/``<cls>`` and the end token included.
    unk_token: the tokenizer's unknown token. special: its special tokens.

    In Jupyter the view renders as coloured chips (``[UNK]`` red); :meth:`to_frame` gives a table.
    """

    domain: str
    text: str
    tokens: list[str]
    ids: list[int]
    unk_token: str | None = None
    special: frozenset[str] = frozenset()

    @property
    def kinds(self) -> list[str]:
        """:func:`token_kind` of every token."""
        return [token_kind(t, self.domain, set(self.special), self.unk_token) for t in self.tokens]

    @property
    def n_unknown(self) -> int:
        """Number of unknown tokens (``[UNK]``): parts of the text the vocabulary lacks."""
        return sum(t == self.unk_token for t in self.tokens) if self.unk_token else 0

    def __len__(self) -> int:
        return len(self.tokens)

    def to_frame(self) -> pd.DataFrame:
        """One row per token: ``position``, ``token``, ``id``, ``kind``."""
        import pandas as pd  # deferred: the domain layer stays light

        return pd.DataFrame({"position": range(len(self.tokens)), "token": self.tokens, "id": self.ids,
                             "kind": self.kinds})

    def __repr__(self) -> str:
        shown = " ".join(self.tokens) if len(self.tokens) <= 40 else " ".join(self.tokens[:40]) + " ..."
        return (f"TokenView({self.domain}, {len(self.tokens)} tokens, {self.n_unknown} unknown): {shown}")

    def _repr_html_(self) -> str:
        chips = []
        for token, idx, kind in zip(self.tokens, self.ids, self.kinds):
            colour = KIND_COLOURS.get(kind, KIND_COLOURS["token"])
            border = "#dc2626" if kind == "unknown" else "#9ca3af"
            chips.append(
                f'<span class="sciptm-token sciptm-{kind.replace(" ", "-")}" title="{escape(kind)}, id {idx}" '
                f'style="display:inline-block;margin:2px;padding:1px 5px;border:1px solid {border};'
                f'border-radius:4px;background:{colour};font-family:monospace;text-align:center;color:#111">'
                f'{escape(token)}<br><span style="font-size:70%;color:#4b5563">{idx}</span></span>')
        unknown = (f'; <span style="color:#dc2626">{self.n_unknown} unknown</span>' if self.n_unknown
                   else "; no unknown tokens")
        legend = " ".join(
            f'<span style="background:{KIND_COLOURS.get(k, KIND_COLOURS["token"])};padding:0 4px;'
            f'border-radius:3px">{escape(k)}</span>' for k in dict.fromkeys(self.kinds))
        return (f'<div class="sciptm-token-view"><div style="font-size:85%;color:#374151">{escape(self.domain)}: '
                f'<code>{escape(self.text)}</code> &rarr; {len(self.tokens)} tokens{unknown}</div>'
                f'<div>{"".join(chips)}</div><div style="font-size:75%">{legend}</div></div>')


def show_tokens(item: Any, domain: Any = "smiles", tokenizer: Any = None) -> TokenView:
    """Tokenize one item the way an encoder sees it and return a :class:`TokenView`.

    Parameters
    ----------
    item: a SMILES string or RDKit ``Mol`` (smiles), a sequence or ``Bio.Seq`` (protein), a pymatgen
        ``Structure``/``Composition``, CIF text or formula (crystal).
    domain: a domain name (``"smiles"``, ``"protein"``, ``"crystal"``), a config dict
        (``{"name": "crystal", "kind": "composition"}``), a :class:`~sciptm.domains.Domain`, or a
        :class:`sciptm.Encoder` (its own domain settings and tokenizer are used).
    tokenizer: a tokenizer to use instead of the domain's default one.

    Raises
    ------
    InvalidInputError
        when the domain rejects the item (the reason is named).

    Example
    -------
    >>> show_tokens("MKTAYIAK", domain="protein").tokens[:3]
    ['<cls>', 'M', 'K']
    """
    from sciptm.domains import get_domain

    if hasattr(domain, "tokenizer") and hasattr(domain, "domain"):  # an Encoder
        tokenizer = tokenizer if tokenizer is not None else domain.tokenizer
        domain = domain.domain
    return get_domain(domain).token_view(item, tokenizer)


def token_view(domain: Any, item: Any, tokenizer: Any = None) -> TokenView:
    """The :class:`TokenView` of ``item`` under ``domain`` (what :meth:`Domain.token_view` returns)."""
    text = domain.prepare([item], errors="raise").texts[0]
    tok = tokenizer if tokenizer is not None else domain.build_tokenizer()
    ids = [int(i) for i in tok(text)["input_ids"]]
    return TokenView(domain=domain.name, text=text, tokens=list(tok.convert_ids_to_tokens(ids)), ids=ids,
                     unk_token=tok.unk_token, special=frozenset(tok.all_special_tokens))


__all__ = ["KIND_COLOURS", "TokenView", "show_tokens", "token_kind", "token_view"]
