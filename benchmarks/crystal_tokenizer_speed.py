"""Throughput of the crystal tokenizer (structures/second) on Materials Project CIFs.

Reads the first ``--n`` CIFs of the CGCNN/CrysXPP MP corpus straight from its tar.gz in the
data mirror (nothing is copied into the repository), then times ``CrystalDomain.to_texts``:
parsing + validation + symmetry analysis + token writing, cold cache, for each ``--jobs``
value, and once more warm (all texts cached). Also reports the token-count distribution and
the share of tokens outside the vocabulary.

Usage::

    python benchmarks/crystal_tokenizer_speed.py --n 1000 --jobs 1 2
"""
from __future__ import annotations

import argparse
import os
import warnings
import tarfile
import time
from pathlib import Path

import numpy as np

from sciptm.domains.crystal import CrystalDomain

CORPUS = Path("materials/pretrain_corpus/crysxpp_mp_cifs.tar.gz")


def mirror() -> Path:
    env = os.environ.get("SCIPTM_DATA_MIRROR")
    root = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
    if not (root / CORPUS).is_file():
        raise SystemExit(f"corpus not found under {root} (set SCIPTM_DATA_MIRROR)")
    return root


def read_cifs(n: int) -> list[str]:
    """The first ``n`` CIF texts of the corpus (members ``0.cif``, ``1.cif``... in name order)."""
    out: list[str] = []
    with tarfile.open(mirror() / CORPUS, "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".cif"):
                fh = tar.extractfile(member)
                if fh is not None:
                    out.append(fh.read().decode())
                if len(out) >= n:
                    break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1])
    args = parser.parse_args()
    cifs = read_cifs(args.n)
    print(f"{len(cifs)} CIFs read; CPU cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}")
    texts: list[str] = []
    warnings.simplefilter("once")  # one line per distinct pymatgen/sciptm remark, not per structure
    for jobs in args.jobs:
        dom = CrystalDomain(n_jobs=jobs)
        start = time.perf_counter()
        prepared = dom.prepare(cifs, errors="skip")
        cold = time.perf_counter() - start
        start = time.perf_counter()
        dom.n_jobs = 1
        dom.prepare(cifs, errors="skip")
        warm = time.perf_counter() - start
        texts = prepared.texts
        print(f"n_jobs={jobs}: {len(cifs) / cold:.1f} structures/s cold ({cold:.1f} s), "
              f"{len(cifs) / warm:.0f} structures/s from cache; rejected {len(prepared.invalid)}: "
              + "; ".join(f"row {r.index}: {r.reason}" for r in prepared.invalid[:3]))
    tok = CrystalDomain().build_tokenizer()
    ids = tok(texts)["input_ids"]
    lengths = np.array([len(x) for x in ids])
    unk = sum(x.count(tok.unk_token_id) for x in ids)
    print(f"tokens per structure (with [CLS]/[SEP]): median {np.median(lengths):.0f}, "
          f"p95 {np.percentile(lengths, 95):.0f}, max {lengths.max()}; "
          f"> {tok.model_max_length}: {(lengths > tok.model_max_length).sum()}; unknown tokens: {unk}")


if __name__ == "__main__":
    main()
