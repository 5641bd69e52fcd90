"""The DeepChem baseline (``dc-multitask``) beside the recorded chemistry grid: one table, same splits.

``results_deepchem/results.json`` was produced with the recorded grid's protocol (``scaffold_balanced`` 80/10/10,
seeds 0 1 2, the nine MoleculeNet sets); this script checks that every (task, seed) used the same split hash as
``results/results.json`` and prints the mean +- std table with dc-multitask as an extra column.

    python benchmarks/chem/deepchem_rows.py > benchmarks/chem/results_deepchem/TABLE.md
"""
from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
grid = json.loads((HERE / "results" / "results.json").read_text())
dc = json.loads((HERE / "results_deepchem" / "results.json").read_text())

same, differ = 0, []
for task, meta in dc["splits"].items():
    for seed, h in meta["seeds"].items():
        recorded = grid["splits"].get(task, {}).get("seeds", {}).get(seed)
        if recorded == h:
            same += 1
        else:
            differ.append((task, seed, h, recorded))
print(f"split hashes identical to the recorded grid: {same} of {same + len(differ)} (task, seed) pairs"
      + (f"; differing: {differ}" if differ else ""))
print()
models = ["mean", "ecfp-rf", "rdkit2d-rf", "chemprop", "tiny", "dc-multitask"]
cells = {(s["task"], s["model"]): s for s in grid["summary"] + dc["summary"]}
print("| task | metric | " + " | ".join(models) + " |")
print("|---|---|" + "---|" * len(models))
for task in grid["config"]["tasks"]:
    metric = next((s["metric"] for (t, _), s in cells.items() if t == task), "")
    arrow = "↑" if metric in ("roc_auc", "pr_auc", "accuracy", "r2", "spearman") else "↓"
    row = []
    for m in models:
        s = cells.get((task, m))
        row.append("–" if s is None else f"{s['mean']:.3f} ± {s['std']:.3f}" + (f" (n={s['n_seeds']})"
                                                                                    if s["n_seeds"] < 3 else ""))
    print(f"| {task} | {metric} {arrow} | " + " | ".join(row) + " |")
