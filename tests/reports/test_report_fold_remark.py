"""A one-fold Matbench score beside five-fold leaderboard means carries a remark (#14)."""
from __future__ import annotations

from sciptm.reports.references import MATBENCH_PROTOCOL, fold_remark


def test_fold_remark_only_for_partial_matbench_runs() -> None:
    assert "1 of 5 folds" in fold_remark("matbench_steels", MATBENCH_PROTOCOL, 1)
    assert "4 of 5 folds" in fold_remark("matbench_phonons_formula", MATBENCH_PROTOCOL, 4)
    assert fold_remark("matbench_steels", MATBENCH_PROTOCOL, 5) == ""
    assert fold_remark("esol", "deepchem-scaffold-811", 1) == ""
    assert fold_remark("matbench_steels", "sciptm-random-811", 1) == ""
