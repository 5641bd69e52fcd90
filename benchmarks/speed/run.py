"""sciptm against its references, measured in one run on this machine; writes a table of ratios.

Each section times sciptm and the reference it replaces side by side in the same process (or in fresh
subprocesses where a cold start is the point), with the same number of threads on each side, and records
the ratio. The machine's ceiling (fp32 matmul GFLOP/s on the same threads) is measured first so that
model-FLOPs utilisation (MFU) can be stated.

Sections (``--only`` picks some):

- ``ceiling``: fp32 matmul GFLOP/s (square matrices, best of repeats), per wall second and per CPU second.
- ``finetune``: seconds per epoch of ``tiny`` fine-tuned on ESOL vs Chemprop 2 (in process, same train rows,
  same epochs, batch 64, one thread each), test RMSE over ``--seeds``. An epoch is training + validation on
  both sides (Lightning runs validation inside ``on_train_epoch_start..end``; sciptm's is timed between
  epoch callbacks); sciptm's training steps alone are recorded too, and each side's CPU seconds per epoch (all
  threads of the process). Also, over the same seeds: sciptm with PyTorch's CPU dropout
  (``SCIPTM_FAST_DROPOUT=0``, the default before :mod:`sciptm.training.fast_dropout`), with the encoder's own
  dropout (0.1 on attention probabilities and hidden states: the default before #16) and with
  hidden-state dropout 0.1 only (the default between ``attention_dropout=0`` and ``encoder_dropout=0``); and
  with bucketing off (first seed).
- ``embed``: ``Encoder.embed`` (fp32, int8) vs a raw ``transformers`` loop (AutoModel, batches of 64 in
  input order, padding to the longest) on MOSES SMILES with ``sciptm/smiles-small``; forward FLOPs per
  molecule and the floor they imply for 1M molecules on 2 cores at the fp32 matmul and int8 ``Linear`` ceilings.
- ``pretrain``: masked-LM training steps of a ``small`` SMILES model on MOSES: random batches, length buckets,
  + LM head on the masked positions only and fused AdamW (what ``sciptm pretrain`` runs), + 128-row batches
  (its default), + ``attention_dropout: 0``, + dropout off. Real tokens/s, padding fraction, MFU (useful model
  FLOPs, see :func:`pretrain`) against the higher of two ceilings measured around the runs, per wall second
  and per CPU second of the process.
- ``tokenize``: SMILES -> token ids (sciptm: validation + tokenizer) vs RDKit parse + canonical SMILES.
- ``crystal``: crystal tokens (sciptm, fresh process, first and third pass; shipped normalizer table on/off)
  vs pymatgen ``SpacegroupAnalyzer`` alone (symmetrized structure), AFLOW prototypes shipped with pymatgen.
- ``mutations``: ``score_mutations`` variants/s on all 63,366 GRB2 variants: the d3facd9 code path (a frozen
  copy here: row-by-row parser, 32-window passes, full logits) vs today's (byte-level vectorized parser, one
  masked window per distinct position in budget-sized passes through a lean ESM forward: fused q/k/v, reused
  buffers, the last block's output/feed-forward and the LM head only on the read positions, one-kernel GELU);
  also today's scorer with only the parser swapped back (the earlier "before"), and the after's seconds split
  into the parser alone and the masked passes alone.
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
    """fp32 matmul GFLOP/s, best of repeats: per second of wall time and per second of this process's CPU time
    (with one thread the second leaves out the time the thread waited for a core on a loaded machine)."""
    import torch

    best = best_cpu = 0.0
    for n in (256, 512, 1024):
        a, b = torch.randn(n, n), torch.randn(n, n)
        for _ in range(2):
            a @ b
        reps = max(3, int(2e9 / (2 * n**3)))
        walls, cpus = [], []
        for _ in range(3):
            c = time.process_time()
            walls.append(timed(lambda: [a @ b for _ in range(reps)])[0])
            cpus.append(time.process_time() - c)
        best = max(best, 2 * n**3 * reps / min(walls) / 1e9)
        best_cpu = max(best_cpu, 2 * n**3 * reps / max(min(cpus), 1e-9) / 1e9)
    return {"matmul_gflops": best, "matmul_gflops_cpu_time": best_cpu}


def finetune(args) -> dict[str, Any]:
    import logging

    import pandas as pd

    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    df = pd.read_csv(mirror() / "chem" / "delaney-processed.csv")
    smiles = df["smiles"].tolist()
    y = df["measured log solubility in mols per litre"].to_numpy(float)
    from sciptm.training.trainer import TrainerConfig

    default_drop = TrainerConfig().encoder_dropout

    rows: dict[str, Any] = {"epochs": args.epochs, "seeds": args.seeds, "n_rows": len(smiles),
                            "timing": "s_per_epoch = median over epochs of training + validation (as Lightning's "
                                      "on_train_epoch_start..on_train_epoch_end, which runs validation inside); "
                                      "train_s_per_epoch = the training steps alone",
                            "order": "per seed, sciptm's default fit and Chemprop's fit run back to back (Chemprop "
                                     "first on every second seed), then the other sciptm variants"}
    per_seed = []
    for k, seed in enumerate(args.seeds):
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(smiles))
        n_tr, n_va = int(0.8 * len(perm)), int(0.1 * len(perm))
        tr, va, te = perm[:n_tr], perm[n_tr:n_tr + n_va], perm[n_tr + n_va:]
        result = {"seed": seed, "n_train": len(tr)}
        # sciptm: tiny, default trainer (length buckets, no encoder dropout; the head keeps its own), same
        # epochs as Chemprop, its batch size (64); "checkpoint dropout": the encoder's own dropout (0.1) on the
        # attention probabilities and hidden states (the default before #16); "hidden dropout": 0.1 on the
        # hidden states only (the default between attention_dropout=0 and encoder_dropout=0)
        # hidden dropout 0.1 (encoder_dropout=None) is the default until encoder_dropout=0; with that default,
        # the third variant is the encoder's dropout off instead ("no dropout")
        third = (("sciptm_hidden_dropout", {"encoder_dropout": None}) if default_drop is not None
                 else ("sciptm_no_dropout", {"attention_dropout": 0.0, "encoder_dropout": 0.0}))
        # "torch dropout": the default with PyTorch's CPU dropout (SCIPTM_FAST_DROPOUT=0), the default before
        # sciptm.training.fast_dropout
        variants = (("sciptm", {}), ("sciptm_torch_dropout", {}),
                    ("sciptm_checkpoint_dropout", {"attention_dropout": None, "encoder_dropout": None}),
                    third, ("sciptm_no_buckets", {"bucket_pool": 1}))
        # the two sides of the ratio run next to each other in time (this shared machine's speed drifts over
        # minutes), and which one runs first alternates from seed to seed
        chemprop_first = k % 2 == 1
        if chemprop_first:
            result["chemprop"] = _chemprop_epochs(smiles, y, tr, va, te, seed, args.epochs, args.batch_size)
        for label, extra in variants:
            if label == "sciptm_no_buckets" and seed != args.seeds[0]:
                continue
            epochs = 3 if "bucket_pool" in extra else args.epochs
            result[label] = _sciptm_epochs(smiles, y, tr, va, te, seed, epochs, args.batch_size, extra,
                                           torch_dropout=label == "sciptm_torch_dropout")
            if label == "sciptm" and not chemprop_first:
                result["chemprop"] = _chemprop_epochs(smiles, y, tr, va, te, seed, args.epochs, args.batch_size)
        per_seed.append(result)
        print(f"  finetune seed {seed}: {json.dumps(result)}", flush=True)
    rows["per_seed"] = per_seed
    rows["batch_size"] = {"sciptm": args.batch_size, "chemprop": args.batch_size}
    third = "sciptm_hidden_dropout" if "sciptm_hidden_dropout" in per_seed[0] else "sciptm_no_dropout"
    torch_drop = ("sciptm_torch_dropout",) if "sciptm_torch_dropout" in per_seed[0] else ()
    for key in ("sciptm", *torch_drop, "sciptm_checkpoint_dropout", third, "chemprop"):
        rows[key] = {"s_per_epoch": float(np.median([r[key]["s_per_epoch"] for r in per_seed])),
                     "cpu_s_per_epoch": float(np.median([r[key].get("cpu_s_per_epoch", np.nan) for r in per_seed])),
                     "test_rmse_mean": float(np.mean([r[key]["test_rmse"] for r in per_seed])),
                     "test_rmse_std": float(np.std([r[key]["test_rmse"] for r in per_seed]))}
    rows["sciptm_no_buckets"] = per_seed[0]["sciptm_no_buckets"]
    for key in ("sciptm", *torch_drop, "sciptm_checkpoint_dropout", third):
        rows[key]["train_s_per_epoch"] = float(np.median([r[key]["train_s_per_epoch"] for r in per_seed]))
    rows["epoch_ratio_sciptm_over_chemprop"] = rows["sciptm"]["s_per_epoch"] / rows["chemprop"]["s_per_epoch"]
    if torch_drop:
        rows["epoch_ratio_torch_dropout_over_chemprop"] = (rows["sciptm_torch_dropout"]["s_per_epoch"]
                                                           / rows["chemprop"]["s_per_epoch"])
    rows["epoch_ratio_checkpoint_dropout_over_chemprop"] = (rows["sciptm_checkpoint_dropout"]["s_per_epoch"]
                                                            / rows["chemprop"]["s_per_epoch"])
    rows[f"epoch_ratio_{third.removeprefix('sciptm_')}_over_chemprop"] = (rows[third]["s_per_epoch"]
                                                                        / rows["chemprop"]["s_per_epoch"])
    rows["bucketing_speedup"] = rows["sciptm_no_buckets"]["s_per_epoch"] / per_seed[0]["sciptm"]["s_per_epoch"]
    return rows


def _sciptm_epochs(smiles, y, tr, va, te, seed, epochs, batch_size, extra=None, torch_dropout=False) -> dict[str, float]:
    """One ``tiny`` fit on the ``tr`` rows (``extra``: trainer settings; ``torch_dropout``: PyTorch's dropout masks,
    ``SCIPTM_FAST_DROPOUT=0``): median wall and CPU seconds per epoch (training + validation; epoch 0, which also
    holds the set-up, left out), the training steps alone, and the test RMSE."""
    import sciptm
    from sciptm.training.trainer import epoch_callback

    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=seed)
    model = sciptm.PropertyPredictor(enc, task="regression", trainer=extra or None, epochs=epochs,
                                     batch_size=batch_size, seed=seed, patience=10**6)
    stamps: list[float] = []
    cpu_stamps: list[float] = []
    fast_before = os.environ.pop("SCIPTM_FAST_DROPOUT", None)
    if torch_dropout:
        os.environ["SCIPTM_FAST_DROPOUT"] = "0"
    t_fit, c_fit = time.perf_counter(), time.process_time()
    try:
        with epoch_callback(lambda row: (stamps.append(time.perf_counter()), cpu_stamps.append(time.process_time()))):
            model.fit([smiles[i] for i in tr], y[tr], valid=([smiles[i] for i in va], y[va]))
    finally:
        os.environ.pop("SCIPTM_FAST_DROPOUT", None)
        if fast_before is not None:
            os.environ["SCIPTM_FAST_DROPOUT"] = fast_before
    full = np.diff([t_fit, *stamps])[1:]  # epoch 0 also holds the set-up (tokenizing, model copy)
    pred = model.predict([smiles[i] for i in te])
    return {"s_per_epoch": float(np.median(full)), "train_s_per_epoch": float(np.median(model.history_["seconds"])),
            "cpu_s_per_epoch": float(np.median(np.diff([c_fit, *cpu_stamps])[1:])),
            "test_rmse": float(np.sqrt(np.mean((pred - y[te]) ** 2)))}


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

            self.cpu: list[float] = []

        def on_train_epoch_start(self, *a):
            self.t, self.c = time.perf_counter(), time.process_time()

        def on_train_epoch_end(self, *a):
            self.times.append(time.perf_counter() - self.t)
            self.cpu.append(time.process_time() - self.c)

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
    return {"s_per_epoch": float(np.median(timer.times)), "cpu_s_per_epoch": float(np.median(timer.cpu)),
            "test_rmse": float(np.sqrt(np.mean((pred - y[te]) ** 2)))}


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

    def cpu_timed(fn):  # (wall s, CPU s of this process, value): CPU time leaves out waiting for a core
        c = time.process_time()
        wall, value = timed(fn)
        return wall, time.process_time() - c, value

    enc.embed(smiles[:64])
    enc.embed(smiles[:64], quantize="int8")
    t_raw, c_raw, ref = cpu_timed(raw_loop)
    t_fp32, c_fp32, fp32 = cpu_timed(lambda: enc.embed(smiles, progress=False))
    t_int8, c_int8, int8 = cpu_timed(lambda: enc.embed(smiles, progress=False, quantize="int8"))
    # before: the same int8 call with the lean forward off (the transformers model's quantize_dynamic copy; the
    # malloc thresholds the lean path set stay set)
    os.environ["SCIPTM_LEAN_FORWARD"] = "0"
    try:
        enc.embed(smiles[:64], quantize="int8")
        t_stock, c_stock, _ = cpu_timed(lambda: enc.embed(smiles, progress=False, quantize="int8"))
    finally:
        os.environ.pop("SCIPTM_LEAN_FORWARD", None)
    # the lean forward without its C kernels (fused attention, GELU, add + LayerNorm): PyTorch's ops instead
    from sciptm.encoders.fused_attention import kernel as fused_kernels
    fused_on = fused_kernels() is not None
    os.environ["SCIPTM_FUSED_ATTENTION"] = "0"
    try:
        t_nofused, c_nofused, int8_nofused = cpu_timed(lambda: enc.embed(smiles, progress=False, quantize="int8"))
    finally:
        os.environ.pop("SCIPTM_FUSED_ATTENTION", None)
    cos = lambda a, b: float(np.min((a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)))  # noqa
    n = len(smiles)
    # the streamed 100k run (embed_100k.py, its own process and parts), as it stands in its results file
    streamed = None
    path_100k = args.out / "embed_100k.json"
    if path_100k.exists():
        s100 = json.loads(path_100k.read_text())
        streamed = {k: s100.get(k) for k in ("n_done", "threads", "quantize", "cpu_ms_per_mol", "cpu_1M_min_2cores",
                                              "mol_per_s", "peak_rss_gb", "raw_loop", "load_avg")}
        streamed["parts"] = {o: {k: p.get(k) for k in ("when", "command", "cpu_seconds", "n_done", "fused_kernels")}
                             for o, p in s100.get("parts", {}).items()}
    # the physical floor: forward FLOPs per molecule (real tokens only) over the machine's ceilings
    cfg = raw_model.config
    lengths = np.array([len(i) for i in tok(smiles, truncation=True)["input_ids"]], dtype=np.float64)
    n_body = sum(p.numel() for name, p in raw_model.named_parameters()
                 if "embeddings" not in name and "pooler" not in name)
    flops_per_mol = float(2 * n_body * lengths.mean()
                          + 4 * cfg.num_hidden_layers * cfg.hidden_size * (lengths**2).mean())
    # ceilings per second of CPU time (one thread: what a dedicated core does; wall time on a loaded machine
    # counts the waits for a core), never below the wall-time ones
    c = ceiling(args)
    fp32_ceiling = max(c["matmul_gflops"], c.get("matmul_gflops_cpu_time", 0.0)) * 1e9
    int8_wall, int8_cpu = _int8_linear_ops()
    int8_ceiling = max(int8_wall, int8_cpu)
    cores = 2
    return {"n": n, "raw_mol_per_s": n / t_raw, "sciptm_fp32_mol_per_s": n / t_fp32,
            "sciptm_int8_mol_per_s": n / t_int8, "ratio_fp32": t_raw / t_fp32, "ratio_int8": t_raw / t_int8,
            "min_cosine_fp32_vs_raw": cos(fp32, ref), "min_cosine_int8_vs_fp32": cos(int8, fp32),
            "threads": args.threads, "tokens_per_mol": float(lengths.mean()), "forward_flops_per_mol": flops_per_mol,
            "fp32_ceiling_gflops_per_thread": fp32_ceiling / 1e9, "int8_linear_gops_per_thread": int8_ceiling / 1e9,
            "ceilings_wall_time": {"fp32_gflops": c["matmul_gflops"], "int8_gops": int8_wall / 1e9},
            # 1M molecules on 2 cores, every FLOP at the ceiling (perfect scaling): nothing can beat this here
            "floor_1M_min_2cores_fp32": 1e6 * flops_per_mol / (cores * fp32_ceiling) / 60,
            "floor_1M_min_2cores_int8": 1e6 * flops_per_mol / (cores * int8_ceiling) / 60,
            "estimate_1M_min_2cores_int8_from_this_rate": 1e6 / (n / t_int8) / 60 / (cores / args.threads),
            # the same from CPU time (what 2 dedicated cores would take at this per-thread work, whatever the load)
            "cpu_s": {"raw": c_raw, "fp32": c_fp32, "int8": c_int8, "int8_lean_off": c_stock},
            "int8_lean_off_mol_per_s": n / t_stock, "lean_speedup_int8_cpu": c_stock / c_int8,
            "ratio_int8_cpu": c_raw / c_int8, "ratio_fp32_cpu": c_raw / c_fp32,
            "estimate_1M_min_2cores_int8_cpu_time": 1e6 * c_int8 / n / 60 / cores,
            "fused_kernels": fused_on, "int8_fused_off_cpu_s": c_nofused, "int8_fused_off_mol_per_s": n / t_nofused,
            "fused_speedup_int8_cpu": c_nofused / c_int8,
            "min_cosine_int8_fused_off_vs_fp32": cos(int8_nofused, fp32), "streamed_100k": streamed}


def _int8_linear_ops() -> float:
    """Ops/s (per second of wall time, per second of CPU time) of a dynamically quantized int8 ``Linear`` (what
    ``quantize="int8"`` runs), 4096 x 1024 x 1024, on the faster of PyTorch's default and ``onednn`` quantized
    engines (the ceiling of either; ``quantize="int8"`` runs on the default)."""
    import torch

    best = best_cpu = 0.0
    default = torch.backends.quantized.engine
    for engine in dict.fromkeys([default, "onednn"] if "onednn" in torch.backends.quantized.supported_engines
                                else [default]):
        torch.backends.quantized.engine = engine
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lin = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(torch.nn.Linear(1024, 1024)),
                                                         {torch.nn.Linear}, dtype=torch.qint8)
        x = torch.randn(4096, 1024)
        with torch.inference_mode():
            for _ in range(2):
                lin(x)
            walls, cpus = [], []
            for _ in range(3):
                c = time.process_time()
                walls.append(timed(lambda: [lin(x) for _ in range(5)])[0])
                cpus.append(time.process_time() - c)
        best = max(best, 2 * 4096 * 1024 * 1024 * 5 / min(walls))
        best_cpu = max(best_cpu, 2 * 4096 * 1024 * 1024 * 5 / max(min(cpus), 1e-9))
    torch.backends.quantized.engine = default
    return best, best_cpu


def pretrain(args) -> dict[str, Any]:
    """Masked-LM training steps, several set-ups side by side in one process, MFU against a ceiling measured
    in the same section.

    MFU counts only *useful* model FLOPs, the same for every set-up, so wasted work cannot raise it:
    ``6 * N_body * real_tokens`` (forward + backward of the transformer blocks, embeddings excluded: they
    are lookups) ``+ 12 * L * d * sum(real_length**2)`` (attention scores and values over the real lengths
    only) ``+ 6 * (d*d + d*V) * masked_tokens`` (the LM head's dense layer and vocabulary projection, on
    the positions that have a target). Padding, the LM head on unmasked positions and the optimizer count 0.

    MFU is stated twice: over wall time (against the wall-time ceiling) and over this process's CPU time
    (against the CPU-time ceiling). With one thread on a shared machine, the wall-time figure also counts the
    time the thread waited for a core (the ceiling, a best of short repeats, mostly does not); the CPU-time
    figure leaves that out on both sides.
    """
    import torch

    import sciptm
    from sciptm.pretraining.collate import IGNORE, Collator
    from sciptm.pretraining.corpus import TextCorpus
    from sciptm.pretraining.heads import MultiObjectiveModel, split_lm
    from sciptm.pretraining.stream import StepBatches

    base = sciptm.Encoder.from_config(domain="smiles", size=args.pretrain_size, seed=0)
    texts = base.prepare(moses(20_000, skip=300_000)).texts
    cfg = base.lm_model.config
    n_layers, d, vocab = cfg.num_hidden_layers, cfg.hidden_size, cfg.vocab_size
    body, _ = split_lm(base.lm_model)
    n_body = sum(p.numel() for n, p in body.named_parameters() if "embeddings" not in n)
    out: dict[str, Any] = {"size": args.pretrain_size, "non_embedding_body_params": n_body, "vocab": vocab,
                           "steps": args.pretrain_steps, "flops": "6*N_body*real + 12*L*d*sum(len^2) "
                           "+ 6*(d*d+d*V)*masked (useful model FLOPs only)"}
    from sciptm.training.trainer import set_encoder_dropout

    here = ceiling(args)
    out["ceiling_gflops_here"], out["ceiling_gflops_cpu_time_here"] = here["matmul_gflops"], here["matmul_gflops_cpu_time"]
    # label: (bucket pool, batch size, LM head on masked positions only + fused AdamW, encoder dropout: "on" =
    # the config's 0.1 everywhere, "attention 0" = none on the attention probabilities (SDPA's fused kernel),
    # "off" = none at all). sciptm pretrain's default batch is 128.
    setups = {
        "random_batches": (1, 64, False, "on"),
        "length_buckets": (50, 64, False, "on"),
        "buckets_masked_head_fused": (50, 64, True, "on"),
        "buckets_masked_head_fused_b128": (50, 128, True, "on"),
        "buckets_masked_head_fused_b128_attention_dropout_0": (50, 128, True, "attention 0"),
        "buckets_masked_head_fused_b128_no_dropout": (50, 128, True, "off"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "texts.txt"
        path.write_bytes("".join(texts).encode())
        ends = np.cumsum([len(t.encode()) for t in texts])
        corpus = TextCorpus(path, np.stack([ends - [len(t.encode()) for t in texts], ends], axis=1))
        collator = Collator(base.tokenizer, 128)
        for label, (pool, batch_size, fast, dropout) in setups.items():
            enc = sciptm.Encoder.from_config(domain="smiles", size=args.pretrain_size, seed=0)
            lm = enc.lm_model
            if dropout != "on":
                set_encoder_dropout(lm, 0.0 if dropout == "off" else None, 0.0)
            stream = StepBatches(corpus, collator, batch_size, seed=0, bucket_pool=pool)
            torch.manual_seed(0)
            if fast:  # what sciptm pretraining runs: MultiObjectiveModel (LM head on masked rows), fused AdamW
                model = MultiObjectiveModel(lm, {"lm": 1.0}, {}, None, "mlm")
                opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
                forward = lambda b: model(**b)["loss"]  # noqa: E731
            else:  # the transformers model's own loss (LM head on every position), per-tensor AdamW
                model = lm
                opt = torch.optim.AdamW(model.parameters(), lr=1e-4, foreach=False)
                forward = lambda b: model(**b).loss  # noqa: E731
            model.train()
            real = padded = masked = 0
            flops = 0.0
            times, cpu_times = [], []
            for step in range(args.pretrain_steps + 3):
                t, c = time.perf_counter(), time.process_time()
                batch = stream[step]  # collation counted in (the loop's default: no loader workers)
                loss = forward(batch)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                opt.zero_grad(set_to_none=True)
                dt, dc = time.perf_counter() - t, time.process_time() - c
                if step >= 3:
                    times.append(dt)
                    cpu_times.append(dc)
                    mask = batch["attention_mask"]
                    n_real, n_masked = int(mask.sum()), int((batch["labels"] != IGNORE).sum())
                    real += n_real
                    padded += mask.numel()
                    masked += n_masked
                    lengths = mask.sum(1).double()
                    flops += (6 * n_body * n_real + float(12 * n_layers * d * (lengths**2).sum())
                              + 6 * (d * d + d * vocab) * n_masked)
            total = sum(times)
            out[label] = {"batch_size": batch_size, "bucket_pool": pool, "masked_head_fused_adamw": fast,
                          "dropout": dropout, "tokens_per_s": real / total, "padding_fraction": 1 - real / padded,
                          "tokens_per_step": real / len(times), "masked_per_step": masked / len(times),
                          "model_gflops": flops / total / 1e9, "model_gflops_cpu_time": flops / sum(cpu_times) / 1e9}
            print(f"  pretrain {label}: {json.dumps(out[label])}", flush=True)
    out["speedup"] = out["length_buckets"]["tokens_per_s"] / out["random_batches"]["tokens_per_s"]
    after = ceiling(args)
    out["ceiling_gflops_after"], out["ceiling_gflops_cpu_time_after"] = after["matmul_gflops"], after["matmul_gflops_cpu_time"]
    # MFU against the higher of the two ceilings measured around the runs (the conservative choice)
    out["ceiling_gflops_used"] = max(out["ceiling_gflops_here"], out["ceiling_gflops_after"])
    out["ceiling_gflops_cpu_time_used"] = max(out["ceiling_gflops_cpu_time_here"], out["ceiling_gflops_cpu_time_after"])
    for label in setups:
        out[label]["mfu"] = out[label]["model_gflops"] / out["ceiling_gflops_used"]
        out[label]["mfu_cpu_time"] = out[label]["model_gflops_cpu_time"] / out["ceiling_gflops_cpu_time_used"]
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


def _score_d3facd9(enc, wt: str, mutants: list[str], offset: int, batch_size: int = 32) -> np.ndarray:
    """``score_mutations`` (masked-marginal) as it ran at commit d3facd9, kept frozen as the "before": row-by-row
    parse and check, one masked window per distinct position in passes of 32, the LM head on every position of
    every window (full logits), ``np.add.at`` accumulation."""
    import torch

    import sciptm.zeroshot.mutations as Z

    lm = Z._masked_lm(enc)
    vocab_id = enc.tokenizer.get_vocab()
    rows, pos, wt_ids, mut_ids = Z._parse_rows(mutants, list(range(len(mutants))), wt, offset, vocab_id,
                                               enc.tokenizer.unk_token_id)
    positions, site_index = np.unique(pos, return_inverse=True)
    prefix, suffix, res = Z._residue_ids(enc.tokenizer, wt)
    width = min(len(res), Z._max_window(enc, len(prefix) + len(suffix)))
    starts = Z._window_start(positions, len(res), width)
    inputs = []
    for p, s0 in zip(positions.tolist(), starts.tolist()):
        chunk = res[s0:s0 + width].copy()
        chunk[p - s0] = enc.tokenizer.mask_token_id
        inputs.append(prefix + chunk.tolist() + suffix)
    lm.eval()
    with torch.inference_mode():
        parts = [Z._log_probs(lm, inputs[i:i + batch_size], torch.device("cpu")).cpu()
                 for i in range(0, len(inputs), batch_size)]
    table = torch.cat(parts).numpy()
    site = np.empty((len(positions), table.shape[-1]), dtype=np.float32)
    for k, (p, s0) in enumerate(zip(positions.tolist(), starts.tolist())):
        site[k] = table[k, len(prefix) + p - s0]
    scores = np.zeros(len(mutants), dtype=np.float64)
    np.add.at(scores, rows, site[site_index, mut_ids] - site[site_index, wt_ids])
    return scores


def mutations(args) -> dict[str, Any]:
    import pandas as pd

    import sciptm
    import sciptm.zeroshot.mutations as Z
    from sciptm.domains.protein.mutations import infer_wild_type

    df = pd.read_csv(mirror() / "protein" / "dms" / "GRB2_HUMAN_Faure_2021.csv.gz")
    wt = infer_wild_type(df.mutant[:100], df.mutated_sequence[:100], offset=158)
    enc = sciptm.Encoder.from_pretrained("sciptm/protein-small")
    fast = Z._parse_all
    mutants = df.mutant.tolist()

    def before():  # the frozen d3facd9 code path
        return _score_d3facd9(enc, wt, mutants, offset=158)

    def before_rowparse():  # the earlier run.py "before": today's scorer with the row-by-row parser, passes of 32
        Z._parse_all = Z._parse_rows
        try:
            return Z.score_mutations(enc, wt, df.mutant, offset=158, batch_size=32)
        finally:
            Z._parse_all = fast

    def after():
        return Z.score_mutations(enc, wt, df.mutant, offset=158)

    vocab, unk = enc.tokenizer.get_vocab(), enc.tokenizer.unk_token_id
    sites = np.unique(Z._parse_all(mutants, range(len(mutants)), wt, 158, vocab, unk)[1])

    def parse():  # where the time goes now: the parser alone, the masked passes alone (the rest: arrays, frame)
        return Z._parse_all(mutants, df.mutant.index, wt, 158, vocab, unk)

    def passes():
        return Z.site_log_probs(enc, wt, sites)

    a, a2, b = before(), before_rowparse(), after()
    times: dict[str, list[float]] = {"before": [], "before_rowparse": [], "after": [], "after_parse": [],
                                     "after_masked_passes": []}
    for _ in range(5):
        times["before"].append(timed(before)[0])
        times["before_rowparse"].append(timed(before_rowparse)[0])
        times["after"].append(timed(after)[0])
        times["after_parse"].append(timed(parse)[0])
        times["after_masked_passes"].append(timed(passes)[0])
    n = len(df)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"n": n, "before": "d3facd9 code path (frozen copy in run.py: row parser, 32-window passes, full logits)",
            "before_variants_per_s": n / med["before"], "after_variants_per_s": n / med["after"],
            "before_rowparse_variants_per_s": n / med["before_rowparse"],
            "speedup": med["before"] / med["after"], "speedup_vs_rowparse": med["before_rowparse"] / med["after"],
            "seconds_median": med, "masked_passes": len(sites),
            "max_abs_score_difference": float(np.abs(a - b["score"].to_numpy()).max()),
            "max_abs_score_difference_rowparse": float(np.abs(a2["score"].to_numpy() - b["score"].to_numpy()).max())}


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
        bs = f.get("batch_size", {}).get("sciptm", 64), f.get("batch_size", {}).get("chemprop", 64)
        row("fine-tune tiny on ESOL, s/epoch" + (" (train + valid)" if "timing" in f else " (sciptm: train only)")
            + f", batch {bs[0]} / Chemprop {bs[1]}",
            f"{f['sciptm']['s_per_epoch']:.2f}", f"Chemprop {f['chemprop']['s_per_epoch']:.2f}",
            f"{1 / f['epoch_ratio_sciptm_over_chemprop']:.2f}x", ">= 1x")
        if "cpu_s_per_epoch" in f["chemprop"]:
            row("  CPU s/epoch of the process (all threads; less sensitive to other jobs on the machine)",
                f"{f['sciptm']['cpu_s_per_epoch']:.2f}", f"Chemprop {f['chemprop']['cpu_s_per_epoch']:.2f}",
                f"{f['chemprop']['cpu_s_per_epoch'] / f['sciptm']['cpu_s_per_epoch']:.2f}x", "")
        row("  test RMSE (mean ± sd over seeds)", f"{f['sciptm']['test_rmse_mean']:.3f} ± {f['sciptm']['test_rmse_std']:.3f}",
            f"{f['chemprop']['test_rmse_mean']:.3f} ± {f['chemprop']['test_rmse_std']:.3f}", "", "within noise")
        if "sciptm_torch_dropout" in f:
            g = f["sciptm_torch_dropout"]
            row("  before: PyTorch's CPU dropout (SCIPTM_FAST_DROPOUT=0; same hidden-state dropout 0.1), s/epoch "
                "(train + valid)", f"{g['s_per_epoch']:.2f}", f"Chemprop {f['chemprop']['s_per_epoch']:.2f}",
                f"{1 / f['epoch_ratio_torch_dropout_over_chemprop']:.2f}x", "")
            row("  before (PyTorch's dropout): CPU s/epoch", f"{g['cpu_s_per_epoch']:.2f}",
                f"Chemprop {f['chemprop']['cpu_s_per_epoch']:.2f}",
                f"{f['chemprop']['cpu_s_per_epoch'] / g['cpu_s_per_epoch']:.2f}x", "")
            row("  before (PyTorch's dropout): test RMSE", f"{g['test_rmse_mean']:.3f} ± {g['test_rmse_std']:.3f}",
                "", "", "")
        if "sciptm_checkpoint_dropout" in f:
            g = f["sciptm_checkpoint_dropout"]
            row("  before: the encoder's own dropout (0.1 on attention probabilities and hidden states), s/epoch "
                "(train + valid)", f"{g['s_per_epoch']:.2f}",
                f"Chemprop {f['chemprop']['s_per_epoch']:.2f}",
                f"{1 / f['epoch_ratio_checkpoint_dropout_over_chemprop']:.2f}x", "")
            row("  before: test RMSE", f"{g['test_rmse_mean']:.3f} ± {g['test_rmse_std']:.3f}", "", "", "")
        if "sciptm_hidden_dropout" in f:
            g = f["sciptm_hidden_dropout"]
            row("  training steps alone, s/epoch", f"{f['sciptm']['train_s_per_epoch']:.2f}", "", "", "")
            row("  hidden-state dropout 0.1 (attention 0; the default until encoder_dropout=0): s/epoch (train + valid)",
                f"{g['s_per_epoch']:.2f}", f"Chemprop {f['chemprop']['s_per_epoch']:.2f}",
                f"{1 / f['epoch_ratio_hidden_dropout_over_chemprop']:.2f}x", "")
            row("  hidden-state dropout 0.1: test RMSE", f"{g['test_rmse_mean']:.3f} ± {g['test_rmse_std']:.3f}", "", "", "")
        if "sciptm_no_dropout" in f:
            g = f["sciptm_no_dropout"]
            row("  training steps alone, s/epoch", f"{f['sciptm']['train_s_per_epoch']:.2f}", "", "", "")
            row("  encoder dropout 0: s/epoch (train + valid)", f"{g['s_per_epoch']:.2f}",
                f"Chemprop {f['chemprop']['s_per_epoch']:.2f}", f"{1 / f['epoch_ratio_no_dropout_over_chemprop']:.2f}x", "")
            row("  encoder dropout 0: test RMSE", f"{g['test_rmse_mean']:.3f} ± {g['test_rmse_std']:.3f}", "", "", "")
        row("  length buckets vs random batches, s/epoch", f"{f['per_seed'][0]['sciptm']['s_per_epoch']:.2f}",
            f"{f['sciptm_no_buckets']['s_per_epoch']:.2f}", f"{f['bucketing_speedup']:.2f}x", "")
    if "embed" in r:
        e = r["embed"]
        row(f"embed {e['n']} MOSES SMILES, mol/s (fp32)", f"{e['sciptm_fp32_mol_per_s']:.0f}", f"raw loop {e['raw_mol_per_s']:.0f}",
            f"{e['ratio_fp32']:.2f}x", ">= 1.5x")
        row("  embed int8 (cosine to fp32 " + f"{e['min_cosine_int8_vs_fp32']:.5f})", f"{e['sciptm_int8_mol_per_s']:.0f}",
            f"raw loop {e['raw_mol_per_s']:.0f}", f"{e['ratio_int8']:.2f}x", ">= 1.5x")
        if "floor_1M_min_2cores_fp32" in e:
            row("  1M molecules on 2 cores: floor at the fp32 / int8 ceilings, min",
                f"{e['floor_1M_min_2cores_fp32']:.1f} / {e['floor_1M_min_2cores_int8']:.1f}",
                f"{e['forward_flops_per_mol'] / 1e9:.3f} GFLOP/mol, {e['tokens_per_mol']:.1f} tokens", "", "<= 30")
            row("  1M molecules on 2 cores at this int8 rate (x2 cores), min",
                f"{e['estimate_1M_min_2cores_int8_from_this_rate']:.0f}", "", "", "<= 30")
        if "cpu_s" in e:
            row("  CPU time per molecule, ms: int8 / fp32 (raw loop)",
                f"{1e3 * e['cpu_s']['int8'] / e['n']:.2f} / {1e3 * e['cpu_s']['fp32'] / e['n']:.2f}",
                f"{1e3 * e['cpu_s']['raw'] / e['n']:.2f}", f"{e['ratio_int8_cpu']:.2f}x / {e['ratio_fp32_cpu']:.2f}x", "")
            row("  1M molecules on 2 cores from int8 CPU time, min", f"{e['estimate_1M_min_2cores_int8_cpu_time']:.0f}",
                "", "", "<= 30")
        if "int8_lean_off" in e.get("cpu_s", {}):
            row("  int8 CPU ms/molecule: lean forward vs the transformers model (SCIPTM_LEAN_FORWARD=0)",
                f"{1e3 * e['cpu_s']['int8'] / e['n']:.2f}", f"{1e3 * e['cpu_s']['int8_lean_off'] / e['n']:.2f}",
                f"{e['lean_speedup_int8_cpu']:.2f}x", "")
        if e.get("streamed_100k"):
            s100 = e["streamed_100k"]
            row(f"  streamed {s100['n_done']} MOSES SMILES (embed_100k.py, {s100['quantize']}): CPU ms/molecule; "
                f"1M on 2 cores, min; peak RSS, GB", f"{s100['cpu_ms_per_mol']:.2f}; {s100['cpu_1M_min_2cores']:.1f}; "
                f"{s100['peak_rss_gb']:.2f}", f"raw loop ratio {s100['raw_loop']['ratio']:.2f}x", "",
                "<= 30 min, < 2 GB")
        if "fused_speedup_int8_cpu" in e:
            row("  int8 CPU ms/molecule: C kernels on vs off (SCIPTM_FUSED_ATTENTION=0; cosine to fp32 "
                f"{e['min_cosine_int8_fused_off_vs_fp32']:.5f} off)", f"{1e3 * e['cpu_s']['int8'] / e['n']:.2f}",
                f"{1e3 * e['int8_fused_off_cpu_s'] / e['n']:.2f}", f"{e['fused_speedup_int8_cpu']:.2f}x", "")
    if "pretrain" in r:
        p = r["pretrain"]
        if "ceiling_gflops_here" in p:
            row("  ceiling measured in the pretraining section (before / after it; MFU uses the higher)",
                f"{p['ceiling_gflops_here']:.1f} / {p['ceiling_gflops_after']:.1f} GFLOP/s"
                + (f" (per CPU second {p['ceiling_gflops_cpu_time_here']:.1f} / {p['ceiling_gflops_cpu_time_after']:.1f})"
                   if "ceiling_gflops_cpu_time_here" in p else ""), "", "", "")
        for label, q in p.items():
            if not isinstance(q, dict) or "mfu" not in q:
                continue
            cpu = f" (per CPU second {100 * q['mfu_cpu_time']:.1f}%)" if "mfu_cpu_time" in q else ""
            row(f"MLM pretraining ({p['size']}), {label.replace('_', ' ')}, batch {q.get('batch_size', '')}",
                f"{q['tokens_per_s']:.0f} tok/s, MFU {100 * q['mfu']:.1f}%{cpu}",
                f"padding {100 * q['padding_fraction']:.1f}%", "", ">= 50% MFU")
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
            f"before (d3facd9 path) {m['before_variants_per_s']:.0f}", f"{m['speedup']:.2f}x", ">= 3x")
        if "before_rowparse_variants_per_s" in m:
            row("  vs today's scorer with the row parser (earlier 'before')", f"{m['after_variants_per_s']:.0f}",
                f"{m['before_rowparse_variants_per_s']:.0f}", f"{m['speedup_vs_rowparse']:.2f}x", "")
        if "after_parse" in m["seconds_median"]:
            sec = m["seconds_median"]
            row(f"  seconds per call: after; its parser alone; its {m['masked_passes']} masked passes alone "
                "(separate medians)", f"{sec['after']:.3f}; {sec['after_parse']:.3f}; {sec['after_masked_passes']:.3f}",
                f"before {sec['before']:.3f}", "", "")
    if "startup" in r:
        s = r["startup"]
        row("import sciptm / import torch", f"{s['seconds']['import_sciptm']:.2f} s", f"{s['seconds']['import_torch']:.2f} s",
            f"{s['import_sciptm_over_torch']:.2f} (time ratio)", "<= 1.1")
        row("sciptm --help / import torch", f"{s['seconds']['sciptm_help']:.2f} s", f"{s['seconds']['import_torch']:.2f} s",
            f"{s['help_over_torch']:.2f} (time ratio)", "<= 0.5")
    runs = sorted({(v.get("when", "?"), v.get("command", "?")) for v in r.values() if isinstance(v, dict)})
    if len(runs) > 1:
        lines += ["", "Sections come from these runs (ratios are always within one run):", ""]
        for when, command in runs:
            names = [k for k, v in r.items() if (v.get("when", "?"), v.get("command", "?")) == (when, command)]
            lines.append(f"- {when}: `{command}`: {', '.join(names)}")
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
    # --force re-runs the chosen sections; the others stay, each with the command and time that measured it
    results = json.loads(path.read_text()) if path.exists() else {"sections": {}}
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
                                     "load_avg_1min_after": os.getloadavg()[0],
                                     "command": results["command"], "when": results["machine"]["when"]}
        print(f"{name}: {json.dumps(results['sections'][name])}", flush=True)
        path.write_text(json.dumps(results, indent=2))
    results["machine"]["load_end"] = os.getloadavg()[0]
    path.write_text(json.dumps(results, indent=2))
    (args.out / "speed.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
