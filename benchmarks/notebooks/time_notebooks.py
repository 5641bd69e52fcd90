"""Execute the docs notebooks top to bottom and record each one's wall time.

Full settings (what a researcher runs) by default; ``--small`` flips ``SMALL = True`` as the test suite
does. Each notebook runs in a fresh ``python3`` kernel (this interpreter) inside a temporary folder;
any cell error fails the run. Results go to ``benchmarks/notebooks/timings.json`` (``--out``), one
entry per notebook and settings, with the machine it ran on.

Usage::

    SCIPTM_DATA_MIRROR=../shared/datasets OMP_NUM_THREADS=1 python benchmarks/notebooks/time_notebooks.py
    python benchmarks/notebooks/time_notebooks.py --small --notebooks 01_chemistry.ipynb
    python benchmarks/notebooks/time_notebooks.py --keep executed/   # also save the executed notebooks
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import nbclient
import nbformat

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "docs" / "notebooks"
DEFAULT_OUT = Path(__file__).resolve().parent / "timings.json"


def prepare(path: Path, small: bool, overrides: dict[str, object]):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(tagged) != 1 or "SMALL = False" not in tagged[0].source:
        raise SystemExit(f"{path.name}: needs exactly one 'parameters' cell with a 'SMALL = False' line")
    cell = tagged[0]
    if small:
        cell.source = cell.source.replace("SMALL = False", "SMALL = True", 1)
    if overrides:
        cell.source += "\n# overrides" + "".join(f"\n{k} = {v!r}" for k, v in overrides.items())
    return nb


def execute(path: Path, small: bool, timeout: int, keep: Path | None) -> dict[str, object]:
    """Run one notebook; returns its timing record."""
    nb = prepare(path, small, {})
    with tempfile.TemporaryDirectory(prefix="sciptm-nb-") as work:
        client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                         resources={"metadata": {"path": work}})
        t0 = time.perf_counter()
        client.execute()
        seconds = time.perf_counter() - t0
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, keep / path.name)
    n_images = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    return {"notebook": path.name, "settings": "small" if small else "full", "seconds": round(seconds, 1),
            "cells": sum(c.cell_type == "code" for c in nb.cells), "images": n_images}


def machine() -> dict[str, object]:
    import torch

    return {"python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="the test suite's settings (SMALL = True)")
    parser.add_argument("--notebooks", nargs="*", default=None, help="file names in docs/notebooks (default: all)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    parser.add_argument("--keep", type=Path, default=None, help="folder for the executed notebooks")
    args = parser.parse_args(argv)

    paths = [NOTEBOOKS / n for n in args.notebooks] if args.notebooks else sorted(NOTEBOOKS.glob("*.ipynb"))
    records = []
    for path in paths:
        print(f"{path.name} ({'small' if args.small else 'full'} settings) ...", flush=True)
        record = execute(path, args.small, args.timeout, args.keep)
        print(f"  {record['seconds']:.1f} s", flush=True)
        records.append(record)

    previous = json.loads(args.out.read_text()) if args.out.is_file() else {"runs": []}
    keys = {(r["notebook"], r["settings"]) for r in records}
    runs = [r for r in previous.get("runs", []) if (r["notebook"], r["settings"]) not in keys]
    stamp = {"created": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
             "command": "python " + " ".join([Path(sys.argv[0]).as_posix(), *(argv or sys.argv[1:])])}
    runs += [{**r, **stamp} for r in records]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": sorted(runs, key=lambda r: (r["settings"], r["notebook"]))}, indent=1)
                        + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
