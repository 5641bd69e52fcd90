"""Property-based fuzzing of every place user input enters sciptm (issue 13): each domain adapter (SMILES, protein
sequences and mutation strings, crystal compositions and CIF text), the CSV/FASTA/CIF readers, YAML configs (also
through the CLI) and model-name specs. The only allowed outcomes are a valid result or a typed sciptm error naming
the input; see ``fuzz_targets.py``. The suite runs a few dozen derandomized inputs per target (well under a
minute in all); ``benchmarks/fuzz/run_fuzz.py`` runs the same properties at >= 10,000 inputs each.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from fuzz_targets import TARGETS, Target  # noqa: E402

#: inputs per target in the suite (the slow parsers get fewer)
EXAMPLES = {"cif_text": 40, "cif_file": 30, "yaml_cli": 40, "csv": 60, "fasta": 60}


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_fuzz_input_gives_a_valid_result_or_a_typed_error_naming_it(target: Target) -> None:
    @settings(max_examples=EXAMPLES.get(target.name, 80), deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(target.strategy())
    def prop(item: object) -> None:
        assert target.check(item) in ("valid", "typed")

    prop()
