"""Start-up cost of sciptm's entry points, as ratios to ``python -c "import torch, transformers"`` (issue #15).

All commands run in one process tree, interleaved round by round (so machine load hits them alike), each in
a fresh interpreter; the figure per command is the median wall time over ``--rounds`` rounds, and the ratio
is that median over the baseline's median.

    python benchmarks/architecture/import_times.py --rounds 5 --out benchmarks/architecture/import_times.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

PY = sys.executable
SCIPTM = shutil.which("sciptm") or str(Path(PY).with_name("sciptm"))
COMMANDS = {
    "baseline: import torch, transformers": [PY, "-c", "import torch, transformers"],
    "import sciptm": [PY, "-c", "import sciptm"],
    "import sciptm.errors": [PY, "-c", "import sciptm.errors"],
    "sciptm --help": [SCIPTM, "--help"],
    "sciptm datasets list": [SCIPTM, "datasets", "list"],
}
HEAVY = ("torch", "transformers", "rdkit", "pymatgen", "deepchem", "matplotlib")


def _time(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _heavy_modules(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint('LOADED=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([PY, "-c", probe], check=True, capture_output=True, text=True).stdout.strip()
    loaded = out.splitlines()[-1].removeprefix("LOADED=")
    return [m for m in loaded.split(",") if m]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", help="write the figures as JSON here")
    args = ap.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for name, cmd in COMMANDS.items():  # warm the file cache once, not timed
        _time(cmd)
    for _ in range(args.rounds):
        for name, cmd in COMMANDS.items():
            times[name].append(_time(cmd))
    base = statistics.median(times["baseline: import torch, transformers"])
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append({"command": name, "median_s": round(med, 3), "ratio": round(med / base, 3),
                     "runs_s": [round(t, 3) for t in ts]})
    heavy = {
        "import sciptm": _heavy_modules("import sciptm"),
        "import sciptm.errors": _heavy_modules("import sciptm.errors"),
        **{name: _heavy_modules(f"import sys; sys.argv={argv!r}\n"
                                "from sciptm.cli.main import main\ntry:\n    main()\nexcept SystemExit:\n    pass")
           for name, argv in (("sciptm --help", ["sciptm", "--help"]),
                              ("sciptm datasets list", ["sciptm", "datasets", "list"]))},
    }
    result = {"python": platform.python_version(), "cpu_count": os.cpu_count(), "rounds": args.rounds,
              "load_average": os.getloadavg(), "rows": rows, "heavy_modules_loaded": heavy}
    width = max(len(r["command"]) for r in rows)
    print(f"{'command':{width}s}  median (s)  ratio to torch+transformers   runs (s)")
    for r in rows:
        print(f"{r['command']:{width}s}  {r['median_s']:10.3f}  {r['ratio']:10.3f}   {r['runs_s']}")
    print("heavy modules loaded:", heavy)
    print("load average:", result["load_average"])
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
