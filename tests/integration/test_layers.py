"""The package's layer contract (``[tool.importlinter]`` in pyproject.toml) holds: every module imports only
from the layers below it, so the import graph has no circle. A back-edge fails this test with import-linter's
report naming the importing module, the imported one and the line."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _lint_imports() -> list[str]:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    if not Path(exe).exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    return [exe]


def test_layer_contract_is_kept() -> None:
    out = subprocess.run([*_lint_imports(), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "Contracts: 1 kept, 0 broken." in out.stdout


def test_a_back_edge_breaks_the_contract(tmp_path: Path) -> None:
    """A copy of the package in which ``sciptm.settings`` (the bottom layer) imports ``sciptm.reports``."""
    copy = tmp_path / "repo"
    shutil.copytree(REPO / "sciptm", copy / "sciptm", ignore=shutil.ignore_patterns("__pycache__", "checkpoints"))
    shutil.copy(REPO / "pyproject.toml", copy / "pyproject.toml")
    settings = copy / "sciptm" / "settings.py"
    settings.write_text(settings.read_text() + "\nfrom sciptm.reports import tables  # noqa: E402  (a back-edge)\n")
    out = subprocess.run([*_lint_imports(), "--no-cache"], cwd=copy, capture_output=True, text=True, timeout=600,
                         env={"PYTHONPATH": str(copy), "PATH": str(Path(sys.executable).parent)})
    assert out.returncode == 1, out.stdout[-4000:]
    assert "BROKEN" in out.stdout and "sciptm.settings is not allowed to import sciptm.reports" in out.stdout


def test_no_import_cycles_outside_the_known_one() -> None:
    """Every import counts here, deferred ones too (``TYPE_CHECKING`` ones do not): strongly connected components
    of the module graph, as ``benchmarks/architecture/cycles.py`` prints them."""
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("sciptm", exclude_type_checking_imports=True)
    for package in [m for m in graph.modules if graph.find_children(m)]:  # a package re-exporting its own
        for sub in graph.find_modules_directly_imported_by(package):       # submodules is not a cycle
            if sub.startswith(package + "."):
                graph.remove_import(importer=package, imported=sub)
    seen: set[str] = set()
    cycles = []
    for module in sorted(graph.modules):
        if module in seen:
            continue
        # the modules that import `module` (directly or not) and that `module` imports (directly or not)
        down = graph.find_downstream_modules(module)
        up = graph.find_upstream_modules(module)
        component = (down & up) | {module}
        seen |= component
        if len(component) > 1:
            cycles.append(sorted(component))
    # known, left to the encoder zoo's owners: encoder.py resolves zoo names and zoo/chgnet build Encoders
    allowed = {"sciptm.encoders.chgnet", "sciptm.encoders.encoder", "sciptm.encoders.zoo"}
    assert [c for c in cycles if not set(c) <= allowed] == []
