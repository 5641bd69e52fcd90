"""Benchmark reports: built from a small real benchmark (ECFP + sklearn models on ESOL, BBBP and
Tox21 subsets of the data mirror, balanced scaffold splits, 2 seeds), checked as files, as data
and, where Debian's chromium is installed, as rendered in a headless browser."""
from __future__ import annotations

import base64
import io
import json
import math
import platform
import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn
from matplotlib import image as mpimg
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator
from rdkit.rdBase import BlockLogs
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge

import sciptm.datasets as sd
from sciptm import metrics
from sciptm.benchmarks.layout import ResultsLayout
from sciptm.data import CARDS
from sciptm.errors import DataIntegrityError
from sciptm.reports import BenchmarkResults, build_report, dump_dom, find_chromium, screenshot
from sciptm.reports.plots import Series, parity_png, roc_png
from sciptm.reports.references import (
    MATBENCH_PROTOCOL,
    all_references,
    compare,
    leaderboard_file,
    load_references,
    matbench_leaderboard,
)
from sciptm.reports.tables import format_mean_std, score_table
from sciptm.splits import make_split

PROTOCOL = "sciptm-scaffold_balanced-80/10/10"
SPLIT = "scaffold_balanced"
SEEDS = (0, 1)
N_ROWS = 320
TASKS = {"esol": ("rmse", ["rmse", "mae", "r2"]), "bbbp": ("roc_auc", ["roc_auc", "pr_auc"]),
         "tox21": ("roc_auc", ["roc_auc"])}
GREATER = {"rmse": False, "roc_auc": True}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------- a small real benchmark


def _ecfp(smiles: list[str]) -> np.ndarray:
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    with BlockLogs():
        return np.stack([gen.GetFingerprintAsNumPy(Chem.MolFromSmiles(s)).astype(np.float32) for s in smiles])


def _fit_predict(kind: str, model: str, x_tr: np.ndarray, y_tr: np.ndarray, x_te: np.ndarray, seed: int) -> np.ndarray:
    """Test predictions ``[N]`` (regression values or positive-class probabilities)."""
    if kind == "regression":
        est = RandomForestRegressor(60, random_state=seed, n_jobs=1) if model == "ecfp-rf" else Ridge(alpha=10.0)
        return est.fit(x_tr, y_tr).predict(x_te)
    if np.unique(y_tr).size < 2:  # a Tox21 target with one class in this small training set
        return np.full(len(x_te), float(y_tr[0]))
    est = (RandomForestClassifier(60, random_state=seed, n_jobs=1) if model == "ecfp-rf"
           else LogisticRegression(C=0.1, max_iter=500))
    return est.fit(x_tr, y_tr).predict_proba(x_te)[:, 1]


def _run_task(out: Path, name: str, rows: list[dict[str, Any]], splits: dict[str, Any]) -> None:
    layout = ResultsLayout(out)  # the runner's own folder contract, so writer and reader are tested together
    ds = sd.load(name, progress=False)
    keep = np.random.default_rng(7).choice(len(ds), N_ROWS, replace=False)
    smiles = [str(s).strip() for s in ds.inputs.iloc[keep]]
    valid = [i for i, s in enumerate(smiles) if Chem.MolFromSmiles(s) is not None]
    smiles = [smiles[i] for i in valid]
    y = ds.targets.iloc[keep].to_numpy()[valid]
    x = _ecfp(smiles)
    metric, names = TASKS[name]
    task_type = ds.task
    splits[name] = {"method": SPLIT, "seeds": {}}
    for seed in SEEDS:
        split = make_split(SPLIT, smiles=smiles, seed=seed)
        split.save(layout.split_file(name, SPLIT, seed))
        splits[name]["seeds"][str(seed)] = split.hash
        tr, te = np.concatenate([split.train, split.valid]), split.test
        for model in ("ecfp-rf", "ecfp-linear"):
            start = time.perf_counter()
            kind = "regression" if task_type == "regression" else "binary"
            cols = []
            for j in range(y.shape[1]):
                lab = tr[np.isfinite(y[tr, j])]
                cols.append(_fit_predict(kind, model, x[lab], y[lab, j], x[te], seed))
            pred = np.stack(cols, axis=1)
            y_te = y[te]
            single = y.shape[1] == 1
            scores = metrics.compute_all(names, y_te[:, 0] if single else y_te, pred[:, 0] if single else pred)
            record = {
                "field": "chem", "task": name, "model": model, "split": SPLIT, "seed": seed, "metric": metric,
                "value": scores[metric], "metrics": scores, "task_type": task_type,
                "target_names": list(ds.target_columns), "n_train": len(split.train), "n_valid": len(split.valid),
                "n_test": len(te), "split_hash": split.hash, "data_sha256": ds.data_sha256,
                "seconds": time.perf_counter() - start,
                "y_true": (y_te[:, 0].tolist() if single
                           else [[None if math.isnan(v) else v for v in r] for r in y_te.tolist()]),
                "y_pred": pred[:, 0].tolist() if single else pred.tolist(),
            }
            path = layout.run_file(name, model, seed)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record))
            rows.append({k: v for k, v in record.items() if k not in ("y_true", "y_pred")})


def _summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    df = pd.DataFrame(rows)
    out = []
    for (task, model), g in df.groupby(["task", "model"], sort=False):
        metric = g["metric"].iloc[0]
        out.append({"task": task, "model": model, "metric": metric, "greater_is_better": GREATER[metric],
                    "mean": float(g["value"].mean()), "std": float(g["value"].std(ddof=1)), "n_seeds": len(g)})
    return out


@pytest.fixture(scope="module")
def bench(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A results folder in the runner's layout, from a real small benchmark."""
    out = tmp_path_factory.mktemp("bench")
    rows: list[dict[str, Any]] = []
    splits: dict[str, Any] = {}
    for name in TASKS:
        _run_task(out, name, rows, splits)
    results = {
        "field": "chem", "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "sciptm bench chem --tasks esol,bbbp,tox21 --models ecfp-rf,ecfp-linear --seeds 0,1",
        "config": {"tasks": list(TASKS), "seeds": list(SEEDS), "split": SPLIT, "n_rows": N_ROWS},
        "rows": rows, "summary": _summary(rows), "splits": splits,
        "environment": {"python": platform.python_version(), "platform": platform.platform(),
                        "packages": {"scikit-learn": sklearn.__version__, "numpy": np.__version__},
                        "git_commit": "unknown", "device": "cpu", "cpu_count": 2},
        "protocol": {"id": PROTOCOL, "description": "sciptm balanced scaffold split 80/10/10, seeds 0 and 1"},
    }
    (out / "results.json").write_text(json.dumps(results, indent=1))
    return out


@pytest.fixture(scope="module")
def report(bench: Path) -> dict[str, Path]:
    return build_report(bench)


def _copy(bench: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "copy"
    shutil.copytree(bench, dest, ignore=shutil.ignore_patterns("report.*", "figures"))
    return dest


def _img_sources(html: str) -> list[str]:
    return re.findall(r'<img[^>]*\ssrc="([^"]*)"', html)


# --------------------------------------------------------------------------- the report


def test_report_files_and_score_table(bench: Path, report: dict[str, Path]) -> None:
    assert set(report) == {"markdown", "html", "figures"}
    md = report["markdown"].read_text()
    summary = pd.DataFrame(json.loads((bench / "results.json").read_text())["summary"])
    for task, (metric, _) in TASKS.items():
        sel = summary[summary["task"] == task]
        best = sel.loc[sel["mean"].idxmax() if GREATER[metric] else sel["mean"].idxmin()]
        worst = sel.loc[sel["mean"].idxmin() if GREATER[metric] else sel["mean"].idxmax()]
        line = next(ln for ln in md.splitlines() if ln.startswith(f"| {task} |"))
        assert f"**{format_mean_std(best['mean'], best['std'])}**" in line
        assert f"**{format_mean_std(worst['mean'], worst['std'])}**" not in line
        assert f"{metric} {'↑' if GREATER[metric] else '↓'}" in line
    assert "sciptm bench chem --tasks esol" in md and PROTOCOL in md
    figures = sorted(p.name for p in report["figures"].iterdir())
    assert figures == ["bbbp_roc.png", "esol_parity.png", "tox21_roc.png"]
    for name in figures:
        assert f"figures/{name}" in md
        assert (report["figures"] / name).read_bytes()[:8] == PNG_MAGIC
    assert "micro-averaged" in md and "seed 0 (not pooled over seeds)" in md


def test_report_splits_and_references(bench: Path, report: dict[str, Path]) -> None:
    html = report["html"].read_text()
    md = report["markdown"].read_text()
    for task in TASKS:
        for seed in SEEDS:
            split_hash = json.loads((bench / "splits" / task / f"{SPLIT}_seed{seed}.json").read_text())["hash"]
            assert re.search(rf"\| {task} \| {seed} \| {SPLIT} \| {split_hash} \|", md)
            assert split_hash in html
    # ESOL's published GEM number sits beside ours, flagged, with its source and protocol.
    esol = md.split("### esol")[1].split("###")[0]
    gem = next(ln for ln in esol.splitlines() if ln.startswith("| GEM |"))
    assert "0.798" in gem and "gem-unimol-scaffold-811-3seeds" in gem and "different protocol" in gem
    assert "InstructMol" in gem
    assert "| ecfp-rf | rmse |" in esol and "sciptm, this run" in esol
    assert 'class="remark">different protocol' in html


def test_report_html_is_self_contained(report: dict[str, Path]) -> None:
    html = report["html"].read_text()
    assert not re.search(r'(?:src|href)="(?!data:)', html), "external asset referenced"
    assert "<script" not in html and "<link" not in html
    sources = _img_sources(html)
    assert len(sources) == 3
    for src in sources:
        assert src.startswith("data:image/png;base64,")
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert png[:8] == PNG_MAGIC
        pixels = mpimg.imread(io.BytesIO(png), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100 and float(pixels[..., :3].std()) > 0.01


# --------------------------------------------------------------------------- results object


def test_benchmark_results_object(bench: Path) -> None:
    res = BenchmarkResults(bench / "results.json")
    assert res.path == bench and res.field == "chem" and res.protocol_id("esol") == PROTOCOL
    assert len(res.rows) == len(TASKS) * 2 * len(SEEDS) and "y_true" not in res.rows
    assert list(res.summary["n_seeds"]) == [len(SEEDS)] * len(TASKS) * 2
    table = res.table()
    assert list(table.index) == list(TASKS) and list(table.columns) == ["metric", "ecfp-rf", "ecfp-linear"]
    row = res.summary.iloc[0]
    assert table.loc[row["task"], row["model"]] == format_mean_std(row["mean"], row["std"])
    html = res._repr_html_()
    assert html.count("<b>") == len(TASKS) and "<table" in html
    y_true, y_pred = res.predictions("tox21", "ecfp-rf", 0)
    assert y_true.shape == y_pred.shape and y_true.shape[1] == 12 and np.isnan(y_true).any()
    assert res.seeds("esol", "ecfp-linear") == list(SEEDS)


def test_report_to_other_folder(bench: Path, tmp_path: Path) -> None:
    paths = BenchmarkResults(bench).report(tmp_path / "elsewhere")
    assert paths["html"].parent == tmp_path / "elsewhere" and paths["html"].is_file()


def test_tampered_summary_is_rejected(bench: Path, tmp_path: Path) -> None:
    dest = _copy(bench, tmp_path)
    results = json.loads((dest / "results.json").read_text())
    results["summary"][0]["mean"] += 0.05
    (dest / "results.json").write_text(json.dumps(results))
    with pytest.raises(DataIntegrityError, match="summary mean"):
        BenchmarkResults(dest)


def test_mismatched_split_hash_is_rejected(bench: Path, tmp_path: Path) -> None:
    dest = _copy(bench, tmp_path)
    results = json.loads((dest / "results.json").read_text())
    results["splits"]["bbbp"]["seeds"]["1"] = results["splits"]["bbbp"]["seeds"]["0"]
    (dest / "results.json").write_text(json.dumps(results))
    with pytest.raises(DataIntegrityError, match="bbbp"):
        BenchmarkResults(dest)


def test_malformed_results_name_the_row(bench: Path, tmp_path: Path) -> None:
    dest = _copy(bench, tmp_path)
    results = json.loads((dest / "results.json").read_text())
    del results["rows"][3]["metric"]
    (dest / "results.json").write_text(json.dumps(results))
    with pytest.raises(ValueError, match=r"rows\[3\]: missing metric"):
        BenchmarkResults(dest)


def test_best_ignores_nan_and_respects_direction() -> None:
    summary = pd.DataFrame([
        {"task": "t", "model": m, "metric": "roc_auc", "greater_is_better": True, "mean": v, "std": 0.01, "n_seeds": 3}
        for m, v in (("a", 0.7), ("b", float("nan")), ("c", 0.9))])
    table = score_table(summary)
    assert [table.cells[("t", m)].best for m in "abc"] == [False, False, True]
    summary["greater_is_better"] = False
    assert [score_table(summary).cells[("t", m)].best for m in "abc"] == [True, False, False]


# --------------------------------------------------------------------------- plots


def test_plots_reject_unusable_input() -> None:
    with pytest.raises(ValueError, match="at least one"):
        parity_png([], "esol")
    one_class = Series("rf", np.array([1.0, 1.0, np.nan]), np.array([0.2, 0.9, 0.4]))
    with pytest.raises(ValueError, match="one class"):
        roc_png([one_class], "bbbp")
    with pytest.raises(ValueError, match="shape"):
        parity_png([Series("rf", np.zeros(3), np.zeros(4))], "esol")


# --------------------------------------------------------------------------- references


def test_references_file_is_valid() -> None:
    refs = load_references()
    assert len(refs) > 100
    assert {r.task for r in refs} - set(CARDS) == {"tape_fluorescence"}
    for r in refs:
        if r.metric in ("roc_auc", "accuracy"):
            assert 0 < r.value <= 1, r
    mismatched = {(r.task, r.metric) for r in refs if r.task in CARDS and CARDS[r.task].metric != r.metric}
    assert mismatched == {("flip_gb1_two_vs_rest", "mse")}
    chemprop = [r for r in refs if r.protocol == "chemprop-scaffold_balanced-811-3rep"]
    assert {r.task for r in chemprop} == {"esol", "freesolv", "lipo", "bbbp", "bace", "clintox", "sider", "tox21"}
    assert all(r.std is not None for r in chemprop)


def test_compare_marks_other_protocols_and_metrics() -> None:
    refs = load_references()
    same = compare("bbbp", refs, "deepchem-scaffold-811", "roc_auc")
    assert {c.reference.model for c in same if c.same_protocol} == {"c3-MoLFormer-1.1B", "ECFP + RF",
                                                                    "ECFP4 + RF (500 trees)"}
    assert all("different protocol" in c.remarks for c in same if not c.same_protocol)
    flip = compare("flip_gb1_two_vs_rest", refs, "flip-official", "spearman")
    assert flip and all(c.same_protocol and c.remarks == ("different metric",) for c in flip)
    formula = compare("matbench_jdft2d_formula", refs, MATBENCH_PROTOCOL, "mae")
    assert formula and all("formulas only" in c.remarks[0] for c in formula)


def test_matbench_transcription_matches_leaderboard(mirror: Path) -> None:
    if leaderboard_file(mirror) is None:
        pytest.skip("leaderboard_matbench_v0.1.csv not in the data mirror")
    board = pd.read_csv(leaderboard_file(mirror))
    transcribed = [r for r in load_references() if r.protocol == MATBENCH_PROTOCOL]
    assert len(transcribed) == 29
    for r in transcribed:
        row = board[(board["task"] == r.task) & (board["algorithm"] == r.model)]
        assert len(row) == 1, r
        assert abs(float(row["mean"].iloc[0]) - r.value) <= 0.006 * max(1.0, r.value / 10), r
    rows = matbench_leaderboard(mirror)
    phonons = [r for r in rows if r.task == "matbench_phonons"]
    assert phonons[0].model == "MegNet (kgcnn v2.1.0)" and {"RF-SCM/Magpie", "Dummy"} <= {r.model for r in phonons}
    merged = all_references(mirror)
    assert not [r for r in merged if r.protocol == MATBENCH_PROTOCOL and r.source.startswith("materialsproject")]


# --------------------------------------------------------------------------- headless browser


@pytest.mark.browser
def test_report_renders_in_chromium(report: dict[str, Path], tmp_path: Path) -> None:
    if find_chromium() is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    dom = dump_dom(report["html"])
    assert '<table class="scores">' in dom
    for task in TASKS:
        assert f"<th>{task}</th>" in dom
    assert len(_img_sources(dom)) == 3
    png = screenshot(report["html"], tmp_path / "shot.png", width=1200, height=2000)
    pixels = mpimg.imread(str(png))
    assert pixels.shape[:2] == (2000, 1200)
    rgb = pixels[..., :3]
    assert float(rgb.std()) > 0.02, "screenshot is blank"
    assert float((rgb.mean(axis=2) < 0.5).mean()) > 0.001, "no dark (text) pixels in the screenshot"
