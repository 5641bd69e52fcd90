"""Identity keys of corpus items, for de-duplication and for filtering out benchmark items.

One :class:`CorpusKeyer` per domain says what "the same item" means:

======== ===================================== ==============================================================
domain   de-duplication key                    benchmark-blocking keys
======== ===================================== ==============================================================
smiles   RDKit canonical isomeric SMILES       canonical SMILES *without* stereo, so stereoisomers of a
         (the domain's token text)             benchmark molecule are dropped too (stricter than exact match)
protein  the exact sequence (upper case)       the exact sequence
crystal  the structure token text              ``reduced formula|space-group number`` (symprec 0.1) where the
                                               benchmark has structures, the reduced formula alone where it
                                               has only formulas (every Matbench task in the mirror, the
                                               composition tasks included)
======== ===================================== ==============================================================

Benchmark keys are read from the data mirror (every benchmark file of the domain; see each keyer).
Test membership of most benchmarks depends on the split (scaffold/random/CV folds), so *all* benchmark
items are blocked, not only one split's test rows.

Example
-------
>>> keyer = KEYERS.get("smiles")()
>>> keyer.block_keys("C[C@H](N)O", "C[C@H](N)O")
('CC(N)O',)
"""
from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from sciptm.registry import Registry


class CorpusKeyer:
    """How one domain identifies items. Subclasses implement ``block_keys``, ``benchmark_files`` and
    ``file_keys`` (and ``dedup_key`` when the token text is not the identity)."""

    name: ClassVar[str] = ""

    def dedup_key(self, item: Any, text: str) -> str:
        """The key under which two corpus items count as duplicates (first one kept)."""
        return text

    def block_keys(self, item: Any, text: str) -> tuple[str, ...]:
        """Keys matched against the benchmark keys; any match drops the item."""
        raise NotImplementedError

    def benchmark_files(self, mirror: Path) -> list[Path]:
        """Every benchmark file of the domain found in the mirror."""
        raise NotImplementedError

    def file_keys(self, path: Path) -> set[str]:
        """Blocking keys of all items of one benchmark file."""
        raise NotImplementedError

    def benchmark_keys(self, mirror: Path, files: Iterable[str | Path] | None = None) -> dict[str, set[str]]:
        """``{benchmark file name: blocking keys}`` for ``files`` (relative to ``mirror``) or every benchmark file."""
        paths = [Path(f) if Path(f).is_absolute() else mirror / f for f in files] if files is not None \
            else self.benchmark_files(mirror)
        if not paths:
            raise FileNotFoundError(f"no {self.name} benchmark files found under {mirror}")
        return {bench_name(p): self.file_keys(p) for p in paths}


def bench_name(path: Path) -> str:
    """``folder/file`` name of a benchmark file, without ``.csv`` / ``.json`` / ``.gz``."""
    name = path.name
    for suffix in (".gz", ".csv", ".json"):
        name = name.removesuffix(suffix)
    return f"{path.parent.name}/{name}"


KEYERS: Registry[type[CorpusKeyer]] = Registry("corpus keyer")


def _read_column(path: Path, candidates: Iterable[str]) -> list[str] | None:
    """One column (the first of ``candidates`` present, case-insensitive) of a CSV, as strings."""
    header = pd.read_csv(path, nrows=0).columns
    lookup = {c.lower(): c for c in header}
    for name in candidates:
        if name.lower() in lookup:
            col = lookup[name.lower()]
            return pd.read_csv(path, usecols=[col], dtype=str)[col].dropna().tolist()
    return None


# ------------------------------------------------------------------------------------------- SMILES
@KEYERS.register("smiles")
class SmilesKeyer(CorpusKeyer):
    """Molecules: benchmark files are every ``chem/*.csv[.gz]`` except the MOSES corpus files;
    their SMILES column is ``smiles`` (``mol`` for BACE). Unparseable benchmark rows are skipped
    (they cannot match a valid corpus item)."""

    name = "smiles"

    def block_keys(self, item: Any, text: str) -> tuple[str, ...]:
        return (self.flat(text),)

    @staticmethod
    def flat(text: str) -> str:
        """Canonical SMILES without stereochemistry of a (valid, canonical) SMILES text."""
        from rdkit import Chem

        mol = Chem.MolFromSmiles(text)
        if mol is None:
            raise ValueError(f"RDKit could not parse {text!r}")
        return Chem.MolToSmiles(mol, isomericSmiles=False)

    def benchmark_files(self, mirror: Path) -> list[Path]:
        return sorted(p for p in (mirror / "chem").glob("*.csv*") if not p.name.lower().startswith("moses"))

    def file_keys(self, path: Path) -> set[str]:
        from sciptm.domains import get_domain

        domain = get_domain("smiles")
        keys: set[str] = set()
        for smi in _read_column(path, ("smiles", "mol")) or []:
            try:
                keys.add(self.flat(domain.to_text(smi)))
            except (ValueError, TypeError):
                continue
        return keys


# ------------------------------------------------------------------------------------------- protein
@KEYERS.register("protein")
class ProteinKeyer(CorpusKeyer):
    """Sequences: benchmark files are every ``protein/<dataset>/*.csv[.gz]`` (the pretraining corpus folder
    excluded); the sequence column is ``sequence``, ``seq`` or ``mutated_sequence``; keys are exact
    upper-case sequences."""

    name = "protein"

    def dedup_key(self, item: Any, text: str) -> str:
        return str(item).strip().upper()

    def block_keys(self, item: Any, text: str) -> tuple[str, ...]:
        return (str(item).strip().upper(),)

    def benchmark_files(self, mirror: Path) -> list[Path]:
        folders = sorted(p for p in (mirror / "protein").iterdir() if p.is_dir() and p.name != "pretrain_corpus")
        return [f for folder in folders for f in sorted(folder.glob("*.csv*"))]

    def file_keys(self, path: Path) -> set[str]:
        return {s.strip().upper() for s in _read_column(path, ("sequence", "seq", "mutated_sequence")) or []}


# ------------------------------------------------------------------------------------------- crystal
@KEYERS.register("crystal")
class CrystalKeyer(CorpusKeyer):
    """Structures: every Matbench task of ``materials/matbench/matbench_v0.1_dataset_metadata.json`` found in
    the mirror. A structure task with a ``<task>.json.gz`` of structures gives ``reduced formula|space group``
    keys (spglib, symprec 0.1); a task with only ``crabnet_formula_target/<task>.csv`` (the other structure
    tasks, and the composition tasks expt_gap, expt_is_metal, steels, glass) gives reduced-formula keys,
    which drop every corpus polymorph of those formulas (stricter than needed where structures are unknown;
    for composition tasks the formula is all there is)."""

    name = "crystal"
    symprec: ClassVar[float] = 0.1

    def block_keys(self, item: Any, text: str) -> tuple[str, ...]:
        structure = _as_structure(item)
        formula = structure.composition.reduced_formula
        first = text.split(" ", 1)[0]  # the crystal token text starts with "SG_<number>" (same spglib settings)
        from_text = first.startswith("SG_") and first[3:].isdigit()
        group = int(first[3:]) if from_text else _spacegroup(structure, self.symprec)
        return (f"{formula}|{group}", formula)

    def benchmark_files(self, mirror: Path) -> list[Path]:
        root = mirror / "materials" / "matbench"
        meta = json.loads((root / "matbench_v0.1_dataset_metadata.json").read_text())
        files = []
        for task, info in sorted(meta.items()):
            if info.get("input_type") not in ("structure", "composition"):
                continue
            for candidate in (root / f"{task}.json.gz", root / "crabnet_formula_target" / f"{task}.csv"):
                if candidate.exists():
                    files.append(candidate)
                    break
        return files

    def file_keys(self, path: Path) -> set[str]:
        from pymatgen.core import Composition, Structure

        if path.name.endswith(".json.gz"):
            with gzip.open(path, "rt") as handle:
                table = json.load(handle)
            col = table["columns"].index("structure")
            keys = set()
            for row in table["data"]:
                s = Structure.from_dict(row[col])
                keys.add(f"{s.composition.reduced_formula}|{_spacegroup(s, self.symprec)}")
            return keys
        return {Composition(f).reduced_formula for f in pd.read_csv(path)["formula"].astype(str)}


def _as_structure(item: Any):
    from pymatgen.core import Structure

    if isinstance(item, Structure):
        return item
    if isinstance(item, str):
        return Structure.from_str(item, fmt="cif")
    raise TypeError(f"expected a pymatgen Structure or CIF text, got {type(item).__name__}")


def _spacegroup(structure, symprec: float) -> int:
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    return int(SpacegroupAnalyzer(structure, symprec=symprec).get_space_group_number())


def label_split_ids(dataset: str, seeds: Iterable[int], field: str = "materials") -> tuple[set[str], dict[str, Any]]:
    """Record ids (``<index>.cif``) of the test rows of ``dataset``'s benchmark split for each seed, as the
    benchmark runner draws them (the dataset card's recommended split, the field's sizes), and a summary.

    ``mp_formation_energy`` is built from the same CIF corpus and labels as crystal pretraining with the
    ``formation_energy`` objective, so its test rows must not be pretraining targets.
    """
    import importlib

    from sciptm.benchmarks.fields import FIELDS
    from sciptm.data.cards import CARDS
    from sciptm.splits import make_split

    importlib.import_module(f"sciptm.benchmarks.models.{field}")  # registers the field
    card = CARDS.get(dataset)
    if card.split.predefined is not None or card.split.recommended != "random" or not card.n_rows:
        raise ValueError(f"label_split_ids handles card-sized random splits; {dataset} has "
                         f"{card.split.recommended!r} / predefined {card.split.predefined is not None}")
    # the CIF-archive loader returns rows in ``index`` order (row i = ``i.cif``: ``load(dataset).df["index"]``
    # equals ``arange(n)``), so the card's row count is enough: no need to parse 36,737 CIFs here
    method, n = "random", int(card.n_rows)
    sizes = FIELDS.get(field).sizes
    index = np.arange(n)
    ids: set[str] = set()
    per_seed = {}
    for seed in seeds:
        split = make_split(method, n=n, seed=int(seed), sizes=sizes)
        per_seed[int(seed)] = int(len(split.test))
        ids.update(f"{int(index[i])}.cif" for i in split.test)
    return ids, {"dataset": dataset, "split": method, "sizes": list(sizes), "test_rows_per_seed": per_seed,
                 "ids": len(ids)}


# ------------------------------------------------------------------------------------------- helpers
def key_hash(key: str) -> int:
    """A 64-bit hash of a key (blake2b); collisions among 10^7 keys have probability < 3e-6."""
    import hashlib

    return int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")


def hash_keys(keys: Iterable[str]) -> np.ndarray:
    """``uint64`` hashes of many keys."""
    return np.fromiter((key_hash(k) for k in keys), dtype=np.uint64)


def filter_against(items_keys: Iterable[Any], blocked_keys: Iterable[Any]) -> np.ndarray:
    """Boolean mask over ``items_keys``: ``True`` where the item is *not* blocked (keep it).

    Keys may be strings or (for large corpora) ``uint64`` key hashes from :func:`hash_keys`; an item given
    several keys (a tuple) is blocked when any of them is blocked.

    >>> filter_against(["CCO", "c1ccccc1", ("CC", "C")], {"c1ccccc1", "C"}).tolist()
    [True, False, False]
    """
    if isinstance(items_keys, np.ndarray) and items_keys.dtype.kind in "ui":
        blocked = np.fromiter(blocked_keys, dtype=items_keys.dtype) if not isinstance(blocked_keys, np.ndarray) \
            else blocked_keys
        return ~np.isin(items_keys, blocked)
    blocked_set = set(blocked_keys)
    mask = []
    for key in items_keys:
        keys = key if isinstance(key, tuple) else (key,)
        mask.append(not any(k in blocked_set for k in keys))
    return np.asarray(mask, dtype=bool)
