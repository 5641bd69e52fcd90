"""Root pytest configuration: the package's doctests (``--doctest-modules``, collected from ``sciptm/``).

Doctests run in the same private, offline data environment as the tests (``tests/conftest.py``); those that
read the data mirror are skipped when no mirror is found. The deprecated alias modules (old import paths that
*are* the new modules) are not collected twice.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent

#: old import paths kept one release as aliases of the moved modules (their doctests run at the new path)
collect_ignore = [
    "sciptm/io.py", "sciptm/splits_protein.py", "sciptm/tasks.py", "sciptm/display.py",
    "sciptm/protein/mutations.py", "sciptm/protein/clustering.py", "sciptm/protein/scoring.py",
    "sciptm/features/composition.py", "sciptm/features/rdkit2d.py", "sciptm/protein/__init__.py",
]

#: modules whose doctests load datasets from the mirror
NEEDS_MIRROR = ("sciptm.datasets", "sciptm.data.", "sciptm.benchmarks.", "sciptm.tuning")


def _mirror() -> Path | None:
    env = os.environ.get("SCIPTM_DATA_MIRROR")
    path = Path(env) if env else REPO.parent / "shared" / "datasets"
    return path if path.is_dir() else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _mirror() is not None:
        return
    skip = pytest.mark.skip(reason="doctest reads the data mirror (set SCIPTM_DATA_MIRROR)")
    for item in items:
        if isinstance(item, pytest.DoctestItem) and item.name.startswith(NEEDS_MIRROR):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _doctest_environment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A private cache and no downloads for doctests (the tests get the same from tests/conftest.py)."""
    if not isinstance(request.node, pytest.DoctestItem):
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCIPTM_CACHE", str(tmp_path_factory.mktemp("sciptm-doctest-cache")))
        mp.setenv("SCIPTM_OFFLINE", "1")
        mp.delenv("SCIPTM_DATA_URL", raising=False)
        found = _mirror()
        if found is not None:
            mp.setenv("SCIPTM_DATA_MIRROR", str(found))
        mp.chdir(tmp_path_factory.mktemp("doctest-cwd"))  # doctests that write files write them here
        yield
