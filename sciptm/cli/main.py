"""The ``sciptm`` command line: thin wrappers over the library (no training logic here).

Every command takes ``--config FILE.yaml`` whose keys are its flags (flags given on the command line win;
an unknown key is an error) and writes the resolved settings beside its outputs (``resolved_config.yaml``
in an output folder, ``<name>.resolved_config.yaml`` beside an output file); see :mod:`sciptm.cli.config`.
User errors (a bad input, a missing column or file, bad YAML, an unknown name) print one ``error: ...`` line
and exit with code 2; a traceback means a bug (``--debug`` shows it for user errors too).
"""
from __future__ import annotations

import dis
import errno
import importlib
import os
import shlex
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from sciptm.cli.config import (
    ConfigError,
    as_list,
    mapping_option,
    read_yaml_mapping,
    resolve,
    write_resolved,
)

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="sciptm: pretrained encoders for science. Add --debug for full tracebacks.")
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


ConfigOpt = Annotated[Path | None, typer.Option(help="YAML config: every key is also a flag; flags win")]


def _command_line() -> str:
    return "sciptm " + " ".join(shlex.quote(a) for a in sys.argv[1:])


@app.command()
def bench(
    ctx: typer.Context,
    field: Annotated[str | None, typer.Argument(help="chem, protein or materials")] = None,
    tasks: Annotated[str | None, typer.Option(help="task names or CSV paths (comma or space separated)")] = None,
    models: Annotated[str | None, typer.Option(help="baselines and encoders (tiny, small, a folder, sciptm/...)")] = None,
    split: Annotated[str | None, typer.Option(help="split method (random, scaffold, scaffold_balanced, ...)")] = None,
    seeds: Annotated[str | None, typer.Option(help="seeds, e.g. '0 1 2'")] = None,
    out: Annotated[Path | None, typer.Option(help="results folder (default results/FIELD)")] = None,
    quick: Annotated[bool, typer.Option(help="small quick run: two tasks, one seed, few epochs")] = False,
    model_options: Annotated[str | None, typer.Option(
        "--model-options", "--model-config",
        help="model name -> options (epochs, lr, ...): a YAML file (e.g. sciptm tune's best_config.yaml) or "
             "inline YAML")] = None,
    input: Annotated[str | None, typer.Option(help="input column of a CSV task")] = None,
    targets: Annotated[str | None, typer.Option(help="target columns of a CSV task")] = None,
    task_type: Annotated[str | None, typer.Option(help="task type of a CSV task")] = None,
    report: Annotated[bool, typer.Option(help="build report.md/report.html at the end")] = True,
    collect_only: Annotated[bool, typer.Option(help="compute nothing; gather finished results")] = False,
    executor: Annotated[str, typer.Option(help="serial, or ray (parallel jobs on a Ray cluster)")] = "serial",
    ray_address: Annotated[str | None, typer.Option(help="join this Ray cluster ('auto', 'ray://host:10001'); "
                                                         "default: start a local instance")] = None,
    num_cpus: Annotated[int | None, typer.Option(help="CPUs of a local Ray instance (default: all)")] = None,
    cpus_per_job: Annotated[float, typer.Option(help="CPUs Ray reserves for each job")] = 1.0,
    config: ConfigOpt = None,
) -> None:
    """Run a benchmark grid (tasks x models x seeds), resumable; writes results.json and a report."""
    from sciptm.benchmarks import run
    from sciptm.benchmarks.executors import make_executor

    s = resolve(ctx, required=("field",))
    s.update(tasks=as_list(s["tasks"]), models=as_list(s["models"]), targets=as_list(s["targets"], spaces=False),
             seeds=[int(v) for v in as_list(s["seeds"]) or [0]],
             model_options=mapping_option(s["model_options"], "model_options"),
             out=str(s["out"] or f"results/{s['field']}"))
    options = {"address": s["ray_address"], "num_cpus": s["num_cpus"], "cpus_per_job": s["cpus_per_job"]}
    runner_executor = make_executor(s["executor"], **options) if s["executor"] != "serial" else None
    write_resolved(s, s["out"])
    keys = ("field", "tasks", "models", "split", "seeds", "out", "quick", "model_options", "input", "targets",
            "task_type", "report", "collect_only")
    result = run(command=_command_line(), executor=runner_executor, **{k: s[k] for k in keys})
    typer.echo(result.table().to_string())
    if s["report"]:
        typer.echo(f"report: {Path(s['out']) / 'report.html'}")


@app.command()
def tune(
    ctx: typer.Context,
    task: Annotated[str | None, typer.Option(help="task name or CSV path")] = None,
    model: Annotated[str | None, typer.Option(help="benchmark model (ecfp-rf, tiny, a folder, sciptm/...)")] = None,
    space: Annotated[str | None, typer.Option(
        help="search space: option -> {low, high, log} | [choices] | value (YAML file or inline YAML)")] = None,
    field: Annotated[str, typer.Option(help="chem, protein or materials")] = "chem",
    split: Annotated[str | None, typer.Option(help="outer split method (default: the field's)")] = None,
    seed: Annotated[int, typer.Option(help="outer split seed (and sampler seed)")] = 0,
    n_trials: Annotated[int, typer.Option(help="optuna trials")] = 20,
    timeout: Annotated[float | None, typer.Option(help="start no new trial after this many seconds")] = None,
    inner_valid: Annotated[float, typer.Option(help="share of the training rows that scores the trials")] = 0.2,
    inner_split: Annotated[str | None, typer.Option(help="inner split method (default: the outer one)")] = None,
    metric: Annotated[str | None, typer.Option(help="objective metric (default: the task's)")] = None,
    model_options: Annotated[str | None, typer.Option(help="fixed options for every trial (YAML file or inline)")] = None,
    prune: Annotated[bool, typer.Option(help="median pruning on per-epoch validation scores")] = True,
    startup_trials: Annotated[int, typer.Option(help="trials before pruning starts")] = 5,
    out: Annotated[Path | None, typer.Option(help="output folder (best_config.yaml, trials.csv)")] = None,
    input: Annotated[str | None, typer.Option(help="input column of a CSV task")] = None,
    targets: Annotated[str | None, typer.Option(help="target columns of a CSV task")] = None,
    task_type: Annotated[str | None, typer.Option(help="task type of a CSV task")] = None,
    config: ConfigOpt = None,
) -> None:
    """Optuna search over model options inside the training rows of a benchmark split; writes best_config.yaml
    (usable as bench --model-options) and trials.csv."""
    from sciptm.tuning import tune as run_tune

    s = resolve(ctx, required=("task", "model", "space"))
    s.update(space=mapping_option(s["space"], "space"), model_options=mapping_option(s["model_options"], "model_options"),
             targets=as_list(s["targets"], spaces=False), out=str(s["out"] or f"tune/{Path(str(s['task'])).stem}-{s['model']}"))
    write_resolved(s, s["out"])
    result = run_tune(progress=True, **s)
    typer.echo(result.trials.to_string(index=False))
    typer.echo(f"best {result.metric} = {result.best_value:.4g} (inner validation): {result.best_params}")
    typer.echo(f"wrote {result.files['best_config']} and {result.files['trials']}")


@app.command()
def report(
    ctx: typer.Context,
    results: Annotated[Path | None, typer.Argument(help="a results folder (with results.json)")] = None,
    out: Annotated[Path | None, typer.Option(help="where report.md/report.html go (default: the results folder)")] = None,
    config: ConfigOpt = None,
) -> None:
    """(Re)build report.md and report.html for a results folder."""
    from sciptm.reports import build_report

    s = resolve(ctx, required=("results",))
    if not (Path(s["results"]) / "results.json").is_file():
        raise FileNotFoundError(f"no results.json in {s['results']}")
    paths = build_report(s["results"], s["out"])
    write_resolved(s, paths["markdown"], folder=False)
    typer.echo(f"wrote {paths['markdown']} and {paths['html']}")


@datasets_app.command("list")
def datasets_list(
    ctx: typer.Context,
    domain: Annotated[str | None, typer.Option(help="smiles, protein or crystal")] = None,
    config: ConfigOpt = None,
) -> None:
    """Registered datasets with their task, metric and recommended split."""
    from sciptm import datasets

    s = resolve(ctx)
    typer.echo(datasets.list_datasets(s["domain"]).to_string(index=False))


@datasets_app.command("info")
def datasets_info(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="dataset name")] = None,
    config: ConfigOpt = None,
) -> None:
    """The dataset card (source URL, sha256, columns, task, split, license, citation)."""
    from sciptm import datasets

    name = resolve(ctx, required=("name",))["name"]
    card = datasets.CARDS.get(name)
    typer.echo(card.text if hasattr(card, "text") else yaml.safe_dump(datasets.info(name), sort_keys=False))


def _read_inputs(path: str | Path, column: str) -> Any:
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input file not found: {path}")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable CSV file: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    if column not in frame.columns:
        raise ValueError(f"{path}: no column {column!r}; columns are {list(frame.columns)}")
    return frame


@app.command()
def embed(
    ctx: typer.Context,
    inputs: Annotated[Path | None, typer.Argument(help="CSV file")] = None,
    encoder: Annotated[str | None, typer.Option(help="encoder folder or name")] = None,
    column: Annotated[str, typer.Option(help="input column")] = "smiles",
    out: Annotated[Path, typer.Option(help="output .npy")] = Path("embeddings.npy"),
    errors: Annotated[str, typer.Option(help="raise or skip")] = "raise",
    batch_size: Annotated[int, typer.Option(help="inputs per forward pass")] = 256,
    config: ConfigOpt = None,
) -> None:
    """Embed a CSV column with an encoder; writes an N x d .npy (NaN rows for skipped inputs)."""
    import numpy as np

    from sciptm import Encoder

    s = resolve(ctx, required=("inputs", "encoder"))
    frame = _read_inputs(s["inputs"], s["column"])
    X = Encoder.from_pretrained(s["encoder"]).embed(frame[s["column"]], batch_size=s["batch_size"],
                                                    errors=s["errors"], progress=True)
    Path(s["out"]).parent.mkdir(parents=True, exist_ok=True)
    np.save(s["out"], X)
    write_resolved(s, s["out"], folder=False)
    typer.echo(f"wrote {s['out']} {X.shape}")


@app.command()
def finetune(
    ctx: typer.Context,
    train: Annotated[Path | None, typer.Argument(help="training CSV")] = None,
    targets: Annotated[str | None, typer.Option(help="target column(s)")] = None,
    out: Annotated[Path | None, typer.Option(help="output folder")] = None,
    encoder: Annotated[str, typer.Option(help="encoder folder/name, or tiny/small for random init")] = "tiny",
    column: Annotated[str, typer.Option(help="input column")] = "smiles",
    task: Annotated[str, typer.Option(help="task type")] = "regression",
    domain: Annotated[str, typer.Option(help="domain for random init")] = "smiles",
    valid: Annotated[Path | None, typer.Option(help="validation CSV")] = None,
    features: Annotated[str | None, typer.Option(help="side-features, e.g. rdkit2d")] = None,
    epochs: Annotated[int, typer.Option()] = 30,
    lr: Annotated[float, typer.Option(help="encoder learning rate")] = 3e-4,
    batch_size: Annotated[int, typer.Option()] = 32,
    patience: Annotated[int, typer.Option(help="early-stopping patience (epochs)")] = 15,
    freeze: Annotated[str, typer.Option(help="none, encoder or gradual")] = "none",
    dropout: Annotated[float, typer.Option(help="head dropout")] = 0.1,
    seed: Annotated[int, typer.Option()] = 0,
    errors: Annotated[str, typer.Option(help="raise or skip")] = "raise",
    config: ConfigOpt = None,
) -> None:
    """Fine-tune an encoder with a task head on a CSV and save it (save_pretrained layout)."""
    from sciptm import Encoder, PropertyPredictor
    from sciptm.encoders import SIZES

    s = resolve(ctx, required=("train", "targets", "out"))
    cols = as_list(s["targets"], spaces=False) or []
    s["targets"] = cols
    frame = _read_inputs(s["train"], s["column"])
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValueError(f"{s['train']}: no target column(s) {missing}; columns are {list(frame.columns)}")
    enc = (Encoder.from_config(domain=s["domain"], size=s["encoder"]) if s["encoder"] in SIZES
           else Encoder.from_pretrained(s["encoder"]))
    model = PropertyPredictor(enc, task=s["task"], features=s["features"], dropout=s["dropout"], epochs=s["epochs"],
                              lr=s["lr"], batch_size=s["batch_size"], patience=s["patience"], freeze=s["freeze"],
                              seed=s["seed"], progress=True)
    y = frame[cols] if len(cols) > 1 else frame[cols[0]]
    val = None
    if s["valid"] is not None:
        vf = _read_inputs(s["valid"], s["column"])
        val = (vf[s["column"]], vf[cols] if len(cols) > 1 else vf[cols[0]])
    model.fit(frame[s["column"]], y, valid=val, errors=s["errors"])
    model.save_pretrained(s["out"])
    write_resolved(s, s["out"])
    typer.echo(f"saved {s['out']} (best epoch {model.best_epoch_})")


@app.command()
def predict(
    ctx: typer.Context,
    inputs: Annotated[Path | None, typer.Argument(help="CSV file")] = None,
    model: Annotated[str | None, typer.Option(help="fine-tuned model folder")] = None,
    column: Annotated[str, typer.Option(help="input column")] = "smiles",
    out: Annotated[Path, typer.Option(help="output CSV")] = Path("predictions.csv"),
    errors: Annotated[str, typer.Option(help="raise or skip")] = "raise",
    batch_size: Annotated[int, typer.Option(help="inputs per forward pass")] = 128,
    config: ConfigOpt = None,
) -> None:
    """Predict with a fine-tuned model; writes the CSV with a prediction column added."""
    from sciptm import PropertyPredictor

    s = resolve(ctx, required=("inputs", "model"))
    frame = _read_inputs(s["inputs"], s["column"])
    if not Path(s["model"]).is_dir():
        raise FileNotFoundError(f"model folder not found: {s['model']}")
    predictor = PropertyPredictor.from_pretrained(s["model"])
    pred = predictor.predict(frame[s["column"]], errors=s["errors"], batch_size=s["batch_size"])
    if pred.ndim == 1:
        frame["prediction"] = pred
    else:
        for i, name in enumerate(predictor.state.get("target_names", [])):
            frame[f"prediction_{name}"] = pred[:, i]
    Path(s["out"]).parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(s["out"], index=False)
    write_resolved(s, s["out"], folder=False)
    typer.echo(f"wrote {s['out']}")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def pretrain(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(help="YAML pretraining config (PretrainConfig keys)")] = None,
    out: Annotated[Path | None, typer.Option(help="run folder")] = None,
    resume: Annotated[bool, typer.Option(help="continue from the last checkpoint")] = False,
    set: Annotated[list[str] | None, typer.Option("--set", help="override a config key: KEY=VALUE")] = None,
) -> None:
    """Masked-LM (or causal-LM) pretraining. Every config key is also a flag (``--max-steps 500``,
    ``--val-source null``; values are read as YAML), as is ``--set KEY=VALUE``."""
    from sciptm.pretraining.config import PretrainConfig
    from sciptm.pretraining.loop import pretrain as run_pretrain

    if out is None:
        raise ConfigError("missing --out: the run folder")
    values = read_yaml_mapping(config) if config else {}
    values.update(_key_values(ctx.args, set or []))
    cfg = PretrainConfig.from_dict(values)
    write_resolved(cfg.to_dict(), out)
    result = run_pretrain(cfg, out, resume=resume, command=_command_line())
    typer.echo(f"done: step {result.step}, tokens {result.tokens_seen}, encoder {result.encoder_dir}")


models_app = typer.Typer(no_args_is_help=True, help="List and describe the encoders this installation can open.")
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list(
    ctx: typer.Context,
    folders: Annotated[list[Path] | None, typer.Argument(help="checkpoint folders, or folders holding them")] = None,
    config: ConfigOpt = None,
) -> None:
    """Every encoder name this installation can open: shipped, zoo (published checkpoints inside installed
    packages) and local folders, with domain, parameters, licence and whether it has an LM head."""
    from sciptm.encoders.zoo import format_models_table, models_table

    s = resolve(ctx)
    typer.echo(format_models_table(models_table(list(s.get("folders") or []))))


@models_app.command("info")
def models_info(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="a shipped or zoo name, or a checkpoint folder")],
    config: ConfigOpt = None,
) -> None:
    """Open one encoder and describe it (a zoo name whose package is missing names the pip command)."""
    from sciptm.encoders import Encoder
    from sciptm.encoders.zoo import ZOO

    name = resolve(ctx)["name"]
    enc = Encoder.from_pretrained(name)
    typer.echo(repr(enc))
    if name in ZOO:
        e = ZOO[name]
        typer.echo(f"package: {e.package}=={e.version} ({e.pip})\nlicence: {e.licence}\ntrained on: {e.trained_on}")


def _key_values(extra: list[str], sets: list[str]) -> dict[str, Any]:
    """``--some-key VALUE`` / ``--some-key=VALUE`` (a bare ``--flag`` is true) and ``KEY=VALUE`` items; values are
    YAML (``500`` -> int, ``null`` -> None)."""
    values: dict[str, Any] = {}
    i = 0
    while i < len(extra):
        arg = extra[i]
        if not arg.startswith("--") or len(arg) == 2:
            raise ConfigError(f"unexpected argument {arg!r}: config keys are given as --key value")
        key, sep, value = arg[2:].partition("=")
        if not sep:
            if i + 1 < len(extra) and not extra[i + 1].startswith("--"):
                value, i = extra[i + 1], i + 1
            else:
                value = "true"
        values[key.replace("-", "_")] = _yaml_value(value, key)
        i += 1
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        values[key.strip().replace("-", "_")] = _yaml_value(value, key)
    return values


def _yaml_value(text: str, key: str) -> Any:
    """A flag's value read as YAML; ``1e-3`` is a number too (YAML 1.1 wants ``1.0e-3``)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"--{key}: cannot read {text!r} as a value") from None
    if isinstance(value, str) and any(c.isdigit() for c in value):
        try:
            return float(value)
        except ValueError:
            pass
    return value


def _user_errors() -> tuple[type[BaseException], ...]:
    """The exception classes the CLI reports as one ``error:`` line: sciptm's own error family and YAML errors."""
    from sciptm.errors import SciptmError

    return (SciptmError, yaml.YAMLError)


#: OSError numbers that come from the user's environment (a missing, read-only or full place), not from a bug
_ENVIRONMENT_ERRNOS = frozenset(getattr(errno, name) for name in (
    "EACCES", "EPERM", "EROFS", "ENOSPC", "EDQUOT", "ENOENT", "EISDIR", "ENOTDIR", "ENAMETOOLONG", "EEXIST",
    "EFBIG", "ENOTEMPTY", "EXDEV", "EBUSY", "ETXTBSY") if hasattr(errno, name))

#: builtin errors that sciptm's own code raises on purpose (``raise ValueError("...")`` with a message)
_DELIBERATE = (ValueError, KeyError, TypeError, FileNotFoundError, NotADirectoryError, IsADirectoryError)

def _click_errors(name: str) -> tuple[type[BaseException], ...]:
    """Click's exception ``name`` from click and from the copy typer >= 0.20 vendors (either may be absent)."""
    found = []
    for module in ("click.exceptions", "typer._click.exceptions", "typer.exceptions"):
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if isinstance(cls, type) and cls not in found:
            found.append(cls)
    return tuple(found)


#: a group called without a command (click >= 8.2): show its help
_NO_ARGS_IS_HELP = _click_errors("NoArgsIsHelpError")
#: a missing argument, an unknown option, a bad flag value
_USAGE = _click_errors("UsageError")
_CLICK_OTHER = _click_errors("ClickException")
_ABORT = _click_errors("Abort")

_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


def _raised_on_purpose(exc: BaseException) -> bool:
    """True when ``exc`` was raised by an explicit ``raise SomeError(...)`` statement in sciptm's own code.

    Transitional: sciptm's validation code raises typed :class:`~sciptm.errors.SciptmError` subclasses; older
    code still raises plain builtins with a written message. Those are user errors too. What is *not* a user
    error is a builtin raised implicitly (``d[key]``, a failed conversion) or raised inside another library:
    those are bugs, and keep their traceback.
    """
    if type(exc) not in _DELIBERATE:
        return False
    tb = exc.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    if not str(Path(code.co_filename).resolve()).startswith(_PACKAGE_DIR):
        return False
    op = next((i for i in dis.get_instructions(code) if i.offset == tb.tb_lasti), None)
    return op is not None and op.opname == "RAISE_VARARGS" and bool(op.arg)  # not a bare re-raise


def _environment_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in _ENVIRONMENT_ERRNOS


def _is_user_error(exc: BaseException) -> bool:
    """A user error (one ``error:`` line, exit 2) rather than a bug (a traceback)."""
    if isinstance(exc, ModuleNotFoundError):  # an optional extra that is not installed names its pip command
        return "pip install" in str(exc)
    return isinstance(exc, _user_errors()) or _environment_error(exc) or _raised_on_purpose(exc)


def _one_line(exc: BaseException) -> str:
    if _environment_error(exc) and getattr(exc, "strerror", None):
        names = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
        text = f"{exc.strerror}: {names}" if names else str(exc.strerror)
    else:
        text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 2000 else text[:1997] + "..."


def _usage_line(exc: Any) -> str:
    """A click usage error (missing argument, unknown option, bad value) as one line with where to get help."""
    text = " ".join(str(exc.format_message()).split())
    ctx = getattr(exc, "ctx", None)
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return text + where


def _quiet_hub_bars() -> None:
    """The commands show their own (rich) progress; no tqdm bars from transformers' loading and saving."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if "transformers" in sys.modules:
        sys.modules["transformers"].utils.logging.disable_progress_bar()


def main(argv: list[str] | None = None) -> None:
    """Entry point: joins multi-value flags, runs the app, turns user errors into one ``error: ...`` line on
    stderr and exit code 2 (``--debug`` anywhere on the line shows the traceback instead)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _quiet_hub_bars()
    debug = "--debug" in argv
    argv = _join_multi([a for a in argv if a != "--debug"])
    try:
        app(args=argv, prog_name="sciptm", standalone_mode=False)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except _NO_ARGS_IS_HELP as exc:  # a group called without a command: its help
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except _USAGE as exc:  # a missing argument, an unknown option, a bad flag value
        if debug:
            raise
        typer.secho(f"error: {_usage_line(exc)}", fg=typer.colors.RED, err=True)
        raise SystemExit(2) from None
    except _ABORT:  # Ctrl-C / declined prompt
        raise SystemExit(1) from None
    except _CLICK_OTHER as exc:  # click's own file errors and the like: one line too
        if debug:
            raise
        typer.secho(f"error: {' '.join(exc.format_message().split())}", fg=typer.colors.RED, err=True)
        raise SystemExit(2) from None
    except Exception as exc:
        if debug:
            raise
        if not _is_user_error(exc):
            traceback.print_exception(exc)
            typer.secho(f"sciptm: this is a bug ({type(exc).__name__} is not a sciptm error); please report it with "
                        "the command line and the traceback above", fg=typer.colors.RED, err=True)
            raise SystemExit(1) from None
        typer.secho(f"error: {_one_line(exc)}", fg=typer.colors.RED, err=True)
        raise SystemExit(2) from None
