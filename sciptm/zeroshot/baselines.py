"""The two baselines every zero-shot language-model row is shown with (a weak LM must beat them).

- :func:`blosum62_scores`: the sum over a variant's substitutions of the BLOSUM62 score ``B(wt, mut)``
  (no model, no family: how chemically conservative the substitutions are);
- :func:`site_independent_scores`: a site-independent (per-position frequency, "PSSM") model of the wild type's
  family, ``sum log f_i(mut) - log f_i(wt)``, with the profile from :func:`family_profile`: homologs of the wild
  type found by local alignment (Biopython, BLOSUM62) in an unlabelled sequence set, their residues counted at
  the aligned wild-type positions (plus a pseudocount spread by background frequency).

>>> blosum62_scores("MKTAYIAK", ["K2R", "K2R:A4W", "WT"]).tolist()
[2.0, -1.0, 0.0]
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from sciptm.domains.protein.mutations import parse_mutations

AMINO = "ACDEFGHIKLMNPQRSTVWY"
_INDEX = {a: i for i, a in enumerate(AMINO)}


def _blosum62():
    from Bio.Align import substitution_matrices

    return substitution_matrices.load("BLOSUM62")


def blosum62_scores(wt: str, mutants: Sequence[str], offset: int = 0) -> np.ndarray:
    """BLOSUM62 score summed over each variant's substitutions (``""``/``"WT"`` score 0)."""
    b = _blosum62()
    out = np.zeros(len(mutants))
    for k, text in enumerate(mutants):
        for m in parse_mutations(text):
            if wt[m.position - offset - 1] != m.wt:
                raise ValueError(f"row {k}: {m} does not match the wild type ({wt[m.position - offset - 1]!r})")
            out[k] += float(b[m.wt][m.mut])
    return out


@dataclass
class Profile:
    """Per-position residue frequencies ``L x 20`` (rows sum to 1) over the wild type's positions."""

    freqs: np.ndarray
    n_homologs: int
    coverage: np.ndarray  # homologs aligned at each position

    def log_prob(self, position: int, residue: str) -> float:
        return float(np.log(self.freqs[position, _INDEX[residue]]))

    def pseudo_perplexity(self, wt: str) -> float:
        """``exp(-mean_i log f_i(wt_i))``: how well the profile predicts the wild type itself."""
        return float(np.exp(-np.mean([self.log_prob(i, a) for i, a in enumerate(wt)])))


def _background() -> np.ndarray:
    """Amino-acid background frequencies (UniProt/Swiss-Prot composition, percent)."""
    pct = {"A": 8.25, "C": 1.38, "D": 5.46, "E": 6.72, "F": 3.86, "G": 7.07, "H": 2.27, "I": 5.91, "K": 5.80,
           "L": 9.64, "M": 2.41, "N": 4.06, "P": 4.74, "Q": 3.93, "R": 5.53, "S": 6.65, "T": 5.36, "V": 6.86,
           "W": 1.10, "Y": 2.92}
    v = np.array([pct[a] for a in AMINO])
    return v / v.sum()


def family_profile(wt: str, sequences: Iterable[str], min_identity: float = 0.3, min_coverage: float = 0.6,
                   max_identity: float = 0.98, pseudocount: float = 1.0, max_homologs: int = 500) -> Profile:
    """A site-independent profile of ``wt``'s family from unaligned ``sequences`` (no labels involved).

    Each sequence is locally aligned to ``wt`` (BLOSUM62, gap open -11, extend -1); hits covering at least
    ``min_coverage`` of ``wt`` with identity in ``[min_identity, max_identity]`` (near-copies of the wild type
    are left out) add their aligned residues to the counts. ``pseudocount`` pseudo-observations per position are
    spread by background frequency. A 3-mer prefilter skips sequences sharing fewer than 3 words with ``wt``.
    """
    from Bio.Align import PairwiseAligner

    aligner = PairwiseAligner(mode="local", open_gap_score=-11, extend_gap_score=-1)
    aligner.substitution_matrix = _blosum62()
    words = {wt[i:i + 3] for i in range(len(wt) - 2)}
    counts = np.zeros((len(wt), 20))
    n = 0
    for seq in sequences:
        if n >= max_homologs:
            break
        seq = "".join(c for c in seq.upper() if c in _INDEX)
        if sum(seq[i:i + 3] in words for i in range(len(seq) - 2)) < 3:
            continue
        aln = aligner.align(wt, seq)[0]
        pairs = [(i, j) for (a0, a1), (b0, b1) in zip(*aln.aligned) for i, j in zip(range(a0, a1), range(b0, b1))]
        if len(pairs) < min_coverage * len(wt):
            continue
        identity = sum(wt[i] == seq[j] for i, j in pairs) / len(pairs)
        if not min_identity <= identity <= max_identity:
            continue
        for i, j in pairs:
            counts[i, _INDEX[seq[j]]] += 1
        n += 1
    freqs = counts + pseudocount * _background()[None, :]
    return Profile(freqs / freqs.sum(1, keepdims=True), n, counts.sum(1))


def site_independent_scores(profile: Profile, wt: str, mutants: Sequence[str], offset: int = 0) -> np.ndarray:
    """``sum over substitutions of log f_i(mut) - log f_i(wt)`` under a :class:`Profile` of the wild type."""
    out = np.zeros(len(mutants))
    for k, text in enumerate(mutants):
        for m in parse_mutations(text):
            i = m.position - offset - 1
            if wt[i] != m.wt:
                raise ValueError(f"row {k}: {m} does not match the wild type ({wt[i]!r})")
            out[k] += profile.log_prob(i, m.mut) - profile.log_prob(i, m.wt)
    return out


__all__ = ["AMINO", "Profile", "blosum62_scores", "family_profile", "site_independent_scores"]
