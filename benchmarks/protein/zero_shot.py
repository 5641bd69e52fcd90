"""Zero-shot variant-effect scoring of a DMS assay with a sciptm masked-LM encoder (no training).

Every variant of the assay is scored with :func:`sciptm.zeroshot.score_mutations` (masked marginals by default:
one masked pass per distinct mutated position, ESM-1v style) and compared with the measured ``DMS_score`` by
Spearman's rho (ProteinGym's zero-shot metric, protocol ``proteingym-zero-shot``; ProteinGym uses its own
full-length assay files, so compare with care). Prints a summary and writes it as JSON.

Usage::

    python benchmarks/protein/zero_shot.py --encoder tiny                  # random-init floor (rho ~ 0)
    python benchmarks/protein/zero_shot.py --encoder sciptm/protein-small  # a pretrained encoder
    python benchmarks/protein/zero_shot.py --encoder path/to/folder --dataset dms_gfp --method wt-marginal
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

import sciptm
import sciptm.datasets as sd
from sciptm.encoders import SIZES, Encoder
from sciptm.domains.protein.mutations import infer_wild_type
from sciptm.zeroshot import METHODS, score_mutations
from sciptm.domains.protein.splits import mutated_positions, positions_from_mutants

HERE = Path(__file__).resolve().parent


def numbering_offset(mutants: list[str], sequences: list[str]) -> int:
    """Offset between the mutant strings' numbering and 1-based positions in ``sequences`` (one constant)."""
    found = {m[0] - s[0] for s, m in zip(mutated_positions(sequences), positions_from_mutants(mutants)) if s and m}
    if len(found) != 1:
        raise ValueError(f"mutant numbering is not a constant shift of the sequence positions: offsets {sorted(found)[:5]}")
    return found.pop()


def load_encoder(name: str, seed: int) -> Encoder:
    if name in SIZES:
        return Encoder.from_config(domain="protein", size=name, seed=seed)
    return Encoder.from_pretrained(name)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", required=True, help="tiny/small (random init), a folder, or sciptm/protein-small")
    parser.add_argument("--dataset", default="dms_grb2", help="a DMS card with mutant/mutated_sequence/DMS_score")
    parser.add_argument("--method", default="masked-marginal", choices=METHODS)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0, help="seed of a random-init encoder")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default results/zero_shot_<dataset>_<encoder>.json)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    ds = sd.load(args.dataset, progress=False)
    mutants = ds.df["mutant"].astype(str).tolist()
    sequences = ds.df["mutated_sequence"].astype(str).tolist()
    offset = numbering_offset(mutants, sequences)
    wt = infer_wild_type(mutants, sequences, offset=offset)
    enc = load_encoder(args.encoder, args.seed)
    t0 = time.perf_counter()
    scores = score_mutations(enc, wt, mutants, method=args.method, offset=offset, batch_size=args.batch_size)
    seconds = time.perf_counter() - t0
    y = ds.df["DMS_score"].to_numpy(dtype=float)
    rho = float(stats.spearmanr(scores["score"].to_numpy(), y).statistic)
    singles = ds.df["num_mutations"].to_numpy() == 1 if "num_mutations" in ds.df else np.ones(len(y), bool)
    rho_singles = float(stats.spearmanr(scores["score"].to_numpy()[singles], y[singles]).statistic)
    result = {
        "dataset": args.dataset, "data_sha256": ds.data_sha256, "encoder": args.encoder,
        "encoder_parameters": enc.n_parameters(),
        "pretrained": args.encoder not in SIZES, "method": args.method, "protocol": "proteingym-zero-shot",
        "n_variants": len(mutants), "n_singles": int(singles.sum()), "wild_type_length": len(wt),
        "numbering_offset": offset, "spearman": rho, "spearman_singles": rho_singles, "seconds": round(seconds, 2),
        "variants_per_second": round(len(mutants) / seconds, 1), "torch_threads": args.threads,
        "device": str(enc.device), "cpu": platform.processor() or platform.machine(), "sciptm": sciptm.__version__,
    }
    safe = args.encoder.replace("/", "__").strip("._") or "encoder"
    out = args.out or HERE / "results" / f"zero_shot_{args.dataset}_{safe}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"{args.dataset}: {len(mutants)} variants ({result['n_singles']} singles), encoder {args.encoder}, "
          f"{args.method}\n  Spearman {rho:.4f} (singles {rho_singles:.4f}); {seconds:.1f} s, "
          f"{result['variants_per_second']} variants/s\n  -> {out}")
    return result


if __name__ == "__main__":
    main()
