"""Vectorized mutation parsing (``parse_table``) agrees with the row-by-row parser, errors included."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sciptm.domains.protein.mutations import infer_wild_type, parse_table
from sciptm.errors import InvalidInputError
from sciptm.zeroshot.mutations import _parse_all, _parse_rows


@pytest.fixture(scope="module")
def grb2(mirror):
    path = mirror / "protein" / "dms" / "GRB2_HUMAN_Faure_2021.csv.gz"
    if not path.is_file():
        pytest.skip("GRB2 DMS file not in the mirror")
    df = pd.read_csv(path)
    return df, infer_wild_type(df.mutant[:100], df.mutated_sequence[:100], offset=158)


VOCAB = {c: i + 4 for i, c in enumerate("LAGVSERTIDPKQNFYMHWCXBUZO")} | {"<unk>": 3}


def test_every_grb2_variant_parses_like_the_row_by_row_parser(grb2):
    df, wt = grb2
    texts = df.mutant.tolist()
    fast = _parse_all(texts, list(range(len(texts))), wt, 158, VOCAB, 3)
    slow = _parse_rows(texts, list(range(len(texts))), wt, 158, VOCAB, 3)
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)
    assert len(fast[0]) > len(texts)  # the file holds double mutants too


@pytest.mark.parametrize("bad", ["A1G:", "A1G:A1C", "K1G", "A9G", "A0G", "a1g:k2j", "A1G\nK2R", "WT:A1G", 3, None,
                                 "A1G::K2R", "1AG"])
def test_bad_rows_raise_the_row_by_row_errors(bad):
    wt = "AKTE"
    texts = ["A1G", "k2r : T3A", "WT", "", bad, "E4D"]
    ids = list(range(10, 10 + len(texts)))
    with pytest.raises(InvalidInputError) as fast:
        _parse_all(texts, ids, wt, 0, VOCAB, 3)
    with pytest.raises(InvalidInputError) as slow:
        _parse_rows(texts, ids, wt, 0, VOCAB, 3)
    assert str(fast.value) == str(slow.value)
    assert [r.index for r in fast.value.records] == [14]


def test_residue_outside_the_vocabulary_is_named():
    with pytest.raises(InvalidInputError, match="not in the model's vocabulary"):
        _parse_all(["A1G", "A1C"], [0, 1], "AK", 0, {"A": 4, "G": 5, "K": 6}, 3)


def test_parse_table_offsets_and_wild_types():
    rows, pos, w, m, bad = parse_table(["T159A", "WT", "_wt", "Y160F:T159S", "T1A"], "TY", offset=158)
    assert rows.tolist() == [0, 3, 3] and pos.tolist() == [0, 1, 0]
    assert w.tolist() == ["T", "Y", "T"] and m.tolist() == ["A", "F", "S"] and bad.tolist() == [4]
