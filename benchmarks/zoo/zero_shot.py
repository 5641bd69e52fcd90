"""Zero-shot rows of the zoo's masked LMs, always beside the two baselines a weak LM must beat (issue 11).

1. **GRB2-SH3 DMS** (Faure 2021, 63,366 variants, the protein field's labelled zero-shot task): AntiBERTy masked
   marginals vs a BLOSUM62 substitution score vs a site-independent (per-position frequency) model of GRB2-SH3's
   family, built without labels from SH3 homologs found by local alignment in the offline UniProt-20k corpus;
   Spearman's rho against ``DMS_score`` (all variants, singles). AntiBERTy is an *antibody* LM: GRB2 is out of its
   domain, so this row measures how far that carries. No antibody DMS is available offline.
2. **Trastuzumab VH sanity** (no labels): pseudo-perplexity (masked marginals) and masked-residue recovery of
   AntiBERTy, its untrained twin, the site-independent profile of VH homologs from the same corpus, uniform (20).

Usage: ``python benchmarks/zoo/zero_shot.py`` (writes ``benchmarks/zoo/results/zero_shot.json``).
"""
from __future__ import annotations

import gzip
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

HERE = Path(__file__).resolve().parent
CORPUS = "protein/pretrain_corpus/uniprot_20k_mmseqs2_example_DB.fasta.gz"


def corpus() -> list[str]:
    from Bio import SeqIO

    mirror = Path(os.environ.get("SCIPTM_DATA_MIRROR", "/work/shared/datasets"))
    with gzip.open(mirror / CORPUS, "rt") as fh:
        return [str(r.seq) for r in SeqIO.parse(fh, "fasta")]


def main() -> dict:
    import sciptm.datasets as sd
    from sciptm import Encoder
    from sciptm.domains.protein.mutations import infer_wild_type
    from sciptm.domains.protein.splits import mutated_positions, positions_from_mutants
    from sciptm.encoders.zoo_reference import TRASTUZUMAB_VH, masked_recovery, pseudo_perplexity
    from sciptm.zeroshot import score_mutations, site_log_probs
    from sciptm.zeroshot.baselines import blosum62_scores, family_profile, site_independent_scores

    torch.set_num_threads(1)
    seqs = corpus()
    out: dict = {"corpus": CORPUS, "corpus_size": len(seqs)}

    # 1. GRB2 DMS
    ds = sd.load("dms_grb2", progress=False)
    mutants = ds.df["mutant"].astype(str).tolist()
    sequences = ds.df["mutated_sequence"].astype(str).tolist()
    offsets = {m[0] - s[0] for s, m in zip(mutated_positions(sequences), positions_from_mutants(mutants)) if s and m}
    offset = offsets.pop()
    wt = infer_wild_type(mutants, sequences, offset=offset)
    y = ds.df["DMS_score"].to_numpy(dtype=float)
    singles = ds.df["num_mutations"].to_numpy() == 1
    rows = {}

    def row(name: str, scores: np.ndarray, seconds: float, **extra) -> None:
        rows[name] = {"spearman": float(stats.spearmanr(scores, y).statistic),
                      "spearman_singles": float(stats.spearmanr(scores[singles], y[singles]).statistic),
                      "seconds": round(seconds, 1), **extra}
        print(f"  {name:<34s} rho {rows[name]['spearman']:+.4f}  singles {rows[name]['spearman_singles']:+.4f}",
              flush=True)

    print(f"dms_grb2: {len(y)} variants ({int(singles.sum())} singles), wild type {len(wt)} aa, offset {offset}")
    t = time.perf_counter()
    enc = Encoder.from_pretrained("antiberty")
    row("antiberty (masked-marginal)", score_mutations(enc, wt, mutants, offset=offset)["score"].to_numpy(),
        time.perf_counter() - t, licence="MIT", trained_on="558M antibody sequences (OAS); GRB2 is out of domain")
    twin = Encoder.from_pretrained("antiberty", random_init=True, seed=0)
    t = time.perf_counter()
    row("antiberty@random (untrained twin)", score_mutations(twin, wt, mutants, offset=offset)["score"].to_numpy(),
        time.perf_counter() - t)
    t = time.perf_counter()
    row("BLOSUM62 substitution score", blosum62_scores(wt, mutants, offset=offset), time.perf_counter() - t)
    t = time.perf_counter()
    prof = family_profile(wt, seqs)
    row("site-independent (SH3 homologs)", site_independent_scores(prof, wt, mutants, offset=offset),
        time.perf_counter() - t, n_homologs=prof.n_homologs)
    recorded = Path(__file__).resolve().parents[1] / "protein/results/zero_shot_dms_grb2_sciptm__protein-small.json"
    if recorded.exists():
        r = json.loads(recorded.read_text())
        rows["sciptm/protein-small (recorded)"] = {"spearman": r["spearman"], "spearman_singles": r["spearman_singles"]}
    out["dms_grb2"] = {"n_variants": len(y), "n_singles": int(singles.sum()), "wild_type_length": len(wt),
                       "data_sha256": ds.data_sha256, "protocol": "proteingym-zero-shot", "rows": rows}

    # 2. trastuzumab VH sanity (pseudo-likelihood)
    print(f"trastuzumab VH ({len(TRASTUZUMAB_VH)} aa): pseudo-perplexity, masked-residue recovery (every 4th masked)")
    sanity = {}
    for name, e in (("antiberty", enc), ("antiberty@random", twin)):
        hit, n = masked_recovery(e, TRASTUZUMAB_VH, every=4)
        lp = site_log_probs(e, TRASTUZUMAB_VH, list(range(len(TRASTUZUMAB_VH))))
        ids = [e.tokenizer.convert_tokens_to_ids(c) for c in TRASTUZUMAB_VH]
        top1 = float(np.mean(lp.argmax(1) == np.array(ids)))
        sanity[name] = {"pseudo_perplexity": pseudo_perplexity(e, TRASTUZUMAB_VH), "recovered": f"{hit}/{n}",
                        "masked_marginal_top1": top1}
    vh = family_profile(TRASTUZUMAB_VH, seqs)
    from sciptm.zeroshot.baselines import AMINO

    top1 = float(np.mean([AMINO[int(vh.freqs[i].argmax())] == a for i, a in enumerate(TRASTUZUMAB_VH)]))
    sanity["site-independent (VH homologs)"] = {"pseudo_perplexity": vh.pseudo_perplexity(TRASTUZUMAB_VH),
                                                "masked_marginal_top1": top1, "n_homologs": vh.n_homologs}
    sanity["uniform over 20"] = {"pseudo_perplexity": 20.0, "masked_marginal_top1": 0.05}
    for k, v in sanity.items():
        print(f"  {k:<34s} " + "  ".join(f"{a} {b:.3f}" if isinstance(b, float) else f"{a} {b}" for a, b in v.items()))
    out["trastuzumab_vh"] = sanity
    path = HERE / "results" / "zero_shot.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    print(f"-> {path}")
    return out


if __name__ == "__main__":
    main()
