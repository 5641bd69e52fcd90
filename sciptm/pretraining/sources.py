"""Streaming readers for raw pretraining corpora: one record at a time, never the whole file.

Each reader yields ``(record_id, raw_item)`` pairs lazily, reading the (optionally gzipped) file
sequentially, so memory stays bounded whatever the corpus size.

Formats
-------
- ``.csv`` / ``.csv.gz`` with a header: the SMILES column (``smiles``, case-insensitive, or ``column=``).
- ``.fasta`` / ``.fa`` (``.gz``): FASTA records; the id is the header's first word.
- ``.tar`` / ``.tar.gz`` / ``.tgz`` of ``.cif`` members: CIF texts; the id is the member's file name.

Example
-------
>>> import itertools
>>> first = list(itertools.islice(iter_records("chem/moses_train.csv.gz"), 2))  # doctest: +SKIP
>>> first[0]  # doctest: +SKIP
('1', 'CCCS(=O)c1ccc2[nH]c(=NC(=O)OC)[nH]c2c1')
"""
from __future__ import annotations

import csv
import gzip
import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

Record = tuple[str, Any]


def source_format(path: str | Path) -> str:
    """``csv``, ``fasta`` or ``cif_tar`` from a file name; ``ValueError`` for anything else."""
    name = Path(path).name.lower()
    if name.endswith(".gz") and not name.endswith((".tar.gz",)):
        name = name[:-3]
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".fasta", ".fa", ".faa")):
        return "fasta"
    if name.endswith((".tar.gz", ".tgz", ".tar")):
        return "cif_tar"
    raise ValueError(f"cannot tell the corpus format of {str(path)!r}: expected .csv, .fasta or .tar(.gz) of CIFs")


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def iter_csv(path: str | Path, column: str | None = None) -> Iterator[Record]:
    """Rows of one column of a CSV; the id is the 1-based data row number. Empty rows are skipped."""
    path = Path(path)
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        names = [h.strip() for h in header]
        wanted = column or next((n for n in names if n.lower() == "smiles"), None)
        if wanted not in names:
            raise ValueError(f"{path}: no column {wanted or 'smiles'!r} in header {names}")
        col = names.index(wanted)
        row_number = 0
        for row in reader:
            if not row:  # blank lines (HIV.csv style)
                continue
            row_number += 1
            yield str(row_number), (row[col] if col < len(row) else "")


def iter_fasta(path: str | Path) -> Iterator[Record]:
    """FASTA records ``(first word of the header, sequence)``; sequence lines are joined."""
    path = Path(path)
    with _open_text(path) as handle:
        name: str | None = None
        chunks: list[str] = []
        for line in handle:
            line = line.strip()
            if not line:
                continue
            if line.startswith(">"):
                if name is not None:
                    yield name, "".join(chunks)
                header = line[1:].split()
                name = header[0] if header else ""
                chunks = []
            elif name is None:
                raise ValueError(f"{path}: sequence data before the first '>' header")
            else:
                chunks.append(line)
        if name is not None:
            yield name, "".join(chunks)


def iter_cif_tar(path: str | Path) -> Iterator[Record]:
    """``.cif`` members of a tar archive, streamed in archive order (``(file name, CIF text)``)."""
    with tarfile.open(path, mode="r|*") as archive:
        for member in archive:
            if not member.isfile() or not member.name.lower().endswith(".cif"):
                continue
            handle = archive.extractfile(member)
            if handle is None:
                continue
            yield Path(member.name).name, handle.read().decode("utf-8", errors="replace")


def iter_records(path: str | Path, column: str | None = None) -> Iterator[Record]:
    """Stream ``(record_id, raw_item)`` from any supported corpus file (format from the file name)."""
    kind = source_format(path)
    if kind == "csv":
        return iter_csv(path, column)
    if kind == "fasta":
        return iter_fasta(path)
    return iter_cif_tar(path)
