"""Zero-shot scoring with a real masked LM (AntiBERTy) and the two baselines beside it (#11)."""
from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sciptm.encoders.zoo_reference import TRASTUZUMAB_VH
from sciptm.zeroshot.baselines import AMINO, blosum62_scores, family_profile, site_independent_scores

CORPUS = Path("protein/pretrain_corpus/uniprot_20k_mmseqs2_example_DB.fasta.gz")
#: framework positions (1-based) of trastuzumab VH scored in the test
SITES = (3, 5, 11, 18, 20, 36, 38, 45, 47, 69, 82, 92)


def need(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"zoo package {module!r} not installed (CI installs it)")


def singles(wt: str, sites) -> list[str]:
    return [f"{wt[p - 1]}{p}{a}" for p in sites for a in AMINO if a != wt[p - 1]]


def test_blosum62_baseline_sums_the_matrix_over_substitutions():
    from Bio.Align import substitution_matrices

    b = substitution_matrices.load("BLOSUM62")
    got = blosum62_scores(TRASTUZUMAB_VH, ["E1D", "E1D:V2W", "WT"])
    assert got.tolist() == [b["E"]["D"], b["E"]["D"] + b["V"]["W"], 0.0]
    with pytest.raises(ValueError, match="does not match"):
        blosum62_scores(TRASTUZUMAB_VH, ["A1D"])


def test_site_independent_profile_from_corpus_homologs(mirror):
    from Bio import SeqIO

    path = mirror / CORPUS
    if not path.exists():
        pytest.skip(f"{CORPUS} not in the data mirror")
    with gzip.open(path, "rt") as fh:
        seqs = [str(r.seq) for r in SeqIO.parse(fh, "fasta")]
    prof = family_profile(TRASTUZUMAB_VH, seqs, max_homologs=5)
    assert prof.n_homologs == 5
    assert np.allclose(prof.freqs.sum(1), 1.0)
    top = np.mean([AMINO[int(prof.freqs[i].argmax())] == a for i, a in enumerate(TRASTUZUMAB_VH)])
    # the family knows the VH fold: far above uniform (top-1 0.05, pseudo-perplexity 20)
    assert top > 0.35 and prof.pseudo_perplexity(TRASTUZUMAB_VH) < 10.0
    muts = singles(TRASTUZUMAB_VH, SITES)
    s = site_independent_scores(prof, TRASTUZUMAB_VH, muts)
    assert s.shape == (len(muts),) and np.isfinite(s).all()


def test_antiberty_zero_shot_scores_agree_with_blosum62_and_beat_its_untrained_twin():
    need("antiberty")
    from sciptm import Encoder
    from sciptm.encoders.zoo_reference import pseudo_perplexity
    from sciptm.zeroshot import score_mutations

    muts = singles(TRASTUZUMAB_VH, SITES)
    blosum = blosum62_scores(TRASTUZUMAB_VH, muts)
    enc = Encoder.from_pretrained("antiberty")
    lm = score_mutations(enc, TRASTUZUMAB_VH, muts)["score"].to_numpy()
    twin = score_mutations(Encoder.from_pretrained("antiberty", random_init=True, seed=0), TRASTUZUMAB_VH, muts)
    rho = stats.spearmanr(lm, blosum).statistic
    rho0 = stats.spearmanr(twin["score"].to_numpy(), blosum).statistic
    assert rho > 0.3 and rho > rho0 + 0.2, (rho, rho0)
    assert (lm < 0).mean() > 0.9  # the wild type is preferred at framework sites
    assert pseudo_perplexity(enc, TRASTUZUMAB_VH[:40]) < 4.0
