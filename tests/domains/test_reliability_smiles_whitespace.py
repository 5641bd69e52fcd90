"""Issue 13 item 5: RDKit reads ``CC O`` as ``CC`` named ``O``; a SMILES with whitespace inside is invalid input,
reported with its row."""
from __future__ import annotations

import pytest

from sciptm.domains import get_domain
from sciptm.errors import InvalidInputError


def test_reliability_smiles_with_inner_whitespace_is_rejected_naming_the_row() -> None:
    dom = get_domain("smiles")
    with pytest.raises(InvalidInputError) as err:
        dom.prepare(["CCO", "CC O", "CC\nO", "c1ccccc1\tN", " CCN "])
    assert [r.index for r in err.value.records] == [1, 2, 3]
    assert "row 1: 'CC O': whitespace (' ') inside the SMILES" in str(err.value)
    assert "'\\n'" in err.value.records[1].reason


def test_reliability_surrounding_whitespace_is_still_accepted() -> None:
    prepared = get_domain("smiles").prepare([" CCO", "CCN \n"])
    assert prepared.valid.all() and prepared.texts == ["CCO", "CCN"]
