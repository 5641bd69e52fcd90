"""Readers for protein sequence files: FASTA and the chains of PDB / mmCIF structures.

Both return pandas DataFrames whose ``sequence`` column feeds any protein encoder.

>>> from sciptm.domains.protein.io import read_fasta
>>> df = read_fasta("proteins.fasta.gz")            # doctest: +SKIP
>>> list(df.columns)                                # doctest: +SKIP
['id', 'description', 'sequence']
"""
from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pandas as pd

from sciptm._util.textio import open_text

_STRUCTURE_FORMATS = {".pdb": "pdb", ".ent": "pdb", ".cif": "mmcif", ".mmcif": "mmcif"}
#: residue names outside Biopython's extended table that have their own ESM-2 letter
_EXTRA_RESIDUES = {"SEC": "U", "PYL": "O", "ASX": "B", "GLX": "Z", "UNK": "X"}


def read_fasta(path: str | Path) -> pd.DataFrame:
    """Read a FASTA file (plain or gzipped) into a DataFrame with columns ``id, description, sequence``.

    Sequences are returned as written; the protein domain uppercases and checks them (a record
    without sequence lines gives an empty string, which the domain reports as an invalid row).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The file is not empty but holds no FASTA record.

    Example
    -------
    >>> df = read_fasta("uniprot.fasta.gz")          # doctest: +SKIP
    >>> df.loc[0, "id"]                              # doctest: +SKIP
    'tr|W0FSK4|W0FSK4_9FLAV'
    """
    from Bio import SeqIO

    from sciptm.errors import InvalidFileError

    path = Path(path)
    rows = []
    with open_text(path) as handle:
        try:
            for rec in SeqIO.parse(handle, "fasta"):
                rows.append((rec.id, rec.description, str(rec.seq)))
        except (ValueError, EOFError, gzip.BadGzipFile, zlib.error) as exc:  # text before the first '>', bad gzip
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise InvalidFileError(f"{path}: not a FASTA file: {reason}") from None
    if not rows and path.stat().st_size > 0:
        raise InvalidFileError(f"{path}: no FASTA records found (expected lines starting with '>')")
    return pd.DataFrame(rows, columns=["id", "description", "sequence"])


def structure_format(path: str | Path) -> str:
    """``"pdb"`` or ``"mmcif"`` from the file name (``.pdb``, ``.ent``, ``.cif``, ``.mmcif``, optionally ``.gz``)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    fmt = _STRUCTURE_FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        known = ", ".join(sorted(_STRUCTURE_FORMATS))
        raise ValueError(f"{path}: cannot tell the structure format from the name; use one of {known} (or + .gz)")
    return fmt


def read_structure_sequences(path: str | Path, model: int = 0) -> pd.DataFrame:
    """Amino-acid sequence of every protein chain in a PDB or mmCIF file (e.g. an AlphaFold model).

    Sequences are read from the residues that have coordinates, in file order, so residues missing
    from the model are absent. Modified residues map to their parent (MSE -> M, via Biopython's
    extended table), SEC -> U, PYL -> O, and unknown polymer residues with a CA atom -> X. Waters,
    ligands and nucleic-acid chains are left out.

    Parameters
    ----------
    path: ``.pdb``/``.ent``/``.cif``/``.mmcif`` file, optionally gzipped (``.gz``).
    model: index of the model to read (NMR files hold several).

    Returns
    -------
    DataFrame with columns ``chain, sequence``, one row per protein chain.

    Example
    -------
    >>> read_structure_sequences("AF-P69905-F1-model_v4.cif")    # doctest: +SKIP
      chain                                           sequence
    0     A  MVLSPADKTNVKAAWGKVGAHAGEYGAEALERMFLSFPTTKTYFPHF...
    """
    from Bio.Data.PDBData import protein_letters_3to1_extended
    from Bio.PDB import MMCIFParser, PDBParser

    path = Path(path)
    fmt = structure_format(path)
    parser = PDBParser(QUIET=True) if fmt == "pdb" else MMCIFParser(QUIET=True)
    with open_text(path) as handle:
        structure = parser.get_structure(path.name, handle)
    models = list(structure)
    if not models:
        raise ValueError(f"{path}: no atoms found")
    if not 0 <= model < len(models):
        raise ValueError(f"{path}: model {model} requested but the file has {len(models)} model(s)")
    rows = []
    for chain in models[model]:
        letters = []
        for residue in chain:
            hetflag, name = residue.id[0], residue.get_resname().strip().upper()
            letter = protein_letters_3to1_extended.get(name) or _EXTRA_RESIDUES.get(name)
            if letter is None and hetflag == " " and "CA" in residue:
                letter = "X"
            if letter is not None and hetflag != "W":
                letters.append(letter)
        if letters:
            rows.append((chain.id, "".join(letters)))
    return pd.DataFrame(rows, columns=["chain", "sequence"])


__all__ = ["read_fasta", "read_structure_sequences", "structure_format"]
