"""Fixtures shared by the data-layer tests."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache for one test, no mirror, downloads allowed (tests point SCIPTM_DATA_URL at 127.0.0.1)."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("SCIPTM_CACHE", str(cache))
    monkeypatch.delenv("SCIPTM_DATA_MIRROR", raising=False)
    monkeypatch.setenv("SCIPTM_EMBEDDED_DATA", "0")  # these tests download ESOL; not the copy shipped in the package
    monkeypatch.delenv("SCIPTM_OFFLINE", raising=False)
    return cache
