"""The CLI contract (issue 13): every subcommand, given no arguments, an empty config, a missing file, a value
of the wrong type or a read-only output folder, exits with code 2 and prints exactly one ``error:`` line (no
traceback). Commands for which a case is valid (``datasets list`` with no arguments) must succeed instead.

The commands run in-process through :func:`sciptm.cli.main.main` (no interpreter start-up per call); run with
``-s`` to see the matrix.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from sciptm.cli.main import main

CASES = ("no arguments", "empty config", "missing file", "bad type", "read-only out")
VALID = "valid"  # the case is a correct call of that command: it must succeed (exit 0)
NA = None        # the command writes nothing, so a read-only output folder does not apply


def _read_only_folder(tmp: Path) -> tuple[Path, bool]:
    """A folder this process cannot write into: chmod 555 for a normal user; for root (who ignores permission
    bits) a path under /sys, which refuses every new entry. Returns the folder and whether it is the chmod one."""
    folder = tmp / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    probe = folder / "probe"
    try:
        probe.write_text("x")
    except OSError:
        return folder, True
    probe.unlink()
    folder.chmod(0o755)
    sysfs = Path("/sys/fs")
    if not sysfs.is_dir():
        pytest.skip("running as root without /sys: no read-only folder to test with")
    return sysfs / "sciptm-contract-check", False


def _matrix(t: Path, ro: Path) -> dict[str, dict[str, list[str] | str | None]]:
    csv, empty, missing_csv = str(t / "in.csv"), str(t / "empty.yaml"), str(t / "missing.csv")
    missing_yaml, not_mapping = str(t / "missing.yaml"), str(t / "list.yaml")
    results, model = str(t / "results"), str(t / "model")
    csv_task = ["--input", "smiles", "--targets", "y", "--task-type", "regression"]
    space = "{n_estimators: {low: 5, high: 10}}"
    pre_cfg = str(t / "pretrain.yaml")
    return {
        "bench": {
            "no arguments": ["bench"],
            "empty config": ["bench", "--config", empty],
            "missing file": ["bench", "chem", "--tasks", missing_csv, *csv_task, "--models", "mean", "--out",
                             str(t / "b1"), "--no-report"],
            "bad type": ["bench", "chem", "--tasks", "esol", "--models", "mean", "--seeds", "x", "--out", str(t / "b2")],
            "read-only out": ["bench", "chem", "--tasks", "esol", "--models", "mean", "--out", str(ro / "bench")],
        },
        "tune": {
            "no arguments": ["tune"],
            "empty config": ["tune", "--config", empty],
            "missing file": ["tune", "--task", missing_csv, "--model", "ecfp-rf", "--space", space, *csv_task,
                             "--out", str(t / "tu1")],
            "bad type": ["tune", "--task", csv, "--model", "ecfp-rf", "--space", space, "--n-trials", "x"],
            "read-only out": ["tune", "--task", csv, "--model", "ecfp-rf", "--space", space, *csv_task,
                              "--out", str(ro / "tune")],
        },
        "report": {
            "no arguments": ["report"],
            "empty config": ["report", "--config", empty],
            "missing file": ["report", str(t / "no-results")],
            "bad type": ["report", results, "--config", str(t / "out_list.yaml")],
            "read-only out": ["report", results, "--out", str(ro / "report")],
        },
        "datasets list": {
            "no arguments": VALID,
            "empty config": VALID,
            "missing file": ["datasets", "list", "--config", missing_yaml],
            "bad type": ["datasets", "list", "--config", not_mapping],
            "read-only out": NA,
        },
        "datasets info": {
            "no arguments": ["datasets", "info"],
            "empty config": ["datasets", "info", "--config", empty],
            "missing file": ["datasets", "info", "--config", missing_yaml],
            "bad type": ["datasets", "info", "--config", not_mapping],
            "read-only out": NA,
        },
        "embed": {
            "no arguments": ["embed"],
            "empty config": ["embed", "--config", empty],
            "missing file": ["embed", missing_csv, "--encoder", "tiny"],
            "bad type": ["embed", csv, "--encoder", "tiny", "--batch-size", "x"],
            "read-only out": ["embed", csv, "--encoder", "tiny", "--out", str(ro / "emb.npy")],
        },
        "finetune": {
            "no arguments": ["finetune"],
            "empty config": ["finetune", "--config", empty],
            "missing file": ["finetune", missing_csv, "--targets", "y", "--out", str(t / "ft")],
            "bad type": ["finetune", csv, "--targets", "y", "--out", str(t / "ft"), "--config", str(t / "epochs.yaml")],
            "read-only out": ["finetune", csv, "--targets", "y", "--encoder", "tiny", "--out", str(ro / "ft")],
        },
        "predict": {
            "no arguments": ["predict"],
            "empty config": ["predict", "--config", empty],
            "missing file": ["predict", missing_csv, "--model", model],
            "bad type": ["predict", csv, "--model", model, "--batch-size", "x"],
            "read-only out": ["predict", csv, "--model", model, "--out", str(ro / "pred.csv")],
        },
        "pretrain": {
            "no arguments": ["pretrain"],
            "empty config": ["pretrain", "--config", empty],
            "missing file": ["pretrain", "--config", missing_yaml, "--out", str(t / "pt1")],
            "bad type": ["pretrain", "--config", pre_cfg, "--out", str(t / "pt2"), "--max-steps", "many"],
            "read-only out": ["pretrain", "--config", pre_cfg, "--out", str(ro / "pt")],
        },
        "models list": {
            "no arguments": VALID,
            "empty config": VALID,
            "missing file": ["models", "list", "--config", missing_yaml],
            "bad type": ["models", "list", "--config", not_mapping],
            "read-only out": NA,
        },
        "models info": {
            "no arguments": ["models", "info"],
            "empty config": ["models", "info", "--config", empty],
            "missing file": ["models", "info", str(t / "no-such-model-folder")],
            "bad type": ["models", "info", "tiny", "--config", not_mapping],
            "read-only out": NA,
        },
    }


def _files(t: Path) -> None:
    (t / "in.csv").write_text("smiles,y\nCCO,1.0\nCCC,2.0\nCCN,0.5\nc1ccccc1,3.0\n")
    (t / "empty.yaml").write_text("")
    (t / "list.yaml").write_text("- a\n- b\n")
    (t / "out_list.yaml").write_text("out: [1, 2]\n")
    (t / "epochs.yaml").write_text("epochs: [1, 2]\n")
    (t / "model").mkdir()
    (t / "results").mkdir()
    (t / "results" / "results.json").write_text(json.dumps({"rows": []}))
    (t / "pretrain.yaml").write_text("domain: smiles\nsize: tiny\nmax_steps: 2\n")


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _commands_available() -> Callable[[str], bool]:
    import typer

    from sciptm.cli.main import app

    root = typer.main.get_command(app)

    def has(name: str) -> bool:
        node = root
        for part in name.split():
            node = getattr(node, "commands", {}).get(part)
            if node is None:
                return False
        return True

    return has


def test_cli_contract_matrix(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # default outputs (embeddings.npy, results/...) land in the test folder
    _files(tmp_path)
    ro, chmod_folder = _read_only_folder(tmp_path)
    has = _commands_available()
    matrix = _matrix(tmp_path, ro)
    cells: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    try:
        for command, cases in matrix.items():
            if not has(command):
                problems.append(f"{command}: no such command")
                continue
            for case in CASES:
                argv = cases[case]
                if argv is NA:
                    cells[command, case] = "n/a"
                    continue
                if argv is VALID:
                    code, out, err = _run(command.split(), capsys)
                    cells[command, case] = f"ok {code}" if code == 0 else f"FAIL {code}"
                    if code != 0:
                        problems.append(f"{command} [{case}]: a valid call exited {code}: {err[-500:]}")
                    continue
                code, out, err = _run(argv, capsys)
                if os.environ.get("SCIPTM_CONTRACT_VERBOSE"):
                    print(f"{command} [{case}]: {code} {err.strip().splitlines()[-1:]}", file=sys.__stderr__, flush=True)
                errors = [line for line in err.splitlines() if line.startswith("error:")]
                good = code == 2 and len(errors) == 1 and "Traceback" not in err
                cells[command, case] = f"{code} {len(errors)}L" if good else f"FAIL {code} {len(errors)}L"
                if not good:
                    problems.append(f"{command} [{case}] {argv}: exit {code}, {len(errors)} error lines:\n{err[-1500:]}")
    finally:
        if chmod_folder:
            ro.chmod(0o755)
    width = max(map(len, matrix)) + 2
    lines = ["command".ljust(width) + "".join(c.ljust(16) for c in CASES)]
    lines += [cmd.ljust(width) + "".join(cells.get((cmd, c), "-").ljust(16) for c in CASES) for cmd in matrix]
    with capsys.disabled():
        print("\nCLI contract (exit code, number of 'error:' lines; 'ok 0' = a valid call that succeeded):")
        print("\n".join(lines))
    if chmod_folder:
        left = [p.name for p in ro.rglob("*")]
        assert not left, f"files left in the read-only folder: {left}"
    assert not problems, "\n\n".join(problems)


def test_cli_contract_subprocess_smoke(tmp_path: Path) -> None:
    """The installed entry point: a missing argument is one error line and exit code 2 (no typer traceback)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "from sciptm.cli.main import main; main()", "predict", "--model",
                           "m"], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 2, proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith("error:")] == [
        "error: missing INPUTS: give it on the command line or as 'inputs' in --config"], proc.stderr
    assert "Traceback" not in proc.stderr
