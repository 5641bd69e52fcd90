"""Fixtures shared by the pretraining tests: the data mirror (MOSES needed) and a per-module cache folder."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def mirror() -> Path:
    # session scope: the root conftest's session fixtures (chem_dir, ...) read ``mirror`` too
    root = os.environ.get("SCIPTM_DATA_MIRROR") or str(REPO.parent / "shared" / "datasets")
    if not (Path(root) / "chem" / "moses_train.csv.gz").exists():
        pytest.skip(f"data mirror with chem/moses_train.csv.gz not found at {root} (set SCIPTM_DATA_MIRROR)")
    return Path(root)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pretrain-cache")
