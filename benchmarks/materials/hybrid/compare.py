"""The hybrid materials grid beside the recorded one and the Matbench leaderboard (issue #12 Must-show 3).

Reads ``benchmarks/materials/results/results.json`` (the recorded grid: rf-composition, tiny+magpie, the shipped
encoder...) and every run file under ``benchmarks/materials/hybrid/runs``, checks that every (task, fold) used the
recorded split hash, and prints a markdown table of test scores (mean ± sample std, n folds) with the RF-SCM/Magpie
leaderboard rows (``/work/shared/REFERENCES.md``) and, per task, the hybrid vs ``rf-composition`` with the
paired per-fold difference (the leaderboard rows for phonons and expt_gap).

``hybrid (inner-selected)`` is, per (task, fold), the hybrid encoder whose chosen head scored best on the fold's
*inner* rows (out-of-fold/out-of-bag predictions of its training rows, ``model_info.inner_score``).

    python benchmarks/materials/hybrid/compare.py > benchmarks/materials/hybrid/TABLE.md
"""
from __future__ import annotations

import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
TASKS = ["matbench_phonons", "matbench_expt_gap", "matbench_expt_is_metal", "matbench_steels", "matbench_glass",
         "mp_formation_energy"]
RECORDED = ["rf-composition", "tiny+magpie", "sciptm/crystal-small:probe", "sciptm/crystal-small"]
#: Matbench v0.1 leaderboard, RF-SCM/Magpie (mean MAE over the 5 folds; /work/shared/REFERENCES.md)
LEADERBOARD = {"matbench_phonons": 67.61, "matbench_expt_gap": 0.4461}
UP = {"roc_auc", "accuracy"}
OVERLAP = {"chgnet/0.3.0+magpie:probe"}  # CHGNet was trained on MPtrj (Materials Project relaxations)

grid = json.loads((HERE.parent / "results" / "results.json").read_text())
runs = [json.loads(p.read_text()) for p in sorted((HERE / "runs").glob("*/*/seed*.json"))]
same, differ = 0, []
for r in runs:
    recorded = grid["splits"].get(r["task"], {}).get("seeds", {}).get(str(r["seed"]))
    if recorded == r["split_hash"]:
        same += 1
    else:
        differ.append((r["task"], r["model"], r["seed"], r["split_hash"], recorded))

values: dict[tuple[str, str], dict[int, float]] = defaultdict(dict)
metric_of: dict[str, str] = {}
for row in [*grid["rows"], *runs]:
    values[(row["task"], row["model"])][int(row["seed"])] = float(row["value"])
    metric_of[row["task"]] = row["metric"]

hybrids = sorted({r["model"] for r in runs if r["model"].endswith(":probe") and "+" in r["model"]})
picked: Counter[str] = Counter()
recipes: Counter[str] = Counter()
by_cell: dict[tuple[str, int], list[dict]] = defaultdict(list)
for r in runs:
    if r["model"] in hybrids:
        by_cell[(r["task"], int(r["seed"]))].append(r)
        recipes[f"{r['model']}: {r['model_info']['recipe']}"] += 1
for (task, seed), cands in by_cell.items():
    up = metric_of[task] in UP
    best = (max if up else min)(cands, key=lambda r: r["model_info"]["inner_score"])
    values[(task, "hybrid (inner-selected)")][seed] = float(best["value"])
    picked[best["model"]] += 1


def fmt(task: str, model: str) -> str:
    cell = values.get((task, model))
    if not cell:
        return "–"
    v = list(cell.values())
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return f"{statistics.mean(v):.4g} ± {sd:.3g} ({len(v)})"


def mean(task: str, model: str) -> float | None:
    cell = values.get((task, model))
    return statistics.mean(cell.values()) if cell else None


models = [*RECORDED, "hybrid (inner-selected)", *hybrids]
print(f"Split hashes identical to the recorded grid: {same} of {same + len(differ)} runs"
      + (f"; differing: {differ}" if differ else "") + ".")
print()
print("| task | metric | RF-SCM/Magpie (leaderboard) | " + " | ".join(
    (f"**{m}**" if m.startswith("hybrid") else m) + (" (MP overlap)" if m in OVERLAP else "") for m in models) + " |")
print("|---|---|---|" + "---|" * len(models))
for task in TASKS:
    metric = metric_of.get(task, "")
    lb = LEADERBOARD.get(task)
    print(f"| {task} | {metric} {'↑' if metric in UP else '↓'} | {lb if lb is not None else '–'} | "
          + " | ".join(fmt(task, m) for m in models) + " |")
print()
print("`(n)` = folds. Hybrid columns: frozen encoder embedding ++ 106 Magpie features; head chosen on out-of-fold / "
      "out-of-bag predictions of each fold's training rows. CHGNet rows overlap Matbench's MP-derived structures "
      "(trained on MPtrj).")
print()
print(f"Hybrid (inner-selected) encoder picks per (task, fold): {dict(picked)}; chosen heads: {dict(recipes)}.")
print()
for task in TASKS:
    h = mean(task, "hybrid (inner-selected)")
    rf = mean(task, "rf-composition")
    lb = LEADERBOARD.get(task)
    if h is None:
        print(f"- {task}: hybrid not run.")
        continue
    up = metric_of[task] in UP
    name = {"mae": "MAE", "roc_auc": "ROC-AUC"}.get(metric_of[task], metric_of[task])
    hv, rv = values[(task, "hybrid (inner-selected)")], values[(task, "rf-composition")]
    diffs = [hv[f] - rv[f] for f in sorted(hv) if f in rv]
    better = sum((d > 0) if up else (d < 0) for d in diffs)
    paired = (f"; per fold: {'higher' if up else 'lower'} {name} on {better} of {len(diffs)}, paired difference "
              f"{statistics.mean(diffs):+.4g} ± {statistics.stdev(diffs):.3g}" if len(diffs) > 1 else "")
    wins = (h > rf) if up else (h < rf)
    heads = Counter(r["model_info"]["recipe"] for (t, _), cands in by_cell.items() if t == task for r in cands)
    line = (f"- {task}: hybrid {h:.4g} vs rf-composition {rf:.4g} ({'beats' if wins else 'misses'} by "
            f"{abs(h - rf) / rf:.2%}{paired}; heads chosen: {dict(sorted(heads.items()))})")
    if lb is not None:
        line += f", vs RF-SCM/Magpie {lb} ({'beats' if h < lb else 'misses'} by {abs(h - lb) / lb:.2%})"
    print(line + ".")
