"""The split core is domain-free: importing it loads no RDKit, and domain splitters load on first lookup."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import sciptm.splits as splits
from sciptm._util.atomic import write_text_atomic
from sciptm.splits import SPLITTERS, Split, make_split


def test_core_imports_no_rdkit_and_domain_splitters_load_lazily() -> None:
    code = ("import sys, sciptm.splits as s; assert 'rdkit' not in sys.modules, 'rdkit'; "
            "assert 'scaffold' in s.SPLITTERS.keys() and 'cluster' in s.SPLITTERS.keys(); "
            "assert 'sciptm.domains.smiles.splits' not in sys.modules; "
            "s.make_split('scaffold', smiles=['c1ccccc1C', 'CCO', 'CCN'], sizes=(1/3, 1/3, 1/3)); "
            "assert 'sciptm.domains.smiles.splits' in sys.modules and 'rdkit' in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_moved_scaffold_names_warn_and_still_work() -> None:
    from sciptm.domains.smiles.splits import scaffold_split

    with pytest.warns(DeprecationWarning, match="moved to sciptm.domains.smiles.splits"):
        old = splits.scaffold_split
    assert old is scaffold_split
    smiles = ["c1ccccc1CC", "CCO", "c1ccccc1O", "CCN", "C1CCCCC1N", "CC(=O)O"] * 5
    assert old(smiles) == make_split("scaffold", smiles=smiles)


def test_sizing_helpers_are_public_and_carve_is_seeded() -> None:
    rng = np.random.default_rng
    train, valid = splits.carve_valid(np.arange(50), 0.2, rng(1))
    assert len(valid) == 10 and not set(train) & set(valid) and sorted([*train, *valid]) == list(range(50))
    assert np.array_equal(splits.carve_valid(np.arange(50), 0.2, rng(1))[1], valid)
    assert splits.cut_counts(101, splits.check_sizes((0.8, 0.1, 0.1))) == (80, 10, 11)
    with pytest.raises(ValueError, match="summing to 1"):
        splits.check_sizes((0.8, 0.1, 0.2))


def test_split_save_is_atomic_and_leaves_no_temp_file(tmp_path, monkeypatch) -> None:
    split = make_split("random", n=20, seed=1)
    path = split.save(tmp_path / "a" / "random_seed1.json")
    assert Split.load(path) == split and [p.name for p in path.parent.iterdir()] == ["random_seed1.json"]
    # a failing write keeps the old file and removes its temporary file
    import pathlib

    def boom(self, data, *a, **k):  # half a file reaches the disk, then the write fails
        with open(self, "w") as fh:
            fh.write(data[:3])
        raise OSError("disk full")

    monkeypatch.setattr(pathlib.Path, "write_text", boom)
    with pytest.raises(OSError, match="disk full"):
        write_text_atomic(path, "garbage")
    monkeypatch.undo()
    assert Split.load(path) == split and [p.name for p in path.parent.iterdir()] == ["random_seed1.json"]
    assert "random" in SPLITTERS


def test_inputs_is_the_domain_neutral_name_of_smiles() -> None:
    wt = "MKTAYIAKQRQISFVKSHFS"
    seqs = [wt[:i] + "G" + wt[i + 1:] for i in range(20)]
    by_inputs = make_split("contiguous", inputs=seqs, seed=1, valid_fraction=0.0)
    assert by_inputs == make_split("contiguous", smiles=seqs, seed=1, valid_fraction=0.0)
    assert by_inputs.test.tolist() == [4, 5, 6, 7]
    with pytest.raises(TypeError, match="pass the per-row inputs once"):
        make_split("contiguous", inputs=seqs, smiles=seqs)
