"""ESOL and BBBP ship inside the package, byte-identical to the canonical files, so the README's main job runs
with no mirror and no internet (issue 14, item 8)."""
from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest

import sciptm.datasets as sd
from sciptm.data.cards import CARDS
from sciptm.data.fetch import EMBEDDED_DIR, embedded_path

REPO = Path(__file__).resolve().parents[2]


def test_only_esol_and_bbbp_are_embedded_and_match_their_cards() -> None:
    files = sorted(p.relative_to(EMBEDDED_DIR).as_posix() for p in EMBEDDED_DIR.rglob("*") if p.is_file())
    assert files == ["SOURCE.md", "chem/BBBP.csv", "chem/delaney-processed.csv"]
    source = (EMBEDDED_DIR / "SOURCE.md").read_text()
    for name in ("esol", "bbbp"):
        spec = CARDS[name].files[0]
        path = embedded_path(CARDS[name], spec)
        assert path is not None and hashlib.sha256(path.read_bytes()).hexdigest() == spec.sha256
        assert spec.sha256 in source and spec.url in source
    assert b"\r\n" in (EMBEDDED_DIR / "chem" / "BBBP.csv").read_bytes()[:200]  # CRLF kept (.gitattributes -text)
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["sciptm"]
    assert "data/embedded/chem/*.csv" in package_data and "data/embedded/*.md" in package_data


def test_quick_datasets_load_offline_without_a_mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCIPTM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("SCIPTM_DATA_MIRROR", raising=False)
    monkeypatch.setenv("SCIPTM_OFFLINE", "1")
    assert len(sd.load("esol", progress=False)) == 1128 and len(sd.load("bbbp", progress=False)) == 2050
    with pytest.raises(sd.DataUnavailableError, match="Lipophilicity.csv"):
        sd.load("lipo", progress=False)  # everything else still needs the cache, a mirror or a download
    monkeypatch.setenv("SCIPTM_EMBEDDED_DATA", "0")
    with pytest.raises(sd.DataUnavailableError, match="delaney-processed.csv"):
        sd.load("esol", progress=False)
