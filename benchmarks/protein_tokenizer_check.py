"""Check that sciptm's protein tokenizer gives exactly ESM-2's token ids on whole shared datasets.

Compares ``sciptm.domains.protein.build_tokenizer()`` with ``transformers.EsmTokenizer`` loaded
from the ESM-2 (8M) tokenizer files of the shared model mirror, sequence by sequence, on every
sequence of the chosen files, and prints counts and times.

Usage::

    SCIPTM_DATA_MIRROR=/path/to/shared/datasets python benchmarks/protein_tokenizer_check.py
    python benchmarks/protein_tokenizer_check.py --models /path/to/shared/models

Exit status 1 if any sequence differs.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

from sciptm.domains.protein import ProteinDomain
from sciptm.domains.protein.io import read_fasta

ROOT = Path(__file__).resolve().parents[1]
FILES = {
    "flip_gb1/sampled.csv.gz": "sequence",
    "tape_stability/stability.test.csv.gz": "seq",
    "pretrain_corpus/uniprot_20k_mmseqs2_example_DB.fasta.gz": "sequence",
}


def load_sequences(mirror: Path, rel: str, column: str) -> list[str]:
    path = mirror / "protein" / rel
    frame = read_fasta(path) if ".fasta" in rel else pd.read_csv(path)
    return frame[column].tolist()


def compare(esm_tokenizer, sequences: list[str]) -> tuple[int, float, float]:
    """Number of differing sequences, sciptm time and EsmTokenizer time (seconds)."""
    fast = ProteinDomain().build_tokenizer()
    fast.model_max_length = esm_tokenizer.model_max_length  # compare whole sequences, no truncation
    t0 = time.perf_counter()
    ours = fast(sequences)["input_ids"]
    t1 = time.perf_counter()
    theirs = esm_tokenizer(sequences)["input_ids"]
    t2 = time.perf_counter()
    return sum(a != b for a, b in zip(ours, theirs)), t1 - t0, t2 - t1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path,
                        default=Path(os.environ.get("SCIPTM_DATA_MIRROR", ROOT.parent / "shared" / "datasets")))
    parser.add_argument("--models", type=Path, default=ROOT.parent / "shared" / "models")
    parser.add_argument("--files", nargs="*", default=list(FILES))
    args = parser.parse_args()
    from transformers import EsmTokenizer

    esm = EsmTokenizer.from_pretrained(args.models / "config-and-tokenizer-only" / "esm2_t6_8M_UR50D")
    failed = 0
    for rel in args.files:
        seqs = load_sequences(args.mirror, rel, FILES[rel])
        n_diff, t_ours, t_esm = compare(esm, seqs)
        residues = sum(map(len, seqs))
        print(f"{rel}: {len(seqs):,} sequences, {residues:,} residues, {n_diff} differ; "
              f"sciptm fast tokenizer {t_ours:.2f} s, EsmTokenizer {t_esm:.2f} s")
        failed += n_diff
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
