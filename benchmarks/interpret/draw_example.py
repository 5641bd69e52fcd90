"""Train a tiny SMILES model on a nitro-group label and draw its integrated-gradients attributions.

The recipe is the one in ``tests/interpret/test_interpret.py``: ESOL + BBBP + Lipophilicity molecules (RDKit canonical
SMILES of at most 90 characters), label 1 when the molecule holds a nitro group ``[N+](=O)[O-]``,
negatives drawn at random to balance the classes, 60 held out. A 2-layer, 64-wide RoBERTa is
trained from scratch (12 epochs, seed 0, one thread). For the held-out positives the script
reports the share of absolute atom attribution on the nitro atoms beside the nitro atoms' share of
the atoms, and the same share for an untrained model; then it draws one held-out molecule.

Writes to ``--out`` (default ``benchmarks/interpret/results``): ``<name>.png``, ``<name>.svg``
and ``<name>.json`` (tokens, token scores, per-atom scores, the summary figures).

Usage::

    SCIPTM_DATA_MIRROR=../shared/datasets OMP_NUM_THREADS=1 python benchmarks/interpret/draw_example.py
"""
from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

import sciptm
import sciptm.datasets as sd
from sciptm import interpret
from sciptm.domains.smiles import SmilesDomain
from sciptm.interpret.sanity import fit_substructure_model, substructure_task

NITRO = "[N+](=O)[O-]"
HERE = Path(__file__).resolve().parent


def nitro_task() -> tuple[list[str], np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sciptm.errors.SkippedInputWarning)  # 11 BBBP SMILES RDKit rejects
        prepared = SmilesDomain().prepare(pd.concat([sd.load(n).inputs for n in ("esol", "bbbp", "lipo")]), errors="skip")
    return substructure_task(sorted(set(prepared.texts)), NITRO)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--smiles", default=None, help="molecule to draw (default: a held-out nitro compound)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()

    X, y = nitro_task()
    n_test = 60
    model = fit_substructure_model(X[n_test:], y[n_test:], epochs=12, seed=0)
    X_test, y_test = X[:n_test], y[:n_test]
    auc = roc_auc_score(y_test, model.predict_proba(X_test))
    positives = [x for x, t in zip(X_test, y_test) if t == 1]
    atts = interpret.attribute(model, positives, steps=args.steps)
    share = np.array([interpret.substructure_share(a, NITRO) for a in atts])
    untrained = fit_substructure_model(X[n_test:n_test + 16], y[n_test:n_test + 16], epochs=1, seed=1)
    share0 = np.array([interpret.substructure_share(a, NITRO) for a in interpret.attribute(untrained, positives,
                                                                                            steps=args.steps)])
    top_in = np.mean([int(np.nanargmax(np.abs(interpret.atom_scores(a)))) in interpret.substructure_atoms(a.text, NITRO)
                      for a in atts])
    summary = {
        "n_molecules": len(X), "n_train": len(X) - n_test, "n_test": n_test, "n_test_positives": len(positives),
        "test_roc_auc": round(float(auc), 4),
        "nitro_share_of_abs_attribution": round(float(share[:, 0].mean()), 4),
        "nitro_share_of_atoms": round(float(share[:, 1].mean()), 4),
        "ratio": round(float(share[:, 0].mean() / share[:, 1].mean()), 3),
        "untrained_model_nitro_share": round(float(share0[:, 0].mean()), 4),
        "top_atom_in_nitro_fraction": round(float(top_in), 4),
        "median_abs_completeness_gap": round(float(np.median([abs(a.delta) for a in atts])), 5),
    }

    if args.smiles is not None:
        chosen = interpret.attribute(model, args.smiles, steps=args.steps)[0]
    else:  # the largest held-out nitro compound with another heteroatom group, for a readable picture
        chosen = max(atts, key=lambda a: (interpret.smiles_mol(a.text).GetNumAtoms() <= 26,
                                          interpret.smiles_mol(a.text).GetNumAtoms()))
    per_atom = interpret.atom_scores(chosen)
    name = "nitro_attribution"
    legend = f"p(nitro) = {chosen.prediction:.2f}"
    interpret.draw_atom_attributions(chosen, path=args.out / f"{name}.png", legend=legend)
    interpret.draw_atom_attributions(chosen, path=args.out / f"{name}.svg", fmt="svg", legend=legend)
    mol = interpret.smiles_mol(chosen.text)
    record = {
        "smiles": chosen.text, "prediction": chosen.prediction, "logit": chosen.output,
        "baseline_logit": chosen.baseline_output, "completeness_gap": chosen.delta,
        "nitro_atoms": interpret.substructure_atoms(chosen.text, NITRO),
        "atoms": [{"index": i, "symbol": mol.GetAtomWithIdx(i).GetSymbol(), "score": float(s)}
                  for i, s in enumerate(per_atom)],
        "tokens": chosen.to_frame().to_dict(orient="records"),
        "summary": summary,
        "command": "OMP_NUM_THREADS=1 python benchmarks/interpret/draw_example.py",
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (args.out / f"{name}.json").write_text(json.dumps(record, indent=2, default=float))
    print(json.dumps(summary, indent=2))
    print(f"drew {chosen.text} -> {args.out / name}.png/.svg/.json ({record['seconds']} s)")


if __name__ == "__main__":
    main()
