"""The pretraining loop: one code path for every domain and for masked or causal LM objectives.

:func:`pretrain` prepares (or reuses) the corpus, builds a stock ``transformers`` model through
:meth:`sciptm.Encoder.from_config`, trains it with AdamW under ``accelerate`` (CPU, or GPU with bf16 /
fp16 mixed precision), evaluates validation loss and token accuracy (the untrained model at step 0
included), writes atomic checkpoints, and exports an fp16 encoder folder with a model card.

Output folder::

    config.yaml  metrics.jsonl  loss_curve.png  checkpoints/step-XXXXXXXX/  encoder/ (README.md card)

Example
-------
>>> from sciptm.pretraining import PretrainConfig, pretrain
>>> cfg = PretrainConfig.from_yaml("benchmarks/pretrain/smiles_cpu_tiny.yaml")  # doctest: +SKIP
>>> result = pretrain(cfg, "runs/smiles-tiny")                                 # doctest: +SKIP
>>> result.final["accuracy"] > result.untrained["accuracy"]                    # doctest: +SKIP
True
"""
from __future__ import annotations

import dataclasses
import logging
import math
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import yaml

from sciptm.domains import get_domain
from sciptm.encoders import Encoder
from sciptm.encoders.device import resolve_precision
from sciptm.pretraining.checkpoint import latest_checkpoint, load_state, save_checkpoint, set_rng_state
from sciptm.pretraining.collate import IGNORE, Collator
from sciptm.pretraining.config import PretrainConfig
from sciptm.pretraining.corpus import PreparedCorpus, format_counts, prepare_corpus
from sciptm.pretraining.heads import MultiObjectiveModel, RegressionHead, evaluate_objectives, load_head, save_head
from sciptm.pretraining.report import MetricsLog, model_card, plot_curves
from sciptm.pretraining.stream import StepBatches, fixed_batches
from sciptm.pretraining.targets import Targets, build_targets

#: config fields that may differ between a run and its resumption (they do not change the result)
RESUMABLE_CHANGES = frozenset({"max_minutes", "num_workers", "workers", "cache_dir", "log_every", "device", "mirror",
                               "cpu_threads"})
#: keys added after runs were recorded: a config.yaml without them holds their defaults
_LATER_KEYS = ("objectives", "target_clip", "label_file", "head_hidden", "init_from", "block_label_splits",
               "attention_dropout")


@dataclass
class PretrainResult:
    """What a run produced: where, how far, and the validation scores before and after."""

    out_dir: Path
    encoder_dir: Path | None
    step: int
    tokens_seen: int
    untrained: dict[str, float] | None
    final: dict[str, float]
    corpus_stats: dict[str, Any] = field(default_factory=dict)
    resumed_from: int | None = None


class LrSchedule:
    """Linear warm-up, then linear / cosine decay to zero at ``total`` steps (or constant)."""

    def __init__(self, warmup: int, total: int, kind: str):
        self.warmup, self.total, self.kind = warmup, total, kind

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        if self.kind == "constant":
            return 1.0
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        if self.kind == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0 - progress


def _optimizer(model: torch.nn.Module, cfg: PretrainConfig) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "norm" in name.lower() else decay).append(param)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    for kind in ("fused", "foreach"):  # one kernel per step where the device has it; the same AdamW update
        try:
            return torch.optim.AdamW([dict(g) for g in groups], lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6,
                                     **{kind: True})
        except (RuntimeError, ValueError, TypeError):
            continue
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)


@torch.no_grad()
def evaluate(model: torch.nn.Module, batches: list[dict[str, torch.Tensor]], device: torch.device,
             objective: str, autocast: Callable) -> dict[str, float]:
    """Mean cross-entropy and accuracy over the target tokens (masked ones, or next tokens for CLM)."""
    was_training = model.training
    model.eval()
    total, correct, count = 0.0, 0, 0
    for batch in batches:
        with autocast():
            logits = model(input_ids=batch["input_ids"].to(device),
                           attention_mask=batch["attention_mask"].to(device)).logits
        labels = batch["labels"].to(device)
        if objective == "clm":
            logits, labels = logits[:, :-1], labels[:, 1:]
        chosen = labels != IGNORE
        picked, target = logits[chosen].float(), labels[chosen]
        total += float(torch.nn.functional.cross_entropy(picked, target, reduction="sum"))
        correct += int((picked.argmax(-1) == target).sum())
        count += int(chosen.sum())
    model.train(was_training)
    if count == 0:
        raise ValueError("the validation batches hold no target tokens")
    return {"loss": total / count, "accuracy": correct / count, "tokens": count}


def _check_resumable(saved: dict[str, Any], cfg: PretrainConfig) -> None:
    defaults = PretrainConfig().to_dict()
    saved = {**{k: defaults[k] for k in _LATER_KEYS}, **saved}
    now = cfg.to_dict()
    changed = sorted(k for k in now if k not in RESUMABLE_CHANGES and saved.get(k) != now[k])
    if changed:
        detail = ", ".join(f"{k}: {saved.get(k)!r} -> {now[k]!r}" for k in changed)
        raise ValueError(f"cannot resume: the config differs from the run's config.yaml in {detail}")


def pretrain(cfg: PretrainConfig, out_dir: str | Path, resume: bool = False, command: str | None = None,
             log: Callable[[str], None] | None = None, stop_after: int | None = None) -> PretrainResult:
    """Pretrain an encoder as ``cfg`` says and export it to ``<out_dir>/encoder``.

    Parameters
    ----------
    cfg: the run configuration (see :class:`PretrainConfig`).
    out_dir: the run folder (config, metrics, curves, checkpoints, exported encoder).
    resume: continue from the newest complete checkpoint in ``out_dir`` (a fresh start if there is none).
    command: the command line recorded in the model card (default: ``sys.argv``).
    log: where progress lines go.
    stop_after: stop (checkpointing, without export) once this many steps are done, as a crash
        would; for tests of resumption.
    """
    from accelerate import Accelerator

    start_wall = time.time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_dir = out / "checkpoints"
    metrics = MetricsLog(out / "metrics.jsonl")
    latest = latest_checkpoint(ckpt_dir)
    if latest is not None and not resume:
        raise ValueError(f"{out} already holds checkpoints (newest {latest.name}); pass resume=True to continue "
                         "or choose another output folder")
    if resume and (out / "config.yaml").exists():
        saved = yaml.safe_load((out / "config.yaml").read_text())
        if "bucket_pool" not in saved:  # a run started before length bucketing: keep its batches
            saved["bucket_pool"] = 1
            if cfg.bucket_pool != 1:
                log("resuming a run without length bucketing: bucket_pool=1")
                cfg = dataclasses.replace(cfg, bucket_pool=1)
        _check_resumable(saved, cfg)
    if latest is None:
        (out / "config.yaml").write_text(cfg.to_yaml())
        if metrics.path.exists():
            metrics.path.unlink()

    log = log or logging.getLogger(__name__).info  # the CLI shows sciptm's INFO records
    corpus = prepare_corpus(cfg, log=log)  # before torch starts threads: preparation forks worker processes
    device_cpu = cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available())
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but no CUDA device is available")
    accelerator = Accelerator(mixed_precision=resolve_precision(cfg.precision, device_cpu), cpu=device_cpu)
    if device_cpu and cfg.cpu_threads > 0:
        torch.set_num_threads(cfg.cpu_threads)
    device = accelerator.device

    if latest is not None:
        encoder = Encoder.from_pretrained(latest / "model")
    elif cfg.init_from:
        encoder = Encoder.from_pretrained(cfg.init_from)
        if encoder.domain.name != get_domain(cfg.domain).name:
            raise ValueError(f"init_from {cfg.init_from!r} is a {encoder.domain.name} encoder, the config's domain "
                             f"is {get_domain(cfg.domain).name}")
        log(f"initialised from {cfg.init_from} (size / architecture keys not used)")
    else:
        encoder = Encoder.from_config(domain=cfg.domain, size=cfg.size, architecture=cfg.architecture, seed=cfg.seed)
    model = encoder.lm_model
    if model is None:
        raise ValueError(f"architecture {cfg.architecture!r} has no language-model head to pretrain")
    if cfg.attention_dropout is not None:  # kept in the model's config: the exported encoder records it
        from sciptm.training.trainer import set_encoder_dropout

        set_encoder_dropout(model, None, cfg.attention_dropout)
    objective = "clm" if encoder.model.config.model_type == "gpt2" else "mlm"
    weights = cfg.objective_weights()
    targets: Targets | None = build_targets(cfg, corpus, log=log)
    head = None
    if targets is not None:
        if latest is not None and (latest / "head").exists():
            head, _ = load_head(latest / "head")
        else:
            torch.manual_seed(cfg.seed + 1)
            head = RegressionHead(encoder.hidden_size, targets.width, cfg.head_hidden)
    objectives_model = MultiObjectiveModel(model, weights, targets.slices if targets else {}, head, objective)
    limit = encoder.tokenizer.model_max_length
    max_length = cfg.max_length or limit
    if max_length > limit:
        raise ValueError(f"max_length {max_length} exceeds the model's {limit} positions")
    collator = Collator(encoder.tokenizer, max_length, objective, cfg.crop, cfg.mlm_probability, cfg.mask_ratio,
                        cfg.random_ratio, mask=weights["lm"] > 0)
    stream = StepBatches(corpus.train, collator, cfg.batch_size, cfg.seed, encoder.domain, cfg.augment,
                         cfg.augment_probability, cfg.bucket_pool, targets=targets.train if targets else None)
    val_batches = fixed_batches(corpus.val, collator, cfg.val_size, cfg.batch_size, cfg.seed,
                                by_length=cfg.bucket_pool > 1, targets=targets.val if targets else None)

    optimizer = _optimizer(objectives_model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, LrSchedule(cfg.warmup_steps, cfg.max_steps, cfg.schedule))
    model, optimizer = accelerator.prepare(objectives_model, optimizer)

    step, tokens_seen, resumed_from = 0, 0, None
    if latest is not None:
        state = load_state(latest)
        if state["trainer"]["corpus"] != corpus.fingerprint:
            raise ValueError(f"cannot resume: checkpoint was trained on corpus {state['trainer']['corpus']}, "
                             f"this config prepares {corpus.fingerprint}")
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        step = resumed_from = int(state["trainer"]["step"])
        tokens_seen = int(state["trainer"]["tokens_seen"])
        metrics.truncate_after(step)
        log(f"resumed from {latest} (step {step}, epoch {stream.position(step)['epoch']})")
    else:
        torch.manual_seed(cfg.seed)  # dropout stream of a fresh run, independent of model-building history

    log(f"{encoder!r}; objectives {_describe(weights, objective)}; device {device}; precision {cfg.precision}; "
        f"{len(corpus.train)} train / {len(corpus.val)} val items; {stream.steps_per_epoch} steps per epoch")
    autocast = accelerator.autocast
    if step == 0:
        base = evaluate_objectives(model, val_batches, device, autocast)
        metrics.write({"split": "val", "step": 0, **base, "tokens_seen": 0})
        log(f"step 0 ({'untrained' if not cfg.init_from else 'initial weights'}): val {_scores(base)}")

    def save_head_into(folder: Path) -> None:
        if head is not None:
            save_head(folder / "head", head, {"targets": targets.to_dict()})

    def checkpoint(at: int) -> None:
        trainer_state = {"tokens_seen": tokens_seen, "corpus": corpus.fingerprint, "seed": cfg.seed,
                         "data_position": stream.position(at), "objective": objective, "objectives": weights}
        save_checkpoint(ckpt_dir, at, encoder, optimizer, scheduler, trainer_state, cfg.keep_checkpoints,
                        extra=save_head_into)

    last_val: dict[str, float] | None = None
    window_loss = torch.zeros((), device=device)
    window_parts: dict[str, float] = {}
    window_steps, window_tokens, window_padded, window_start = 0, 0, 0, time.time()
    loader = torch.utils.data.DataLoader(
        stream, batch_size=None, sampler=range(step, cfg.max_steps), num_workers=cfg.num_workers,
        generator=torch.Generator().manual_seed(cfg.seed), pin_memory=not device_cpu,
        prefetch_factor=4 if cfg.num_workers > 0 else None, persistent_workers=False,
    )
    model.train()
    stopped_early = False
    for batch in loader:
        n_tokens = int(batch["attention_mask"].sum())
        window_padded += int(batch["attention_mask"].numel())
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        parts_out = model(**batch)
        loss = parts_out["loss"]
        accelerator.backward(loss)
        for name, part in parts_out.items():
            if not name.startswith("_") and name != "loss":
                window_parts[name] = window_parts.get(name, 0.0) + float(part.detach())
        if cfg.grad_clip > 0:
            accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        tokens_seen += n_tokens
        window_loss += loss.detach()
        window_steps += 1
        window_tokens += n_tokens
        if step % cfg.log_every == 0 or step == cfg.max_steps:
            elapsed = time.time() - window_start
            row = {"split": "train", "step": step, "loss": float(window_loss) / window_steps,
                   "lr": scheduler.get_last_lr()[0], "tokens_seen": tokens_seen,
                   "tokens_per_s": window_tokens / max(elapsed, 1e-9),
                   "padding": round(1.0 - window_tokens / max(window_padded, 1), 4),
                   "elapsed_s": round(time.time() - start_wall, 1)}
            if targets is not None or weights["lm"] != 1.0:
                row["losses"] = {k: v / window_steps for k, v in window_parts.items()}
            metrics.write(row)
            parts = "".join(f", {k} {v:.4f}" for k, v in row.get("losses", {}).items())
            log(f"step {step}: loss {row['loss']:.4f}{parts}, lr {row['lr']:.2e}, {row['tokens_per_s']:.0f} tokens/s")
            window_parts = {}
            window_loss.zero_()
            window_steps, window_tokens, window_padded, window_start = 0, 0, 0, time.time()
        if step % cfg.eval_every == 0 or step == cfg.max_steps:
            last_val = {**evaluate_objectives(model, val_batches, device, autocast), "step": step}
            metrics.write({"split": "val", **last_val, "tokens_seen": tokens_seen})
            plot_curves(metrics, out / "loss_curve.png", f"{encoder.domain.name} {_describe(weights, objective)} pretraining")
            log(f"step {step}: val {_scores(last_val)}")
        over_time = cfg.max_minutes is not None and time.time() - start_wall > 60 * cfg.max_minutes
        if step % cfg.checkpoint_every == 0 or step == cfg.max_steps or over_time or step == stop_after:
            checkpoint(step)
        if over_time and step < cfg.max_steps:
            log(f"stopping at step {step}: max_minutes={cfg.max_minutes} reached (resume continues the schedule)")
            stopped_early = True
            break
        if step == stop_after:
            log(f"stopping at step {step} as asked (stop_after)")
            return PretrainResult(out, None, step, tokens_seen, None, last_val or {}, corpus.stats, resumed_from)

    if last_val is None or last_val["step"] != step:
        last_val = {**evaluate_objectives(model, val_batches, device, autocast), "step": step}
        metrics.write({"split": "val", **last_val, "tokens_seen": tokens_seen})
    plot_curves(metrics, out / "loss_curve.png", f"{encoder.domain.name} {_describe(weights, objective)} pretraining")
    untrained = next((r for r in metrics.rows("val") if r["step"] == 0), None)
    wall_total = _wall_total(metrics, time.time() - start_wall, resumed_from)
    encoder_dir = _export(out, encoder, accelerator, cfg, corpus, objective, step, tokens_seen, untrained, last_val,
                          command, wall_total, device, stopped_early, weights, targets)
    if head is not None:
        save_head_into(encoder_dir)
        import shutil

        for name in ("regression_head.safetensors", "regression_head.json"):
            shutil.move(str(encoder_dir / "head" / name), str(encoder_dir / name))
        shutil.rmtree(encoder_dir / "head")
    log(f"exported {encoder_dir}: val {_scores(last_val)} (step 0: {_scores(untrained)})" if untrained
        else f"exported {encoder_dir}")
    return PretrainResult(out, encoder_dir, step, tokens_seen,
                          {k: untrained[k] for k in untrained if k not in ("split", "step", "tokens_seen")}
                          if untrained else None,
                          last_val, corpus.stats, resumed_from)


def _describe(weights: dict[str, float], objective: str) -> str:
    parts = [f"{objective if k == 'lm' else k}={v:g}" for k, v in weights.items() if v > 0 or k == "lm"]
    return "+".join(parts) if len(parts) > 1 or weights.get("lm") != 1.0 else objective


def _scores(row: dict[str, Any] | None) -> str:
    if not row:
        return "-"
    keys = [k for k in ("loss", "accuracy") if k in row] + sorted(k for k in row if k.endswith(("_mse", "_r2")))
    return ", ".join(f"{k} {row[k]:.4f}" for k in keys)


def _wall_total(metrics: MetricsLog, this_session: float, resumed_from: int | None) -> float:
    """Training wall time over every session of the run: the last logged ``elapsed_s`` before this session
    resumed, plus this session's."""
    if resumed_from is None:
        return this_session
    before = [r.get("elapsed_s", 0.0) for r in metrics.rows("train") if r["step"] <= resumed_from]
    return (before[-1] if before else 0.0) + this_session


def _export(out: Path, encoder: Encoder, accelerator, cfg: PretrainConfig, corpus: PreparedCorpus, objective: str,
            step: int, tokens_seen: int, untrained: dict[str, Any] | None, final: dict[str, Any],
            command: str | None, wall_s: float, device: torch.device, stopped_early: bool,
            weights: dict[str, float] | None = None, targets: Targets | None = None) -> Path:
    import shutil

    accelerator.unwrap_model(encoder.lm_model, keep_fp32_wrapper=False)  # (the prepared module is the wrapper)
    target = out / "encoder"
    if target.exists():
        shutil.rmtree(target)
    encoder.save_pretrained(target, dtype=torch.float16)
    shutil.copy(out / "loss_curve.png", target / "loss_curve.png")
    summary = {
        "domain": encoder.domain.name, "architecture": encoder.model.config.model_type, "objective": objective,
        "parameters": encoder.n_parameters(), "hidden_size": encoder.hidden_size, "corpus": corpus.stats,
        "training": {"steps": step, "max_steps": cfg.max_steps, "batch_size": cfg.batch_size,
                     "tokens_seen": tokens_seen, "lr": cfg.lr, "schedule": cfg.schedule,
                     "warmup_steps": cfg.warmup_steps, "precision": cfg.precision, "device": str(device),
                     "wall_s": wall_s, "stopped_early": stopped_early},
        "untrained": untrained, "final": final, "init_from": cfg.init_from,
        "objectives": {(objective if k == "lm" else k): v for k, v in (weights or {"lm": 1.0}).items()},
        "targets": targets.to_dict() if targets is not None else None,
        "command": command or " ".join(shlex.quote(a) for a in sys.argv), "config_yaml": cfg.to_yaml(),
    }
    (target / "README.md").write_text(model_card(summary))
    return target


__all__ = ["PretrainResult", "evaluate", "format_counts", "pretrain"]
