"""Splits on real MoleculeNet files: DeepChem equality, partition contract, seeds, hashes, files."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, RDLogger
from sklearn.model_selection import KFold

from sciptm import splits
from sciptm.domains.smiles import splits as smiles_splits
from sciptm.errors import DataIntegrityError, InvalidInputError, SkippedInputWarning, UnknownNameError
from sciptm.splits import SPLITTERS, Split, make_folds, make_split

RDLogger.DisableLog("rdApp.*")


@pytest.fixture(scope="module")
def bbbp(chem_dir: Path) -> pd.DataFrame:
    return pd.read_csv(chem_dir / "BBBP.csv")


@pytest.fixture(scope="module")
def bace(chem_dir: Path) -> pd.DataFrame:
    return pd.read_csv(chem_dir / "bace.csv", usecols=["mol", "Class", "Model"])


@pytest.fixture(scope="module")
def esol_smiles(chem_dir: Path) -> list[str]:
    return pd.read_csv(chem_dir / "delaney-processed.csv")["smiles"].tolist()


def _deepchem_scaffold(smiles: list[str]) -> tuple[list[int], list[int], list[int]]:
    dc = pytest.importorskip("deepchem")
    dataset = dc.data.NumpyDataset(X=np.zeros(len(smiles)), ids=np.array(smiles, dtype=object))
    return dc.splits.ScaffoldSplitter().split(dataset, 0.8, 0.1, 0.1)


def _check_partition(split: Split, n: int) -> None:
    parts = [split.train, split.valid, split.test, split.excluded]
    joined = np.concatenate(parts)
    assert split.n == n
    assert len(joined) == len(set(joined.tolist())) == n, "parts must be disjoint and cover every row"
    assert sorted(joined.tolist()) == list(range(n))


# ----------------------------------------------------------------------------- DeepChem equality


def test_scaffold_equals_deepchem_on_bbbp(bbbp: pd.DataFrame) -> None:
    smiles = bbbp["smiles"].tolist()
    expected = _deepchem_scaffold(smiles)
    with pytest.warns(SkippedInputWarning, match="11 SMILES"):
        split = make_split("scaffold", smiles=smiles, seed=123)
    assert split.train.tolist() == list(expected[0])
    assert split.valid.tolist() == list(expected[1])
    assert split.test.tolist() == list(expected[2])
    # the 11 rows RDKit cannot parse are in no part, exactly as DeepChem leaves them out
    unparsable = [i for i, s in enumerate(smiles) if Chem.MolFromSmiles(s) is None]
    assert len(unparsable) == 11
    assert split.excluded.tolist() == unparsable
    _check_partition(split, len(smiles))
    assert split.seed is None  # deterministic: the seed is ignored


def test_scaffold_equals_deepchem_on_bace(bace: pd.DataFrame) -> None:
    smiles = bace["mol"].tolist()
    expected = _deepchem_scaffold(smiles)
    split = smiles_splits.scaffold_split(smiles)
    assert [split.train.tolist(), split.valid.tolist(), split.test.tolist()] == [list(e) for e in expected]
    assert split.sizes == {"train": 1210, "valid": 151, "test": 152}


# ----------------------------------------------------------------------------- contract over the registry


def test_every_registered_method_partitions_rows(bace: pd.DataFrame) -> None:
    smiles = bace["mol"].tolist()[:400]
    labels = bace["Class"].to_numpy()[:400]
    column = bace["Model"].tolist()[:400]
    inputs = {"n": {"n": 400}, "smiles": {"smiles": smiles}, "labels": {"labels": labels}, "column": {"column": column}}
    assert {"random", "stratified", "scaffold", "scaffold_balanced", "predefined", "kfold"} <= set(SPLITTERS.keys())
    for name, splitter in SPLITTERS.items():
        if splitter.fn.__module__ != "sciptm.splits":
            continue  # domain splitters (protein clusters, position folds) have their own tests
        kw = dict(inputs[splitter.needs])
        if splitter.folds:
            folds = make_folds(name, seed=1, k=4, valid_fraction=0.1, **kw)
            assert len(folds) == 4
            tests = np.concatenate([f.test for f in folds])
            assert sorted(tests.tolist()) == list(range(400)), name
            for fold in folds:
                _check_partition(fold, 400)
                assert fold.sizes["valid"] > 0
            assert make_split(name, seed=1, k=4, fold=2, valid_fraction=0.1, **kw) == folds[2]
        else:
            split = make_split(name, seed=1, **kw)
            _check_partition(split, 400)
            assert split.method == name
            assert split.sizes["train"] > split.sizes["test"] > 0, name


def test_scaffold_groups_never_straddle_parts(esol_smiles: list[str]) -> None:
    for split in (smiles_splits.scaffold_split(esol_smiles), smiles_splits.scaffold_balanced_split(esol_smiles, seed=3)):
        part_of = split.labels()
        seen: dict[str, str] = {}
        for i, smi in enumerate(esol_smiles):
            scaffold = smiles_splits.murcko_scaffold(smi)
            assert seen.setdefault(scaffold, part_of[i]) == part_of[i], (split.method, scaffold)
        # the most common scaffold (benzene) is in train for both methods
        assert part_of[esol_smiles.index("c1ccccc1")] == "train"


def test_seeds_reproduce_and_differ(esol_smiles: list[str]) -> None:
    for method, kw in (("random", {"n": len(esol_smiles)}), ("scaffold_balanced", {"smiles": esol_smiles})):
        a = make_split(method, seed=0, **kw)
        b = make_split(method, seed=0, **kw)
        c = make_split(method, seed=1, **kw)
        assert a == b and a.hash == b.hash
        assert a.hash != c.hash
        assert not np.array_equal(np.sort(a.test), np.sort(c.test))
    s0 = make_split("scaffold", smiles=esol_smiles, seed=0)
    s1 = make_split("scaffold", smiles=esol_smiles, seed=99)
    assert s0.hash == s1.hash


def test_kfold_reproduces_official_matbench_folds(mirror: Path) -> None:
    folds = splits.kfold(1000, k=5, seed=18012019)
    expected = KFold(n_splits=5, shuffle=True, random_state=18012019).split(np.arange(1000))
    for fold, (train, test) in zip(folds, expected, strict=True):
        assert fold.test.tolist() == test.tolist() and fold.train.tolist() == train.tolist()
        assert fold.sizes["valid"] == 0
    path = mirror / "materials" / "matbench" / "matbench_v0.1_validation.json.gz"
    if not path.is_file():
        pytest.skip(f"{path} not in the mirror")
    with gzip.open(path, "rt") as fh:
        official = json.load(fh)["splits"]["matbench_steels"]
    ours = splits.kfold(312, k=5, seed=18012019)  # ids are mb-steels-001 ... mb-steels-312, in row order
    for i, fold in enumerate(ours):
        test = sorted(int(mbid.rsplit("-", 1)[1]) - 1 for mbid in official[f"fold_{i}"]["test"])
        assert sorted(fold.test.tolist()) == test


def test_stratified_keeps_class_ratio(bbbp: pd.DataFrame) -> None:
    y = bbbp["p_np"].to_numpy()
    overall = y.mean()
    split = make_split("stratified", labels=y, seed=5)
    _check_partition(split, len(y))
    for part in (split.train, split.valid, split.test):
        assert abs(y[part].mean() - overall) < 0.01
    # a plain random split of the same sizes is allowed to drift further; stratified must not
    assert split.sizes == splits.random_split(len(y), seed=5).sizes
    for fold in splits.stratified_kfold(y, k=5, seed=0):
        assert abs(y[fold.test].mean() - overall) < 0.01
    with pytest.raises(ValueError, match="row 3"):
        splits.stratified_split(np.array([0, 1, 0, np.nan, 1] * 4))


def test_predefined_column_and_carved_valid(bace: pd.DataFrame) -> None:
    shipped = bace["Model"].tolist()  # "Train" / "Valid" / "Test" as BACE ships it
    split = make_split("predefined", column=shipped)
    counts = bace["Model"].value_counts()
    assert split.sizes == {"train": counts["Train"], "valid": counts["Valid"], "test": counts["Test"]}
    assert split.test.tolist() == [i for i, v in enumerate(shipped) if v == "Test"]
    with pytest.raises(ValueError, match="already has valid rows"):
        make_split("predefined", column=shipped, valid_fraction=0.1)
    # fixed test, seeded valid carved from train (TDC style)
    column = ["train" if v == "Valid" else v for v in shipped]
    split = make_split("predefined", column=column)
    assert split.sizes["valid"] == 0
    carved = make_split("predefined", column=column, valid_fraction=0.1, seed=2)
    assert carved.test.tolist() == split.test.tolist()
    assert sorted(np.concatenate([carved.train, carved.valid]).tolist()) == split.train.tolist()
    assert carved.sizes["valid"] == round(0.1 * split.sizes["train"])
    assert make_split("predefined", column=column, valid_fraction=0.1, seed=3).hash != carved.hash
    with pytest.raises(ValueError, match="row 2"):
        splits.predefined_split(["train", "test", "holdout"])


# ----------------------------------------------------------------------------- identity and files


def test_hash_tracks_indices_not_order() -> None:
    a = Split(train=[0, 1, 2, 3], valid=[4], test=[5], method="manual")
    assert len(a.hash) == 16 and int(a.hash, 16) >= 0
    assert Split(train=[3, 2, 1, 0], valid=[4], test=[5], method="manual").hash == a.hash
    assert Split(train=[0, 1, 2, 4], valid=[3], test=[5], method="manual").hash != a.hash
    assert Split(train=[0, 1, 2, 3], valid=[5], test=[4], method="manual").hash != a.hash
    assert Split(train=[0, 1, 2, 3], valid=[4], test=[5], method="other").hash != a.hash


def test_save_load_round_trip_and_tamper_detection(tmp_path: Path, esol_smiles: list[str]) -> None:
    split = smiles_splits.scaffold_balanced_split(esol_smiles, seed=4)
    path = split.save(tmp_path / "split.json")
    loaded = Split.load(path)
    assert loaded == split and loaded.hash == split.hash
    assert loaded.params == {"sizes": [0.8, 0.1, 0.1]} and loaded.seed == 4 and loaded.n == len(esol_smiles)
    assert make_split("predefined", path=path) == split

    record = json.loads(path.read_text())
    record["train"][0], record["test"][0] = record["test"][0], record["train"][0]
    path.write_text(json.dumps(record))
    with pytest.raises(DataIntegrityError, match="does not match"):
        Split.load(path)
    (tmp_path / "other.json").write_text(json.dumps({"train": [0]}))
    with pytest.raises(ValueError, match="not a sciptm split file"):
        Split.load(tmp_path / "other.json")


def test_views_select_and_frame() -> None:
    split = Split(train=[2, 0], valid=[1], test=[4], method="manual", excluded=[3])
    train, valid, test = split.select(np.array([10, 11, 12, 13, 14]))
    assert train.tolist() == [12, 10] and valid.tolist() == [11] and test.tolist() == [14]
    frame = split.to_frame()
    assert frame["part"].tolist() == ["train", "valid", "train", "excluded", "test"]
    df_train, _, _ = split.select(pd.DataFrame({"x": range(5)}))
    assert df_train["x"].tolist() == [2, 0]
    with pytest.raises(ValueError, match="5 rows"):
        split.select([1, 2, 3])


# ----------------------------------------------------------------------------- bad inputs


def test_unparsable_smiles_do_not_crash_scaffold_splits() -> None:
    smiles = ["c1ccccc1C", "C1CC", None, "c1ccccc1O", "not a smiles", "C1CCCCC1", "CCO", "CCN"]
    for fn in (smiles_splits.scaffold_split, smiles_splits.scaffold_balanced_split):
        with pytest.warns(SkippedInputWarning, match="rows 1, 2, 4"):
            split = fn(smiles, (0.5, 0.25, 0.25))  # type: ignore[arg-type]
        assert split.excluded.tolist() == [1, 2, 4]
        _check_partition(split, len(smiles))
    with pytest.raises(InvalidInputError) as info:
        smiles_splits.scaffold_split(smiles, invalid="raise")  # type: ignore[arg-type]
    assert [r.index for r in info.value.records] == [1, 2, 4]


def test_front_door_rejects_bad_requests() -> None:
    with pytest.raises(UnknownNameError, match="scaffold_balanced"):
        make_split("butina", n=10)
    with pytest.raises(TypeError, match="fold"):
        make_split("kfold", n=10)
    with pytest.raises(ValueError, match="summing to 1"):
        make_split("random", n=10, sizes=(0.8, 0.3, 0.1))
    with pytest.raises(ValueError, match="disagree"):
        make_split("scaffold", n=3, smiles=["CCO", "CCN"])
    with pytest.raises(ValueError, match="needs smiles"):
        make_split("scaffold", n=3)
    with pytest.raises(ValueError, match="row 2"):
        Split(train=[0, 1, 2], valid=[2], test=[3], method="manual")
    with pytest.raises(ValueError, match="out of range"):
        Split(train=[0, 1], valid=[2], test=[9], method="manual", n=5)
