"""The byte-level mutant parser of score_mutations (#16) gives the row-by-row parser's arrays on every GRB2 variant
and its exact errors (each bad row named, with its reason) on random edits of real variants."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sciptm.domains.protein.mutations import infer_wild_type
from sciptm.errors import InvalidInputError
from sciptm.zeroshot.mutations import _parse_all, _parse_rows

OFFSET = 158
VOCAB = {c: i + 4 for i, c in enumerate("LAGVSERTIDPKQNFYMHWCXBUZ")} | {"<unk>": 3}  # no "O": outside the vocabulary


@pytest.fixture(scope="module")
def grb2(mirror) -> tuple[pd.DataFrame, str]:
    df = pd.read_csv(mirror / "protein" / "dms" / "GRB2_HUMAN_Faure_2021.csv.gz")
    return df, infer_wild_type(df["mutant"][:100], df["mutated_sequence"][:100], offset=OFFSET)


def _both(texts, wt, offset=OFFSET):
    """(arrays or error text) from the byte parser and from the row parser."""
    out = []
    for parse in (_parse_all, _parse_rows):
        try:
            out.append(parse(texts, list(range(100, 100 + len(texts))), wt, offset, VOCAB, 3))
        except InvalidInputError as exc:
            out.append(str(exc))
    return out


def test_all_grb2_variants_and_a_series_index(grb2):
    df, wt = grb2
    texts = df["mutant"].tolist()
    fast = _parse_all(texts, df.index, wt, OFFSET, VOCAB, 3)
    slow = _parse_rows(texts, list(df.index), wt, OFFSET, VOCAB, 3)
    for a, b in zip(fast, slow):
        assert a.dtype == np.int64
        np.testing.assert_array_equal(a, b)
    assert len(fast[0]) > len(texts)  # double mutants
    # a Series index names the bad row in the error (read only when a row is bad)
    series = df["mutant"].iloc[:50].copy()
    series.index = [f"v{i}" for i in range(50)]
    series.iloc[7] = series.iloc[7] + ":" + series.iloc[7]
    with pytest.raises(InvalidInputError, match=r"row v7: .*mutated twice"):
        _parse_all(series.tolist(), series.index, wt, OFFSET, VOCAB, 3)


def _edit(text: str, rng: np.random.Generator) -> str:
    pieces = ["", ":", "::", " ", "\t", "0", "1", "9", "07", "99999999999999", "A", "g", "O", "J", "WT", "_wt", "ſ",
              "é", "\n", "-", "+1"]
    kind = rng.integers(4)
    cut = int(rng.integers(len(text) + 1))
    if kind == 0:  # insert
        return text[:cut] + pieces[rng.integers(len(pieces))] + text[cut:]
    if kind == 1:  # delete one character
        return text[:cut] + text[cut + 1:]
    if kind == 2:  # replace one character
        return text[:cut] + pieces[rng.integers(len(pieces))] + text[cut + 1:]
    return text + ":" + text.split(":")[0]  # a position twice


def test_random_edits_of_real_variants_parse_or_fail_like_the_row_parser(grb2):
    df, wt = grb2
    rng = np.random.default_rng(0)
    real = df["mutant"].sample(400, random_state=1).tolist() + ["WT", "", "_wt", " t159a "]
    outcomes = {"error": 0, "parsed": 0}
    for trial in range(300):
        texts = list(rng.choice(real, size=6))
        if trial % 2:
            texts[int(rng.integers(6))] = _edit(texts[0], rng)
        elif trial % 7 == 0:
            texts[int(rng.integers(6))] = [None, 3, 1.5][trial % 3]
        fast, slow = _both(texts, wt)
        outcomes["error" if isinstance(slow, str) else "parsed"] += 1
        if isinstance(slow, str):
            assert fast == slow, texts
        else:
            assert not isinstance(fast, str), (texts, fast)
            for a, b in zip(fast, slow):
                np.testing.assert_array_equal(a, b)
    assert min(outcomes.values()) >= 50, outcomes  # both kinds of outcome are exercised


@pytest.mark.parametrize("texts", [[], ["WT"], [""], ["T159A"], ["t159a:Y160F"], ["T159O"], ["T159A:T159C"],
                                   ["T1A"], ["T0159A"], ["T159A\nY160F"]])
def test_edge_cases(grb2, texts):
    _, wt = grb2
    fast, slow = _both(texts, wt)
    if isinstance(slow, str):
        assert fast == slow
    else:
        for a, b in zip(fast, slow):
            np.testing.assert_array_equal(a, b)
