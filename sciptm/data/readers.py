"""Readers that turn one verified dataset file into a pandas DataFrame.

Each reader is registered under the card ``format`` it handles; a reader takes the
file path and its verified SHA-256 (used to key derived caches).

======================  ==========================================================
format                  result
======================  ==========================================================
``csv``, ``csv.gz``     ``pandas.read_csv`` (blank lines skipped, e.g. HIV.csv)
``tsv``                 tab-separated text
``json.gz``             Matbench/matminer ``orient="split"`` JSON; structures stay dicts
``fasta.gz``            columns ``id``, ``description``, ``sequence``
``cif-tar.gz``          CGCNN-style corpus: ``index``, ``material_id``, ``cif``, target;
                        parsed once into JSON lines in the cache (36,737 CIFs: ~2 s the
                        first time, well under 1 s afterwards)
``sdf``, ``sdf.gz``      RDKit ``SDMolSupplier``: ``name``, ``smiles`` and the SD properties
                        (:func:`read_sdf`; also read for user files by the CLI and ``from_csv``)
======================  ==========================================================

Example
-------
>>> from sciptm.data.readers import READERS
>>> sorted(READERS.keys())
['cif-tar.gz', 'csv', 'csv.gz', 'fasta.gz', 'json.gz', 'sdf', 'sdf.gz', 'tsv']
"""
from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sciptm._util.atomic import atomic_path
from sciptm._util.textio import open_text  # noqa: F401  (re-exported: lived here before)
from sciptm.data import locations
from sciptm.registry import Registry

Reader = Callable[[Path, str], pd.DataFrame]
READERS: Registry[Reader] = Registry("dataset file format")

_GZIP_MAGIC = b"\x1f\x8b"


@READERS.register("csv")
def read_csv(path: Path, sha256: str) -> pd.DataFrame:
    """Comma-separated text (blank lines skipped)."""
    return pd.read_csv(path, skip_blank_lines=True)


@READERS.register("csv.gz")
def read_csv_gz(path: Path, sha256: str) -> pd.DataFrame:
    """Gzip-compressed CSV (blank lines skipped)."""
    with open_text(path) as fh:
        return pd.read_csv(fh, skip_blank_lines=True)


@READERS.register("tsv")
def read_tsv(path: Path, sha256: str) -> pd.DataFrame:
    """Tab-separated text."""
    with open_text(path) as fh:
        return pd.read_csv(fh, sep="\t", skip_blank_lines=True)


@READERS.register("json.gz")
def read_split_json(path: Path, sha256: str) -> pd.DataFrame:
    """pandas ``orient="split"`` JSON (Matbench): ``{"columns", "index", "data"}``.

    Structure cells stay plain dicts (``Structure.as_dict()``); convert them lazily with
    :meth:`sciptm.datasets.Dataset.structures`.
    """
    with open_text(path) as fh:
        raw = json.load(fh)
    if not isinstance(raw, dict) or not {"columns", "data"} <= set(raw):
        raise ValueError(f"{path}: expected pandas orient='split' JSON with 'columns' and 'data'")
    return pd.DataFrame(raw["data"], columns=raw["columns"])


@READERS.register("fasta.gz")
def read_fasta(path: Path, sha256: str) -> pd.DataFrame:
    """FASTA (gzip or plain): one row per record with ``id``, ``description``, ``sequence``."""
    ids: list[str] = []
    descriptions: list[str] = []
    sequences: list[str] = []
    chunks: list[str] = []
    with open_text(path) as fh:
        for line in fh:
            line = line.rstrip("\r\n")
            if line.startswith(">"):
                if ids:
                    sequences.append("".join(chunks))
                header = line[1:].strip()
                ids.append(header.split(maxsplit=1)[0] if header else "")
                descriptions.append(header)
                chunks = []
            elif line.strip():
                if not ids:
                    raise ValueError(f"{path}: sequence data before the first '>' header")
                chunks.append(line.strip())
    if ids:
        sequences.append("".join(chunks))
    return pd.DataFrame({"id": ids, "description": descriptions, "sequence": sequences})


def _parse_cif_tar(path: Path) -> list[dict[str, Any]]:
    cifs: dict[int, str] = {}
    props = ids = None
    with tarfile.open(path, "r:gz") as tf:
        for member in tf:
            if not member.isfile():
                continue
            name = member.name.rsplit("/", 1)[-1]
            handle = tf.extractfile(member)
            if handle is None:
                continue
            text = handle.read().decode("utf-8")
            if name.endswith(".cif") and name[:-4].isdigit():
                cifs[int(name[:-4])] = text
            elif name == "id_prop.csv":
                props = text
            elif name == "material_id_hash.csv":
                ids = text
    if props is None:
        raise ValueError(f"{path}: no id_prop.csv in the archive")
    table = pd.read_csv(io.StringIO(props), header=None, names=["index", "target"])
    id_map: dict[int, str] = {}
    if ids is not None:
        id_table = pd.read_csv(io.StringIO(ids), header=None, names=["index", "material_id"])
        id_map = dict(zip(id_table["index"].astype(int), id_table["material_id"].astype(str)))
    rows = []
    for idx, target in zip(table["index"].astype(int), table["target"].astype(float)):
        if idx not in cifs:
            raise ValueError(f"{path}: id_prop.csv row {idx} has no {idx}.cif in the archive")
        rows.append({"index": idx, "material_id": id_map.get(idx), "cif": cifs[idx], "target": target})
    return rows


@READERS.register("cif-tar.gz")
def read_cif_tar(path: Path, sha256: str) -> pd.DataFrame:
    """A CGCNN-layout tarball (``<i>.cif``, ``id_prop.csv``, optional ``material_id_hash.csv``).

    The parsed rows are cached as JSON lines under ``<cache>/datasets/_derived``, keyed by
    the archive's SHA-256, so later loads skip the tar scan. Columns: ``index``,
    ``material_id``, ``cif`` (the CIF text) and ``target`` (``id_prop.csv``'s value).
    """
    derived = locations.derived_cache_dir() / f"cif-tar-{sha256[:16]}.jsonl"
    if derived.is_file():
        with open(derived, encoding="utf-8") as fh:
            header = json.loads(fh.readline())
            if header.get("source_sha256") == sha256:
                rows = [json.loads(line) for line in fh]
                if len(rows) == header.get("n_rows"):
                    return pd.DataFrame(rows, columns=["index", "material_id", "cif", "target"])
    rows = _parse_cif_tar(path)
    with atomic_path(derived) as tmp, open(tmp, "w", encoding="utf-8") as out:
        out.write(json.dumps({"source_sha256": sha256, "n_rows": len(rows)}) + "\n")
        for row in rows:
            out.write(json.dumps(row) + "\n")
    return pd.DataFrame(rows, columns=["index", "material_id", "cif", "target"])


# --------------------------------------------------------------------------- SDF (user files and cards)
SDF_SUFFIXES = (".sdf", ".sdf.gz", ".sd", ".mol")


def is_sdf(path: str | Path) -> bool:
    """Whether ``path`` names an SD file (``.sdf``, ``.sdf.gz``, ``.sd``, ``.mol``; any case)."""
    return str(path).lower().endswith(SDF_SUFFIXES)


def _sdf_reason(block: str) -> str:
    """Why RDKit could not read one SDF record (its own sanitization message when it has one)."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    try:
        mol = Chem.MolFromMolBlock(block, sanitize=False, removeHs=False)
        if mol is None:
            return "RDKit could not parse the mol block"
        try:
            Chem.SanitizeMol(mol)
        except Exception as exc:  # noqa: BLE001 (RDKit raises several types; the message is the reason)
            return f"RDKit: {str(exc).strip().splitlines()[0]}"
        return "RDKit could not read the record"
    finally:
        RDLogger.EnableLog("rdApp.*")


def _sdf_props(block: str) -> dict[str, str]:
    """The ``> <name>`` data fields of one SDF record's text (for records RDKit cannot read)."""
    import re

    props, lines = {}, block.splitlines()
    for i, line in enumerate(lines):
        found = re.match(r"^>.*<([^>]+)>", line)
        if found and i + 1 < len(lines):
            props[found.group(1)] = lines[i + 1].strip()
    return props


def read_sdf(path: str | Path, sha256: str | None = None, *, errors: str = "raise") -> pd.DataFrame:
    """An SD file (``.sdf`` or gzip ``.sdf.gz``) read with RDKit's ``SDMolSupplier``, one row per record.

    Columns: ``name`` (the molecule's title line), ``smiles`` (canonical, from the molecule) and every SD
    property (``> <prop>`` fields; numeric ones become numbers). A record RDKit cannot read raises
    :class:`~sciptm.errors.InvalidInputError` naming the record number, the molecule's name and RDKit's reason
    (``errors="raise"``), or keeps its row with an empty ``smiles`` so that later steps report or skip it by row
    (``errors="skip"``; the reason is logged).

    >>> import tempfile, os
    >>> from rdkit import Chem
    >>> mol = Chem.MolFromSmiles("CCO"); mol.SetProp("_Name", "ethanol"); mol.SetProp("logS", "1.1")
    >>> path = os.path.join(tempfile.mkdtemp(), "x.sdf")
    >>> with Chem.SDWriter(path) as w: w.write(mol)
    >>> read_sdf(path).to_dict("records")
    [{'name': 'ethanol', 'smiles': 'CCO', 'logS': 1.1}]
    """
    import logging

    from rdkit import Chem, RDLogger

    from sciptm.errors import InvalidInputError, InvalidRecord

    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', not {errors!r}")
    path = Path(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == _GZIP_MAGIC:
        raw = gzip.decompress(raw)
    supplier = Chem.SDMolSupplier()
    supplier.SetData(raw.decode("utf-8", errors="replace"), sanitize=True, removeHs=True)
    rows: list[dict[str, Any]] = []
    RDLogger.DisableLog("rdApp.*")
    try:
        mols = [supplier[i] for i in range(len(supplier))]
    finally:
        RDLogger.EnableLog("rdApp.*")
    for i, mol in enumerate(mols):
        if mol is None:
            block = supplier.GetItemText(i)
            name = block.splitlines()[0].strip() if block.strip() else ""
            reason = _sdf_reason(block)
            label = f"record {i + 1} of {path.name}" + (f" ({name!r})" if name else "")
            if errors == "raise":
                raise InvalidInputError(InvalidRecord(i, name or f"record {i + 1}", reason),
                                        f"{label}: {reason}")
            logging.getLogger(__name__).warning("%s: %s; kept with an empty SMILES", label, reason)
            rows.append({"name": name, "smiles": None, **_sdf_props(block)})
            continue
        row: dict[str, Any] = {"name": mol.GetProp("_Name") if mol.HasProp("_Name") else "",
                               "smiles": Chem.MolToSmiles(mol)}
        row.update(mol.GetPropsAsDict(includePrivate=False, includeComputed=False))
        rows.append(row)
    frame = pd.DataFrame(rows)
    for col in frame.columns:
        if col not in ("name", "smiles") and frame[col].dtype == object:
            converted = pd.to_numeric(frame[col], errors="coerce")
            if converted.notna().sum() == frame[col].notna().sum():
                frame[col] = converted
    return frame


READERS.add("sdf", read_sdf)
READERS.add("sdf.gz", read_sdf)


def read_table(path: str | Path, **csv_kwargs: Any) -> pd.DataFrame:
    """A user's table: an SD file through :func:`read_sdf`, anything else through ``pandas.read_csv``."""
    if is_sdf(path):
        return read_sdf(path)
    return pd.read_csv(path, **csv_kwargs)
