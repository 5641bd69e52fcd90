"""Fixtures shared by the encoder tests: the first MOSES training SMILES of the data mirror and the shipped
SMILES encoder (one copy per test module)."""
from __future__ import annotations

import itertools

import pytest

import sciptm
from sciptm.pretraining.sources import iter_records


@pytest.fixture(scope="module")
def moses_head(chem_dir) -> list[str]:
    """The first 200 SMILES of ``chem/moses_train.csv.gz``, in file order."""
    return [smi for _, smi in itertools.islice(iter_records(chem_dir / "moses_train.csv.gz", "SMILES"), 200)]


@pytest.fixture(scope="module")
def small() -> sciptm.Encoder:
    return sciptm.Encoder.from_pretrained("sciptm/smiles-small")
