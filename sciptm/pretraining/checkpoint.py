"""Atomic training checkpoints: model, optimizer, scheduler, RNG states, step and data position.

Layout of ``<out>/checkpoints/step-00001000/``::

    model/               save_pretrained folder (fp32 weights, tokenizer, config)
    optimizer.pt         optimizer.state_dict()      (tensors and plain values: loads with weights_only=True)
    scheduler.pt         scheduler.state_dict()
    rng.pt               torch CPU (+ CUDA) generator states
    trainer_state.json   step, tokens seen, data position, corpus fingerprint, objectives
    head/                regression head of multi-objective runs (see sciptm.pretraining.heads)

A checkpoint is written into ``.tmp-step-...`` and renamed into place with ``os.replace``, so a crash
mid-write leaves the previous checkpoint as the latest complete one.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import torch

_PREFIX = "step-"


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["torch_cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch_cpu"])
    if "torch_cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["torch_cuda"])


def save_checkpoint(folder: Path, step: int, encoder, optimizer, scheduler, trainer_state: dict[str, Any],
                    keep: int = 2, extra: Callable[[Path], None] | None = None) -> Path:
    """Write the checkpoint of ``step`` atomically under ``folder``; keep the newest ``keep`` ones.
    ``extra(tmp_folder)`` writes more files (a regression head) before the folder is renamed into place."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{_PREFIX}{step:08d}"
    tmp = folder / f".tmp-{_PREFIX}{step:08d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    encoder.save_pretrained(tmp / "model")
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    torch.save(rng_state(), tmp / "rng.pt")
    if extra is not None:
        extra(tmp)
    (tmp / "trainer_state.json").write_text(json.dumps({**trainer_state, "step": step}, indent=2))
    if final.exists():  # re-saving the same step (e.g. an early stop right after a periodic save)
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in list_checkpoints(folder)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    for stale in folder.glob(f".tmp-{_PREFIX}*"):  # leftovers of crashed writers
        shutil.rmtree(stale, ignore_errors=True)
    return final


def list_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    if not folder.exists():
        return []
    found = [p for p in folder.glob(f"{_PREFIX}*") if (p / "trainer_state.json").exists()]
    return sorted(found, key=lambda p: int(p.name[len(_PREFIX):]))


def latest_checkpoint(folder: Path) -> Path | None:
    found = list_checkpoints(folder)
    return found[-1] if found else None


def load_state(checkpoint: Path) -> dict[str, Any]:
    """Optimizer, scheduler, RNG and trainer state of a checkpoint (tensors load with ``weights_only=True``)."""
    return {
        "optimizer": torch.load(checkpoint / "optimizer.pt", map_location="cpu", weights_only=True),
        "scheduler": torch.load(checkpoint / "scheduler.pt", map_location="cpu", weights_only=True),
        "rng": torch.load(checkpoint / "rng.pt", map_location="cpu", weights_only=True),
        "trainer": json.loads((checkpoint / "trainer_state.json").read_text()),
    }
