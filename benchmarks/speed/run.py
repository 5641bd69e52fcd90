"""sciptm against its references, measured in one run on this machine; writes a table of ratios.

Each section times sciptm and the reference it replaces side by side in the same process (or in fresh
subprocesses where a cold start is the point), with the same number of threads on each side, and records
the ratio. The machine's ceiling (fp32 matmul GFLOP/s on the same threads) is measured first so that
model-FLOPs utilisation (MFU) can be stated.

Sections (``--only`` picks some):

- ``ceiling``: fp32 matmul GFLOP/s (square matrices, best of repeats).
- ``finetune``: seconds per training epoch of ``tiny`` fine-tuned on ESOL vs Chemprop 2 (in process, same
  train rows, same epochs, one thread each), test RMSE over ``--seeds``; plus sciptm with bucketing off.
- ``embed``: ``Encoder.embed`` (fp32, int8) vs a raw ``transformers`` loop (AutoModel, batches of 64 in
  input order, padding to the longest) on MOSES SMILES with ``sciptm/smiles-small``.
- ``pretrain``: masked-LM training steps of a ``small`` SMILES model on MOSES, random batches vs length
  buckets: real tokens/s, padding fraction, MFU against the ceiling.
- ``tokenize``: SMILES -> token ids (sciptm: validation + tokenizer) vs RDKit parse + canonical SMILES.
- ``crystal``: crystal tokens (sciptm, fresh process, first and third pass; shipped normalizer table on/off)
  vs pymatgen ``SpacegroupAnalyzer`` alone (symmetrized structure), AFLOW prototypes shipped with pymatgen.
- ``mutations``: ``score_mutations`` variants/s on all 63,366 GRB2 variants, the row-by-row parser with
  32-window passes (before) vs the vectorized parser with budget-sized passes (after).
- ``startup``: ``import sciptm`` and ``sciptm --help`` vs ``import torch`` (fresh interpreters, medians).

Usage (results in ``benchmarks/speed/results/``; a finished section is kept unless ``--force``)::

    OMP_NUM_THREADS=1 nice python benchmarks/speed/run.py --threads 1
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OUT = HERE / "results"


def mirror() -> Path:
    env = os.environ.get("SCIPTM_DATA_MIRROR")
    root = Path(env) if env else REPO.parent / "shared" / "datasets"
    if not root.is_dir():
        raise SystemExit(f"data mirror not found at {root}: set SCIPTM_DATA_MIRROR")
    return root


def moses(n: int, skip: int = 0) -> list[str]:
    out: list[str] = []
    with gzip.open(mirror() / "chem" / "moses_train.csv.gz", "rt") as fh:
        header = fh.readline().strip().split(",")
        col = header.index("SMILES") if "SMILES" in header else 0
        for i, line in enumerate(fh):
            if i < skip:
                continue
            out.append(line.rstrip("\n").split(",")[col])
            if len(out) >= n:
                break
    return out


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    value = fn()
    return time.perf_counter() - t, value


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    return statistics.median(timed(fn)[0] for _ in range(repeats))


# --------------------------------------------------------------------------------------------- sections
def ceiling(args) -> dict[str, Any]:
    import torch

    best = 0.0
    for n in (256, 512, 1024):
        a, b = torch.randn(n, n), torch.randn(n, n)
        for _ in range(2):
            a @ b
        reps = max(3, int(2e9 / (2 * n**3)))
        dt = min(timed(lambda: [a @ b for _ in range(reps)])[0] for _ in range(3))
        best = max(best, 2 * n**3 * reps / dt / 1e9)
    return {"matmul_gflops": best}


def finetune(args) -> dict[str, Any]:
    import logging

    import pandas as pd
    import torch

    import sciptm

    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    df = pd.read_csv(mirror() / "chem" / "delaney-processed.csv")
    smiles = df["smiles"].tolist()
    y = df["measured log solubility in mols per litre"].to_numpy(float)
    rows: dict[str, Any] = {"epochs": args.epochs, "seeds": args.seeds, "n_rows": len(smiles)}
    per_seed = []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(smiles))
        n_tr, n_va = int(0.8 * len(perm)), int(0.1 * len(perm))
        tr, va, te = perm[:n_tr], perm[n_tr:n_tr + n_va], perm[n_tr + n_va:]
        result = {"seed": seed, "n_train": len(tr)}
        # sciptm: tiny, default trainer (length buckets), same epochs as Chemprop, its batch size (64)
        for label, pool in (("sciptm", None), ("sciptm_no_buckets", 1)):
            if label == "sciptm_no_buckets" and seed != args.seeds[0]:
                continue
            extra = {} if pool is None else {"bucket_pool": pool}
            epochs = args.epochs if pool is None else 3
            enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=seed)
            model = sciptm.PropertyPredictor(enc, task="regression", trainer=extra or None, epochs=epochs,
                                             batch_size=args.batch_size, seed=seed, patience=10**6)
            model.fit([smiles[i] for i in tr], y[tr], valid=([smiles[i] for i in va], y[va]))
            hist = model.history_
            pred = model.predict([smiles[i] for i in te])
            result[label] = {"s_per_epoch": float(np.median(hist["seconds"])),
                             "test_rmse": float(np.sqrt(np.mean((pred - y[te]) ** 2)))}
        result["chemprop"] = _chemprop_epochs(smiles, y, tr, va, te, seed, args.epochs, args.batch_size)
        per_seed.append(result)
        print(f"  finetune seed {seed}: {json.dumps(result)}", flush=True)
    rows["per_seed"] = per_seed
    for key in ("sciptm", "chemprop"):
        rows[key] = {"s_per_epoch": float(np.median([r[key]["s_per_epoch"] for r in per_seed])),
                     "test_rmse_mean": float(np.mean([r[key]["test_rmse"] for r in per_seed])),
                     "test_rmse_std": float(np.std([r[key]["test_rmse"] for r in per_seed]))}
    rows["sciptm_no_buckets"] = per_seed[0]["sciptm_no_buckets"]
    rows["epoch_ratio_sciptm_over_chemprop"] = rows["sciptm"]["s_per_epoch"] / rows["chemprop"]["s_per_epoch"]
    rows["bucketing_speedup"] = rows["sciptm_no_buckets"]["s_per_epoch"] / per_seed[0]["sciptm"]["s_per_epoch"]
    del torch
    return rows


def _chemprop_epochs(smiles, y, tr, va, te, seed, epochs, batch_size) -> dict[str, float]:
    import torch
    from chemprop import data, featurizers, models, nn
    from lightning import pytorch as pl

    feat = featurizers.SimpleMoleculeMolGraphFeaturizer()
    points = [data.MoleculeDatapoint.from_smi(s, [v]) for s, v in zip(smiles, y)]
    make = lambda idx: data.MoleculeDataset([points[i] for i in idx], feat)  # noqa: E731
    d_tr, d_va, d_te = make(tr), make(va), make(te)
    scaler = d_tr.normalize_targets()
    d_va.normalize_targets(scaler)

    class EpochTimer(pl.Callback):
        def __init__(self):
            self.times: list[float] = []

        def on_train_epoch_start(self, *a):
            self.t = time.perf_counter()

        def on_train_epoch_end(self, *a):
            self.times.append(time.perf_counter() - self.t)

    pl.seed_everything(seed, verbose=False)
    model = models.MPNN(nn.BondMessagePassing(), nn.MeanAggregation(),
                        nn.RegressionFFN(output_transform=nn.UnscaleTransform.from_standard_scaler(scaler)),
                        batch_norm=False, metrics=[nn.metrics.RMSE()])
    timer = EpochTimer()
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[timer])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(model, data.build_dataloader(d_tr, batch_size=batch_size, num_workers=0, seed=seed),
                    data.build_dataloader(d_va, batch_size=batch_size, num_workers=0, shuffle=False))
        preds = torch.cat(trainer.predict(model, data.build_dataloader(d_te, num_workers=0, shuffle=False)))
    pred = preds.numpy().reshape(-1)
    return {"s_per_epoch": float(np.median(timer.times)), "test_rmse": float(np.sqrt(np.mean((pred - y[te]) ** 2)))}


def embed(args) -> dict[str, Any]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    import sciptm
    from sciptm.encoders.hub import resolve_name

    smiles = moses(args.embed_n, skip=200_000)
    folder = resolve_name("sciptm/smiles-small")
    enc = sciptm.Encoder.from_pretrained("sciptm/smiles-small")

    tok = AutoTokenizer.from_pretrained(folder)
    raw_model = AutoModel.from_pretrained(folder, dtype=torch.float32).eval()

    def raw_loop():
        out = []
        with torch.no_grad():
            for i in range(0, len(smiles), 64):
                b = tok(smiles[i:i + 64], padding=True, truncation=True, return_tensors="pt",
                        return_token_type_ids=False)
                h = raw_model(**b).last_hidden_state
                m = b["attention_mask"].unsqueeze(-1).float()
                out.append(((h * m).sum(1) / m.sum(1)).numpy())
        return np.concatenate(out)

    enc.embed(smiles[:64])
    t_raw, ref = timed(raw_loop)
    t_fp32, fp32 = timed(lambda: enc.embed(smiles, progress=False))
    t_int8, int8 = timed(lambda: enc.embed(smiles, progress=False, quantize="int8"))
    cos = lambda a, b: float(np.min((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)))  # noqa
    n = len(smiles)
    return {"n": n, "raw_mol_per_s": n / t_raw, "sciptm_fp32_mol_per_s": n / t_fp32,
            "sciptm_int8_mol_per_s": n / t_int8, "ratio_fp32": t_raw / t_fp32, "ratio_int8": t_raw / t_int8,
            "min_cosine_fp32_vs_raw": cos(fp32, ref), "min_cosine_int8_vs_fp32": cos(int8, fp32)}


def pretrain(args) -> dict[str, Any]:
    import torch

    import sciptm
    from sciptm.pretraining.collate import Collator
    from sciptm.pretraining.corpus import TextCorpus
    from sciptm.pretraining.stream import StepBatches

    enc = sciptm.Encoder.from_config(domain="smiles", size=args.pretrain_size, seed=0)
    texts = enc.prepare(moses(20_000, skip=300_000)).texts
    with tempfile.TemporaryDirectory() as tmp:
        blob = "".join(texts).encode()
        path = Path(tmp) / "texts.txt"
        path.write_bytes(blob)
        ends = np.cumsum([len(t.encode()) for t in texts])
        corpus = TextCorpus(path, np.stack([ends - [len(t.encode()) for t in texts], ends], axis=1))
        collator = Collator(enc.tokenizer, 128)
        model = enc.lm_model
        cfg = model.config
        n_layers, d, vocab = cfg.num_hidden_layers, cfg.hidden_size, cfg.vocab_size
        non_embedding = sum(p.numel() for n, p in model.named_parameters() if "embeddings" not in n)
        out: dict[str, Any] = {"size": args.pretrain_size, "batch_size": 64, "non_embedding_params": non_embedding}
        gflops = args.ceiling_gflops
        for label, pool in (("random_batches", 1), ("length_buckets", 50)):
            stream = StepBatches(corpus, collator, 64, seed=0, bucket_pool=pool)
            torch.manual_seed(0)
            model.train()
            opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
            real = padded = 0
            flops = 0.0
            times = []
            for step in range(args.pretrain_steps + 3):
                t = time.perf_counter()
                batch = stream[step]
                loss = model(**batch).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
                dt = time.perf_counter() - t
                if step >= 3:
                    times.append(dt)
                    mask = batch["attention_mask"]
                    n_real = int(mask.sum())
                    real += n_real
                    padded += mask.numel()
                    # useful model FLOPs: 6 N per real token (fwd + bwd) + attention over the real lengths
                    lengths = mask.sum(1).double()
                    flops += 6 * non_embedding * n_real + float(12 * n_layers * d * (lengths**2).sum())
            total = sum(times)
            out[label] = {"tokens_per_s": real / total, "padding_fraction": 1 - real / padded,
                          "model_gflops": flops / total / 1e9, "mfu": flops / total / 1e9 / gflops}
        out["speedup"] = out["length_buckets"]["tokens_per_s"] / out["random_batches"]["tokens_per_s"]
        return out


def tokenize(args) -> dict[str, Any]:
    from rdkit import Chem, RDLogger

    import sciptm

    RDLogger.DisableLog("rdApp.*")
    smiles = moses(args.tokenize_n, skip=400_000)
    enc = sciptm.Encoder.from_pretrained("sciptm/smiles-small")
    t_rdkit = median_time(lambda: [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in smiles], 3)
    t_sciptm = median_time(lambda: enc.tokenizer(enc.prepare(smiles).texts)["input_ids"], 3)
    t_tok_only = median_time(lambda: enc.tokenizer(smiles)["input_ids"], 3)
    n = len(smiles)
    return {"n": n, "rdkit_parse_canonical_per_s": n / t_rdkit, "sciptm_validate_tokenize_per_s": n / t_sciptm,
            "sciptm_tokenizer_only_per_s": n / t_tok_only, "ratio_sciptm_over_rdkit": t_rdkit / t_sciptm,
            "ratio_tokenizer_only_over_rdkit": t_rdkit / t_tok_only}


_CRYSTAL_CHILD = r"""
import gzip, json, sys, time, warnings
warnings.simplefilter("ignore")
from importlib import resources
import numpy as np
from pymatgen.core import Structure
path = resources.files("pymatgen.analysis").joinpath("prototypes").joinpath("aflow_prototypes.json.gz")
with path.open("rb") as fh, gzip.open(fh, "rt") as text:
    structs = [Structure.from_dict(e["snl"]) for e in json.load(text)]
mode = sys.argv[1]
out = {"n": len(structs)}
if mode == "pymatgen":
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer
    for k in range(3):
        t = time.perf_counter()
        for s in structs:
            try:
                SpacegroupAnalyzer(s, symprec=0.1).get_symmetrized_structure()
            except Exception:
                pass
        out[f"pass{k + 1}_s"] = time.perf_counter() - t
else:
    from sciptm.domains import get_domain
    import sciptm.domains.crystal.symmetry as S
    if mode == "sciptm_no_table":
        S._shipped_table = lambda: {}
    dom = get_domain("crystal")
    for k in range(3):
        dom._cache.clear()  # every pass recomputes the texts; only process-level tables stay warm
        t = time.perf_counter()
        for s in structs:
            try:
                dom.to_text(s)
            except ValueError:
                pass
        out[f"pass{k + 1}_s"] = time.perf_counter() - t
print(json.dumps(out))
"""


def crystal(args) -> dict[str, Any]:
    res = {}
    for mode in ("pymatgen", "sciptm", "sciptm_no_table"):
        proc = subprocess.run([sys.executable, "-c", _CRYSTAL_CHILD, mode], capture_output=True, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": str(args.threads)}, check=True)
        res[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    n = res["sciptm"]["n"]
    return {
        "n": n, "runs": res,
        "sciptm_cold_per_s": n / res["sciptm"]["pass1_s"], "sciptm_warm_per_s": n / res["sciptm"]["pass3_s"],
        "pymatgen_sga_per_s": n / res["pymatgen"]["pass3_s"],
        "cold_over_warm_before": res["sciptm_no_table"]["pass1_s"] / res["sciptm_no_table"]["pass3_s"],
        "cold_over_warm_after": res["sciptm"]["pass1_s"] / res["sciptm"]["pass3_s"],
        "ratio_sciptm_warm_over_sga": res["pymatgen"]["pass3_s"] / res["sciptm"]["pass3_s"],
        "ratio_sciptm_cold_over_sga_cold": res["pymatgen"]["pass1_s"] / res["sciptm"]["pass1_s"],
    }


def mutations(args) -> dict[str, Any]:
    import pandas as pd

    import sciptm
    import sciptm.zeroshot.mutations as Z
    from sciptm.domains.protein.mutations import infer_wild_type

    df = pd.read_csv(mirror() / "protein" / "dms" / "GRB2_HUMAN_Faure_2021.csv.gz")
    wt = infer_wild_type(df.mutant[:100], df.mutated_sequence[:100], offset=158)
    enc = sciptm.Encoder.from_pretrained("sciptm/protein-small")
    fast = Z._parse_all

    def before():
        Z._parse_all = Z._parse_rows
        try:
            return Z.score_mutations(enc, wt, df.mutant, offset=158, batch_size=32)
        finally:
            Z._parse_all = fast

    def after():
        return Z.score_mutations(enc, wt, df.mutant, offset=158)

    a, b = before(), after()
    same = float(np.abs(a["score"].to_numpy() - b["score"].to_numpy()).max())
    t_before, t_after = [], []
    for _ in range(3):
        t_before.append(timed(before)[0])
        t_after.append(timed(after)[0])
    n = len(df)
    tb, ta = statistics.median(t_before), statistics.median(t_after)
    return {"n": n, "before_variants_per_s": n / tb, "after_variants_per_s": n / ta, "speedup": tb / ta,
            "max_abs_score_difference": same}


def startup(args) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONWARNINGS": "ignore"}
    exe = Path(sys.executable)
    cli = exe.parent / "sciptm"
    commands = {"import_torch": [str(exe), "-c", "import torch"],
                "import_torch_transformers": [str(exe), "-c", "import torch, transformers"],
                "import_sciptm": [str(exe), "-c", "import sciptm"],
                "sciptm_help": [str(cli) if cli.exists() else str(exe), *([] if cli.exists() else ["-m", "sciptm"]),
                                "--help"]}
    for cmd in commands.values():  # warm the file cache once
        subprocess.run(cmd, capture_output=True, env=env)
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(args.startup_repeats):
        for k, cmd in commands.items():
            times[k].append(timed(lambda: subprocess.run(cmd, capture_output=True, env=env, check=True))[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"seconds": med, "import_sciptm_over_torch": med["import_sciptm"] / med["import_torch"],
            "help_over_torch": med["sciptm_help"] / med["import_torch"]}


SECTIONS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "ceiling": ceiling, "startup": startup, "tokenize": tokenize, "crystal": crystal, "mutations": mutations,
    "embed": embed, "pretrain": pretrain, "finetune": finetune,
}


# --------------------------------------------------------------------------------------------- report
def markdown(results: dict[str, Any]) -> str:
    r = results["sections"]
    lines = [f"# sciptm speed vs references ({results['machine']['when']})", "",
             f"Command: `{results['command']}`  ",
             f"Machine: {results['machine']['cpus']} CPUs, {results['machine']['threads']} thread(s) per side, "
             f"load average at start {results['machine']['load_start']}, at end {results['machine'].get('load_end')}",
             "", "| measurement | sciptm | reference | ratio (higher = sciptm faster) | target |", "|---|---|---|---|---|"]

    def row(name, ours, ref, ratio, target=""):
        lines.append(f"| {name} | {ours} | {ref} | {ratio} | {target} |")

    if "ceiling" in r:
        row("fp32 matmul ceiling", f"{r['ceiling']['matmul_gflops']:.1f} GFLOP/s", "", "", "")
    if "finetune" in r:
        f = r["finetune"]
        row("fine-tune tiny on ESOL, s/epoch", f"{f['sciptm']['s_per_epoch']:.2f}", f"Chemprop {f['chemprop']['s_per_epoch']:.2f}",
            f"{1 / f['epoch_ratio_sciptm_over_chemprop']:.2f}x", ">= 1x")
        row("  test RMSE (mean ± sd over seeds)", f"{f['sciptm']['test_rmse_mean']:.3f} ± {f['sciptm']['test_rmse_std']:.3f}",
            f"{f['chemprop']['test_rmse_mean']:.3f} ± {f['chemprop']['test_rmse_std']:.3f}", "", "within noise")
        row("  length buckets vs random batches, s/epoch", f"{f['per_seed'][0]['sciptm']['s_per_epoch']:.2f}",
            f"{f['sciptm_no_buckets']['s_per_epoch']:.2f}", f"{f['bucketing_speedup']:.2f}x", "")
    if "embed" in r:
        e = r["embed"]
        row(f"embed {e['n']} MOSES SMILES, mol/s (fp32)", f"{e['sciptm_fp32_mol_per_s']:.0f}", f"raw loop {e['raw_mol_per_s']:.0f}",
            f"{e['ratio_fp32']:.2f}x", ">= 1.5x")
        row("  embed int8 (cosine to fp32 " + f"{e['min_cosine_int8_vs_fp32']:.5f})", f"{e['sciptm_int8_mol_per_s']:.0f}",
            f"raw loop {e['raw_mol_per_s']:.0f}", f"{e['ratio_int8']:.2f}x", ">= 1.5x")
    if "pretrain" in r:
        p = r["pretrain"]
        for label in ("random_batches", "length_buckets"):
            q = p[label]
            row(f"MLM pretraining ({p['size']}), {label.replace('_', ' ')}", f"{q['tokens_per_s']:.0f} tok/s, "
                f"MFU {100 * q['mfu']:.1f}%", f"padding {100 * q['padding_fraction']:.1f}%", "", ">= 50% MFU")
        row("  buckets vs random batches, real tokens/s", "", "", f"{p['speedup']:.2f}x", "")
    if "tokenize" in r:
        t = r["tokenize"]
        row(f"SMILES -> token ids ({t['n']}), per s", f"{t['sciptm_validate_tokenize_per_s']:.0f} (validate + tokenize)",
            f"RDKit parse+canonical {t['rdkit_parse_canonical_per_s']:.0f}", f"{t['ratio_sciptm_over_rdkit']:.2f}x", "")
        row("  tokenizer alone", f"{t['sciptm_tokenizer_only_per_s']:.0f}", "", f"{t['ratio_tokenizer_only_over_rdkit']:.2f}x", "")
    if "crystal" in r:
        c = r["crystal"]
        row(f"crystal tokens ({c['n']} AFLOW prototypes), per s, warm", f"{c['sciptm_warm_per_s']:.1f}",
            f"SpacegroupAnalyzer {c['pymatgen_sga_per_s']:.1f}", f"{c['ratio_sciptm_warm_over_sga']:.2f}x", "")
        row("  first pass / third pass in a fresh process", f"{c['cold_over_warm_after']:.2f}",
            f"before (no table) {c['cold_over_warm_before']:.2f}", "", "~1")
    if "mutations" in r:
        m = r["mutations"]
        row(f"score_mutations, {m['n']} GRB2 variants, variants/s", f"{m['after_variants_per_s']:.0f}",
            f"before {m['before_variants_per_s']:.0f}", f"{m['speedup']:.2f}x", ">= 3x")
    if "startup" in r:
        s = r["startup"]
        row("import sciptm / import torch", f"{s['seconds']['import_sciptm']:.2f} s", f"{s['seconds']['import_torch']:.2f} s",
            f"{s['import_sciptm_over_torch']:.2f} (time ratio)", "<= 1.1")
        row("sciptm --help / import torch", f"{s['seconds']['sciptm_help']:.2f} s", f"{s['seconds']['import_torch']:.2f} s",
            f"{s['help_over_torch']:.2f} (time ratio)", "<= 0.5")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", choices=list(SECTIONS), help="sections to run (default: all)")
    ap.add_argument("--force", action="store_true", help="re-run sections already in the results file")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=64, help="fine-tuning batch size (Chemprop's default: 64)")
    ap.add_argument("--embed-n", type=int, default=1500)
    ap.add_argument("--tokenize-n", type=int, default=5000)
    ap.add_argument("--pretrain-size", default="small")
    ap.add_argument("--pretrain-steps", type=int, default=10)
    ap.add_argument("--startup-repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    os.environ.setdefault("SCIPTM_DATA_MIRROR", str(mirror()))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "speed.json"
    results = json.loads(path.read_text()) if path.exists() and not args.force else {"sections": {}}
    results["command"] = " ".join(["python", "benchmarks/speed/run.py", *(argv or sys.argv[1:])])
    results["machine"] = {"cpus": os.cpu_count(), "threads": args.threads, "python": platform.python_version(),
                          "torch": torch.__version__, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                          "load_start": os.getloadavg()[0]}
    wanted = args.only or list(SECTIONS)
    for name in wanted:
        if name in results["sections"] and not args.force:
            print(f"{name}: kept from {path}", flush=True)
            continue
        if name in ("pretrain",):
            if "ceiling" not in results["sections"]:
                results["sections"]["ceiling"] = ceiling(args)
            args.ceiling_gflops = results["sections"]["ceiling"]["matmul_gflops"]
        print(f"{name}: running (load {os.getloadavg()[0]:.1f})", flush=True)
        t0 = time.perf_counter()
        results["sections"][name] = {**SECTIONS[name](args), "wall_s": time.perf_counter() - t0,
                                     "load_avg_1min_after": os.getloadavg()[0]}
        print(f"{name}: {json.dumps(results['sections'][name])}", flush=True)
        path.write_text(json.dumps(results, indent=2))
    results["machine"]["load_end"] = os.getloadavg()[0]
    path.write_text(json.dumps(results, indent=2))
    (args.out / "speed.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
