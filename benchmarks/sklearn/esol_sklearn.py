"""#14 must-show 2: PropertyPredictor inside scikit-learn's tools on ESOL (clone, cross_val_score,
GridSearchCV), plus #12/#14 ensembles and split-conformal intervals (empirical coverage).

    SCIPTM_DATA_MIRROR=../shared/datasets OMP_NUM_THREADS=1 nice -n 10 python benchmarks/sklearn/esol_sklearn.py

A tiny randomly initialised encoder and a few epochs keep it to minutes on a CPU; the numbers show the
plumbing works, not how good a model is.
"""
from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

import sciptm
from sciptm.predictor import PropertyPredictor

TARGET = "measured log solubility in mols per litre"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=240, help="ESOL molecules for CV and the grid")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--conformal-only", action="store_true", help="skip clone/CV/grid search")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore", FutureWarning)
    mirror = Path(os.environ.get("SCIPTM_DATA_MIRROR", "../shared/datasets"))
    esol = pd.read_csv(mirror / "chem" / "delaney-processed.csv")
    order = np.random.default_rng(0).permutation(len(esol))
    X, y = esol.smiles.to_numpy()[order], esol[TARGET].to_numpy()[order]
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
    model = PropertyPredictor(enc, task="regression", epochs=args.epochs, batch_size=16, lr=1e-3, head_lr=3e-3)

    if not args.conformal_only:
        sklearn_tools(model, X, y, args.n)
    conformal(model, X, y)


def sklearn_tools(model: PropertyPredictor, X: np.ndarray, y: np.ndarray, n: int) -> None:
    twin = clone(model)
    same = {k: v for k, v in twin.get_params().items() if k != "encoder"} == \
        {k: v for k, v in model.get_params().items() if k != "encoder"}
    print(f"clone: {twin!r}\n  same params: {same}; encoder copied: {twin.encoder is not model.encoder}")

    Xs, ys = X[:n], y[:n]
    t0 = time.perf_counter()
    scores = cross_val_score(model, Xs, ys, cv=KFold(3, shuffle=True, random_state=0))
    print(f"\ncross_val_score(cv=3) on {n} ESOL molecules, R^2 per fold: {np.round(scores, 3).tolist()} "
          f"mean {scores.mean():.3f} ({time.perf_counter() - t0:.0f} s)")

    t0 = time.perf_counter()
    grid = {"lr": [1e-4, 1e-3], "head_hidden": [64, 256]}
    search = GridSearchCV(model, grid, cv=KFold(3, shuffle=True, random_state=0)).fit(Xs, ys)
    table = pd.DataFrame(search.cv_results_)[["param_lr", "param_head_hidden", "mean_test_score", "std_test_score",
                                             "rank_test_score"]]
    print(f"\nGridSearchCV {grid}, cv=3 ({time.perf_counter() - t0:.0f} s):\n{table.to_string(index=False)}")
    held = slice(n, n + 200)
    print(f"best_params_ {search.best_params_}, best CV R^2 {search.best_score_:.3f}, "
          "held-out R^2 of best_estimator_ on 200 other molecules "
          f"{search.best_estimator_.score(X[held], y[held]):.3f}")


def conformal(model: PropertyPredictor, X: np.ndarray, y: np.ndarray) -> None:
    tr, cal, te = slice(0, 500), slice(500, 800), slice(800, None)
    print(f"\nsplit-conformal intervals: train {500}, calibration {300}, test {len(X) - 800} molecules")
    for ensemble in (1, 3):
        t0 = time.perf_counter()
        m = clone(model).set_params(ensemble=ensemble).fit(X[tr], y[tr], valid=(X[cal], y[cal]))
        r2 = m.score(X[te], y[te])
        for method in m.conformal_:
            for alpha in (0.1, 0.2):
                lo, hi = m.predict_interval(X[te], alpha=alpha, method=method)
                cover = np.mean((y[te] >= lo) & (y[te] <= hi))
                print(f"  ensemble={ensemble} {method:10s} alpha={alpha}: coverage {cover:.3f} "
                      f"(target >= {1 - alpha:.2f}), mean width {np.mean(hi - lo):.2f} log units, test R^2 {r2:.3f}")
        if ensemble > 1:
            mean, std = m.predict(X[te], return_std=True)
            err = np.abs(mean - y[te])
            print(f"  ensemble spread: mean std {std.mean():.3f}; Spearman(|error|, std) "
                  f"{pd.Series(err).corr(pd.Series(std), method='spearman'):.3f}")
        print(f"  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
