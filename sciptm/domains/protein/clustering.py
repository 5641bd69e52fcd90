"""Sequence-identity clustering for cluster splits: MMseqs2 when installed, else a greedy pure-Python fallback.

``mmseqs``
    ``mmseqs easy-cluster --min-seq-id T -c C --cov-mode 0 --cluster-mode 0`` (set cover; Debian package
    ``mmseqs2``). Identity is MMseqs2's alignment identity.
``greedy``
    CD-HIT-like incremental clustering: sequences are visited longest first (ties by input order); each joins
    the first representative it matches, else becomes a new representative. Candidate representatives are
    the ``max_candidates`` sharing the most k-mers with the query (k = 5/4/3/2 for T >= 0.7/0.6/0.5/lower, as
    CD-HIT's word sizes); each is aligned with Biopython (local, BLOSUM62, gap open -11, extend -1), and
    identity = identical aligned residues / length of the shorter sequence (CD-HIT's ``-G 1`` definition),
    with the alignment covering at least ``coverage`` of the shorter sequence. Deterministic; quadratic in the
    worst case, so meant for up to a few tens of thousands of short sequences.

Both return one integer cluster label per input (identical sequences always share a cluster).

>>> labels = cluster_sequences(["MKTAYIAKQR", "MKTAYIAKQR", "WWWWHHHHCC"], identity=0.5, method="greedy")
>>> bool(labels[0] == labels[1]), bool(labels[0] == labels[2])
(True, False)
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

Method = Literal["auto", "mmseqs", "greedy"]
METHODS = ("auto", "mmseqs", "greedy")


def mmseqs_available() -> bool:
    """True when the ``mmseqs`` executable is on ``PATH`` (``apt-get install mmseqs2``)."""
    return shutil.which("mmseqs") is not None


def resolve_method(method: Method = "auto") -> str:
    """``auto`` -> ``mmseqs`` when installed, else ``greedy``."""
    if method not in METHODS:
        raise ValueError(f"clustering method must be one of {METHODS}, not {method!r}")
    if method == "auto":
        return "mmseqs" if mmseqs_available() else "greedy"
    if method == "mmseqs" and not mmseqs_available():
        raise RuntimeError("mmseqs is not installed (Debian/Ubuntu: apt-get install mmseqs2); use method='greedy'")
    return method


def _check(sequences: Sequence[str], identity: float, coverage: float) -> list[str]:
    seqs = [str(s) for s in sequences]
    if not 0.0 < identity <= 1.0:
        raise ValueError(f"identity must be in (0, 1], got {identity}")
    if not 0.0 <= coverage <= 1.0:
        raise ValueError(f"coverage must be in [0, 1], got {coverage}")
    for i, s in enumerate(seqs):
        if not s:
            raise ValueError(f"row {i}: empty sequence cannot be clustered")
    return seqs


def _relabel(groups: list[int]) -> np.ndarray:
    """Cluster ids numbered by first appearance in input order."""
    first: dict[int, int] = {}
    return np.array([first.setdefault(g, len(first)) for g in groups], dtype=np.int64)


def cluster_sequences(sequences: Sequence[str], identity: float = 0.5, coverage: float = 0.8,
                      method: Method = "auto", threads: int = 1, max_candidates: int = 20) -> np.ndarray:
    """Cluster labels (``int64``, numbered by first appearance) at a sequence-identity threshold.

    Parameters
    ----------
    sequences: amino-acid sequences (one per row; duplicates allowed).
    identity: minimum identity to join a cluster, in (0, 1].
    coverage: minimum alignment coverage (of both sequences for mmseqs ``--cov-mode 0``; of the shorter
        sequence for ``greedy``).
    method: ``auto`` (mmseqs if installed), ``mmseqs`` or ``greedy`` (see the module docstring).
    threads: mmseqs threads.
    max_candidates: greedy only: representatives aligned per query (those sharing the most k-mers).
    """
    seqs = _check(sequences, identity, coverage)
    unique = list(dict.fromkeys(seqs))
    if resolve_method(method) == "mmseqs":
        rep = _mmseqs(unique, identity, coverage, threads)
    else:
        rep = _greedy(unique, identity, coverage, max_candidates)
    of_unique = dict(zip(unique, rep))
    return _relabel([of_unique[s] for s in seqs])


def _mmseqs(unique: list[str], identity: float, coverage: float, threads: int) -> list[int]:
    with tempfile.TemporaryDirectory(prefix="sciptm-mmseqs-") as tmp:
        tmpd = Path(tmp)
        (tmpd / "in.fasta").write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(unique)))
        cmd = ["mmseqs", "easy-cluster", str(tmpd / "in.fasta"), str(tmpd / "out"), str(tmpd / "work"),
               "--min-seq-id", str(identity), "-c", str(coverage), "--cov-mode", "0", "--cluster-mode", "0",
               "--threads", str(threads), "-v", "1"]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"mmseqs easy-cluster failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        rep = list(range(len(unique)))
        for line in (tmpd / "out_cluster.tsv").read_text().splitlines():
            center, member = line.split("\t")
            rep[int(member[1:])] = int(center[1:])
    return rep


def _word_size(identity: float) -> int:
    return 5 if identity >= 0.7 else 4 if identity >= 0.6 else 3 if identity >= 0.5 else 2


def _aligner():
    from Bio import Align
    from Bio.Align import substitution_matrices

    aligner = Align.PairwiseAligner(mode="local")
    aligner.substitution_matrix = substitution_matrices.load("BLOSUM62")
    aligner.open_gap_score = -11
    aligner.extend_gap_score = -1
    return aligner


def _identity(aligner, a: str, b: str) -> tuple[float, float]:
    """(identical residues, covered residues of the shorter sequence) / shorter length."""
    shorter = min(len(a), len(b))
    if a == b:
        return 1.0, 1.0
    clean_a, clean_b = (s.replace("*", "X") for s in (a, b))
    try:
        aln = aligner.align(clean_a, clean_b)[0]
    except (ValueError, IndexError):  # letters outside BLOSUM62 or no alignment at all
        return 0.0, 0.0
    counts = aln.counts()
    covered = min(int(aln.coordinates[0, -1] - aln.coordinates[0, 0]), int(aln.coordinates[1, -1] - aln.coordinates[1, 0]))
    return counts.identities / shorter, covered / shorter


def _greedy(unique: list[str], identity: float, coverage: float, max_candidates: int) -> list[int]:
    k = _word_size(identity)
    aligner = _aligner()
    order = sorted(range(len(unique)), key=lambda i: (-len(unique[i]), i))
    index: dict[str, list[int]] = defaultdict(list)  # k-mer -> representatives holding it
    rep = list(range(len(unique)))
    for i in order:
        seq = unique[i]
        kmers = {seq[j:j + k] for j in range(len(seq) - k + 1)} or {seq}
        shared: Counter[int] = Counter()
        for km in kmers:
            shared.update(index.get(km, ()))
        # CD-HIT's short-word filter: each of the (1 - T) * L differences destroys at most k of the query's
        # k-mers (the query is the shorter sequence: longest are visited first)
        need = max(1, int(len(kmers) - (1 - identity) * len(seq) * k))
        joined = None
        for r, n_shared in sorted(shared.items(), key=lambda kv: (-kv[1], kv[0]))[:max_candidates]:
            if n_shared < need:
                break
            ident, cov = _identity(aligner, seq, unique[r])
            if ident >= identity and cov >= coverage:
                joined = r
                break
        if joined is None:
            for km in kmers:
                index[km].append(i)
        else:
            rep[i] = joined
    return rep


__all__ = ["METHODS", "cluster_sequences", "mmseqs_available", "resolve_method"]
