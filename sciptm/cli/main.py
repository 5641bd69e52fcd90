"""The ``sciptm`` command line: thin wrappers over the library (no training logic here).

User errors (a bad input, a missing column or file, an unknown name) print one line and exit with
code 2; a traceback means a bug.
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

app = typer.Typer(add_completion=False, no_args_is_help=True, help="sciptm: pretrained encoders for science.")
datasets_app = typer.Typer(no_args_is_help=True, help="List and describe the registered datasets.")
app.add_typer(datasets_app, name="datasets")

#: options that take several values after one flag (``--seeds 0 1 2``); joined into one comma list
MULTI_VALUE = ("--seeds", "--targets", "--tasks", "--models")


def _join_multi(argv: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        out.append(arg)
        i += 1
        if arg in MULTI_VALUE:
            vals = []
            while i < len(argv) and not argv[i].startswith("--"):
                vals.append(argv[i])
                i += 1
            out.append(",".join(vals))
    return out


def _split_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [v.strip() for v in text.replace(" ", ",").split(",") if v.strip()]


def _config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config file must be a YAML mapping")
    return data


def _pick(cli: Any, cfg: dict[str, Any], key: str, default: Any = None) -> Any:
    return cli if cli is not None else cfg.get(key, default)


@app.command()
def bench(
    field: Annotated[str, typer.Argument(help="chem, protein or materials")],
    tasks: Annotated[str | None, typer.Option(help="task names or CSV paths (comma or space separated)")] = None,
    models: Annotated[str | None, typer.Option(help="baselines and encoders (tiny, small, a folder, sciptm/...)")] = None,
    split: Annotated[str | None, typer.Option(help="split method (random, scaffold, scaffold_balanced, ...)")] = None,
    seeds: Annotated[str | None, typer.Option(help="seeds, e.g. '0 1 2'")] = None,
    out: Annotated[Path | None, typer.Option(help="results folder")] = None,
    quick: Annotated[bool, typer.Option(help="small quick run: two tasks, one seed, few epochs")] = False,
    config: Annotated[Path | None, typer.Option(help="YAML config; every key is also a flag")] = None,
    model_config: Annotated[Path | None, typer.Option(help="YAML: model name -> options (epochs, lr, ...)")] = None,
    input: Annotated[str | None, typer.Option(help="input column of a CSV task")] = None,
    targets: Annotated[str | None, typer.Option(help="target columns of a CSV task")] = None,
    task_type: Annotated[str | None, typer.Option(help="task type of a CSV task")] = None,
    report: Annotated[bool, typer.Option(help="build report.md/report.html at the end")] = True,
    collect_only: Annotated[bool, typer.Option(help="compute nothing; gather finished results")] = False,
) -> None:
    """Run a benchmark grid (tasks x models x seeds), resumable; writes results.json and a report."""
    from sciptm.benchmarks import run

    cfg = _config(config)
    model_options = _config(model_config) if model_config else cfg.get("model_options")
    seeds_list = [int(s) for s in (_split_list(seeds) or cfg.get("seeds", [0]))]
    resolved = {
        "field": field, "tasks": _split_list(tasks) or cfg.get("tasks"), "models": _split_list(models) or cfg.get("models"),
        "split": _pick(split, cfg, "split"), "seeds": seeds_list, "quick": quick or bool(cfg.get("quick", False)),
        "out": str(_pick(out, cfg, "out", f"results/{field}")), "model_options": model_options,
        "input": _pick(input, cfg, "input"), "targets": _split_list(targets) or cfg.get("targets"),
        "task_type": _pick(task_type, cfg, "task_type"),
    }
    Path(resolved["out"]).mkdir(parents=True, exist_ok=True)
    (Path(resolved["out"]) / "config.resolved.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    command = "sciptm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = run(command=command, report=report, collect_only=collect_only, **resolved)
    typer.echo(result.table().to_string())
    if report:
        typer.echo(f"report: {Path(resolved['out']) / 'report.html'}")


@app.command()
def report(results: Annotated[Path, typer.Argument(help="a results folder (with results.json)")]) -> None:
    """(Re)build report.md and report.html for a results folder."""
    from sciptm.reports import build_report

    paths = build_report(results)
    typer.echo(f"wrote {paths['markdown']} and {paths['html']}")


@datasets_app.command("list")
def datasets_list(domain: Annotated[str | None, typer.Option(help="smiles, protein or crystal")] = None) -> None:
    """Registered datasets with their task, metric and recommended split."""
    from sciptm import datasets

    typer.echo(datasets.list_datasets(domain).to_string(index=False))


@datasets_app.command("info")
def datasets_info(name: str) -> None:
    """The dataset card (source URL, sha256, columns, task, split, license, citation)."""
    from sciptm import datasets

    typer.echo(datasets.CARDS.get(name).text if hasattr(datasets.CARDS.get(name), "text")
               else yaml.safe_dump(datasets.info(name), sort_keys=False))


def _read_inputs(path: Path, column: str) -> Any:
    import pandas as pd

    frame = pd.read_csv(path)
    if column not in frame.columns:
        raise ValueError(f"{path}: no column {column!r}; columns are {list(frame.columns)}")
    return frame


@app.command()
def embed(
    inputs: Annotated[Path, typer.Argument(help="CSV file")],
    encoder: Annotated[str, typer.Option(help="encoder folder or name")],
    column: Annotated[str, typer.Option(help="input column")] = "smiles",
    out: Annotated[Path, typer.Option(help="output .npy")] = Path("embeddings.npy"),
    errors: Annotated[str, typer.Option(help="raise or skip")] = "raise",
) -> None:
    """Embed a CSV column with an encoder; writes an N x d .npy (NaN rows for skipped inputs)."""
    import numpy as np

    from sciptm import Encoder

    frame = _read_inputs(inputs, column)
    X = Encoder.from_pretrained(encoder).embed(frame[column], errors=errors, progress=True)
    np.save(out, X)
    typer.echo(f"wrote {out} {X.shape}")


@app.command()
def finetune(
    train: Annotated[Path, typer.Argument(help="training CSV")],
    targets: Annotated[str, typer.Option(help="target column(s)")],
    out: Annotated[Path, typer.Option(help="output folder")],
    encoder: Annotated[str, typer.Option(help="encoder folder/name, or tiny/small for random init")] = "tiny",
    column: Annotated[str, typer.Option(help="input column")] = "smiles",
    task: Annotated[str, typer.Option(help="task type")] = "regression",
    domain: Annotated[str, typer.Option(help="domain for random init")] = "smiles",
    valid: Annotated[Path | None, typer.Option(help="validation CSV")] = None,
    features: Annotated[str | None, typer.Option(help="side-features, e.g. rdkit2d")] = None,
    epochs: Annotated[int, typer.Option()] = 30,
    errors: Annotated[str, typer.Option(help="raise or skip")] = "raise",
) -> None:
    """Fine-tune an encoder with a task head on a CSV and save it (save_pretrained layout)."""
    from sciptm import Encoder, PropertyPredictor
    from sciptm.encoders import SIZES

    cols = _split_list(targets) or []
    frame = _read_inputs(train, column)
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"{train}: no target column(s) {missing}; columns are {list(frame.columns)}")
    enc = Encoder.from_config(domain=domain, size=encoder) if encoder in SIZES else Encoder.from_pretrained(encoder)
    model = PropertyPredictor(enc, task=task, features=features, epochs=epochs, progress=True)
    y = frame[cols] if len(cols) > 1 else frame[cols[0]]
    val = None
    if valid is not None:
        vf = _read_inputs(valid, column)
        val = (vf[column], vf[cols] if len(cols) > 1 else vf[cols[0]])
    model.fit(frame[column], y, valid=val, errors=errors)
    model.save_pretrained(out)
    (Path(out) / "config.resolved.yaml").write_text(yaml.safe_dump(
        {"train": str(train), "targets": cols, "encoder": encoder, "column": column, "task": task,
         "features": features, "epochs": epochs, "errors": errors}, sort_keys=False))
    typer.echo(f"saved {out} (best epoch {model.best_epoch_})")


@app.command()
def predict(
    inputs: Annotated[Path, typer.Argument(help="CSV file")],
    model: Annotated[str, typer.Option(help="fine-tuned model folder")],
    column: Annotated[str, typer.Option(help="input column")] = "smiles",
    out: Annotated[Path, typer.Option(help="output CSV")] = Path("predictions.csv"),
    errors: Annotated[str, typer.Option(help="raise or skip")] = "raise",
) -> None:
    """Predict with a fine-tuned model; writes the CSV with a prediction column added."""
    from sciptm import PropertyPredictor

    frame = _read_inputs(inputs, column)
    predictor = PropertyPredictor.from_pretrained(model)
    pred = predictor.predict(frame[column], errors=errors)
    if pred.ndim == 1:
        frame["prediction"] = pred
    else:
        for i, name in enumerate(predictor.state.get("target_names", [])):
            frame[f"prediction_{name}"] = pred[:, i]
    frame.to_csv(out, index=False)
    typer.echo(f"wrote {out}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def pretrain(
    config: Annotated[Path, typer.Option(help="YAML pretraining config")],
    out: Annotated[Path, typer.Option(help="run folder")],
    resume: Annotated[bool, typer.Option(help="continue from the last checkpoint")] = False,
    set: Annotated[list[str] | None, typer.Option("--set", help="override a config key: KEY=VALUE")] = None,
) -> None:
    """Masked-LM (or causal-LM) pretraining; see ``python -m sciptm.pretraining --help``."""
    from sciptm.pretraining.__main__ import main as pretrain_main

    args = ["--config", str(config), "--out", str(out), *(["--resume"] if resume else [])]
    for item in set or []:
        args += ["--set", item]
    raise typer.Exit(pretrain_main(args))


def main() -> None:
    """Entry point: joins multi-value flags, runs the app, turns user errors into one line."""
    from sciptm.errors import DataIntegrityError, InvalidInputError, UnknownNameError

    argv = _join_multi(sys.argv[1:])
    try:
        app(args=argv, standalone_mode=False)
    except (InvalidInputError, UnknownNameError, DataIntegrityError, FileNotFoundError, ValueError, KeyError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise SystemExit(2) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            raise SystemExit(exc.exit_code) from None
        if isinstance(exc, click.exceptions.Abort):
            raise SystemExit(1) from None
        raise
