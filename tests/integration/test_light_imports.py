"""``import sciptm``, ``import sciptm.errors``, ``sciptm --help`` and ``sciptm datasets list`` load neither torch,
transformers, RDKit, pymatgen, DeepChem nor matplotlib (each is checked in a fresh interpreter)."""
from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "rdkit", "pymatgen", "deepchem", "matplotlib")
CLI = "import sys\nsys.argv = {argv!r}\nfrom sciptm.cli.main import main\ntry:\n    main()\nexcept SystemExit:\n    pass\n"


@pytest.mark.parametrize("code", [
    "import sciptm",
    "import sciptm.errors",
    "import sciptm.settings, sciptm.splits, sciptm.registry",
    "from sciptm.reports import BenchmarkResults",
    "from sciptm.benchmarks.layout import ResultsLayout",
    CLI.format(argv=["sciptm", "--help"]),
    CLI.format(argv=["sciptm", "datasets", "list"]),
], ids=["sciptm", "errors", "foundation", "reports", "layout", "--help", "datasets-list"])
def test_entry_points_stay_light(code: str) -> None:
    probe = code + f"\nimport sys\nprint('LOADED=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    loaded = out.stdout.strip().splitlines()[-1]
    assert loaded == "LOADED=", f"{code!r} imported {loaded.removeprefix('LOADED=')}"


def test_lazy_names_still_resolve() -> None:
    code = ("import sys, sciptm\nassert 'torch' not in sys.modules\n"
            "print(sciptm.show_tokens('OCC', domain='smiles').tokens, sciptm.Encoder.__name__, "
            "sciptm.PropertyPredictor.__name__, sciptm.interpret.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "['[CLS]', 'C', 'C', 'O', '[SEP]'] Encoder PropertyPredictor sciptm.interpret"
