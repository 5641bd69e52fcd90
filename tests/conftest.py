"""Shared pytest fixtures: the data mirror, and a private, offline data environment.

For the whole session ``SCIPTM_CACHE`` points at a temporary folder (tests never
write to the user cache), ``SCIPTM_OFFLINE=1`` forbids downloads from the internet,
``SCIPTM_DATA_URL`` is cleared, and ``SCIPTM_DATA_MIRROR`` is set to the mirror when
one is found, so ``sciptm.datasets.load(...)`` works in any test. Tests that need
another setting override it with ``monkeypatch``.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def _find_mirror() -> Path | None:
    env = os.environ.get("SCIPTM_DATA_MIRROR")
    path = Path(env) if env else REPO.parent / "shared" / "datasets"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def mirror() -> Path:
    """The data mirror (``SCIPTM_DATA_MIRROR``, else ``<repo>/../shared/datasets``); skips if absent."""
    path = _find_mirror()
    if path is None:
        pytest.skip("data mirror not found: set SCIPTM_DATA_MIRROR or provide <repo>/../shared/datasets")
    return path


@pytest.fixture(scope="session")
def chem_dir(mirror: Path) -> Path:
    """The mirror's chem folder; skips when absent."""
    if not (mirror / "chem").is_dir():
        pytest.skip(f"no chem folder in the data mirror {mirror}")
    return mirror / "chem"


@pytest.fixture(scope="session")
def training_kernels() -> Any:
    """sciptm's training-kernel library (``fused_training.kernel()``, the GEMM's signature bound); skips where
    it cannot be built (no C compiler, no AVX2)."""
    from sciptm.training import fused_training, packed_linear

    lib = fused_training.kernel()
    if lib is None or not packed_linear.available(lib):
        pytest.skip("no C compiler / AVX2 here: the training kernels are not built")
    return packed_linear.bind(lib)


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One intra-op thread: on small shared CPUs torch's thread pool oversubscribes the cores and
    tiny models run 10x slower; results do not depend on it."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session", autouse=True)
def _data_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    found = _find_mirror()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCIPTM_CACHE", str(tmp_path_factory.mktemp("sciptm-cache")))
        mp.setenv("SCIPTM_OFFLINE", "1")
        mp.delenv("SCIPTM_DATA_URL", raising=False)
        if found is not None:
            mp.setenv("SCIPTM_DATA_MIRROR", str(found))
        yield
