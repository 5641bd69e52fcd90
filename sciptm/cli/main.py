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
import inspect
import os
import shlex
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from typer.core import TyperGroup

from sciptm.cli.config import (
    ConfigError,
    as_ints,
    as_list,
    check_writable,
    mapping_option,
    read_yaml_mapping,
    resolve,
    write_resolved,
)
from sciptm.errors import MissingFileError


class _RootGroup(TyperGroup):
    """The ``sciptm`` group: tidies every command's ``--help`` once before running (see :func:`_tidy_help`)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        _tidy_help(self)
        return super().main(*args, **kwargs)


#: value types -> the metavar shown in ``--help`` (flags show none)
_METAVARS = {"int": "INT", "float": "FLOAT", "Path": "PATH", "str": "TEXT"}


def _needs(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a command's settings that must end up set (on the command line or in ``--config``): ``--help``
    shows them as required, and :func:`_required` gives them to :func:`resolve`."""

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.sciptm_required = names  # type: ignore[attr-defined]
        return fn

    return mark


def _required(ctx: typer.Context) -> tuple[str, ...]:
    fn = inspect.unwrap(ctx.command.callback) if ctx.command.callback else None
    return tuple(getattr(fn, "sciptm_required", ()))


def _tidy_help(group: Any) -> None:
    """``--help`` of every command: settings the command needs are marked required (they stay optional for the
    parser, so that ``--config`` can give them), flags carry no type metavar, value options a short one."""
    _tidy_params(group)
    for cmd in getattr(group, "commands", {}).values():
        if getattr(cmd, "commands", None):
            _tidy_help(cmd)
        _tidy_params(cmd)
        fn = inspect.unwrap(cmd.callback) if cmd.callback else None
        needed = set(getattr(fn, "sciptm_required", ()))
        if needed and not getattr(cmd, "_sciptm_tidy", False):
            cmd.get_help = _help_with_required(cmd, needed)
            cmd.epilog = "* required: give it on the command line or as a key of the --config file."
        cmd._sciptm_tidy = True


def _tidy_params(cmd: Any) -> None:
    if cmd.help:  # rich keeps a docstring's line breaks: one line per paragraph
        cmd.help = "\n\n".join(" ".join(part.split()) for part in inspect.cleandoc(cmd.help).split("\n\n"))
    for param in cmd.params:
        if param.param_type_name == "option" and param.metavar is None:
            if getattr(param, "is_flag", False) or getattr(param, "count", False):
                param.metavar = ""
            else:
                bare = param.bare_type() if hasattr(param, "bare_type") else ""
                param.metavar = _METAVARS.get(bare, "TEXT")
        elif param.param_type_name == "argument" and param.metavar is None:
            param.metavar = str(param.name).upper()
            param.display_type_rich = lambda ctx: None  # the name says it; no <str>/<path> beside it
    if not getattr(cmd, "_sciptm_help_option", False):
        plain = cmd.get_help_option

        def get_help_option(ctx: Any) -> Any:
            option = plain(ctx)
            if option is not None:
                option.metavar = ""
            return option

        cmd.get_help_option = get_help_option
        cmd._sciptm_help_option = True


def _help_with_required(cmd: Any, needed: set[str]) -> Callable[[Any], str]:
    plain = cmd.get_help

    def get_help(ctx: Any) -> str:
        marked = [p for p in cmd.params if p.name in needed and not p.required]
        for p in marked:
            p.required = True
        try:
            return plain(ctx)
        finally:
            for p in marked:
                p.required = False

    return get_help


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sciptm")
    except PackageNotFoundError:  # a source tree that is not installed
        from sciptm import __version__

        return __version__


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"sciptm {_package_version()}")
        raise typer.Exit()


app = typer.Typer(add_completion=False, no_args_is_help=True, cls=_RootGroup,
                  help="sciptm: pretrained encoders for science. Add --debug for full tracebacks.")
datasets_app = typer.Typer(no_args_is_help=True, help="List and describe the registered datasets.")
app.add_typer(datasets_app, name="datasets")


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_show_version,
                                          help="Print the version and exit.")] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, show_default=False,
                                         help="More log lines (-vv: other libraries' too).")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Warnings and errors only; no progress bars.")] = False,
    progress: Annotated[str, typer.Option(help="Progress bars: auto (on a terminal), always (log lines when "
                                                "not on a terminal) or never.")] = "auto",
) -> None:
    # options before the command: sciptm -q bench ...; log lines and warnings go to stderr, one line each
    from sciptm.progress import MODES, configure_logging, set_progress

    if progress not in MODES:
        raise ConfigError(f"--progress must be one of {', '.join(MODES)}, not {progress!r}")
    restore = configure_logging(-1 if quiet else verbose)
    if not quiet:
        set_progress(progress)
    ctx.call_on_close(restore)

#: options that take several values after one flag (``--seeds 0 1 2``); joined into one comma list
MULTI_VALUE = ("--seeds", "--targets", "--target-columns", "--tasks", "--models")


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
@_needs("field")
def bench(
    ctx: typer.Context,
    field: Annotated[str | None, typer.Argument(help="chem, protein or materials")] = None,
    tasks: Annotated[str | None, typer.Option(help="task names or CSV paths (comma or space separated)")] = None,
    models: Annotated[str | None, typer.Option(help="baselines and encoders (tiny, small, a folder, sciptm/...)")] = None,
    split: Annotated[str | None, typer.Option(
        help="split method (random, scaffold, scaffold_balanced, ...), or column:NAME for the data's own "
             "train/valid/test or fold column (the seed is the test fold)")] = None,
    seeds: Annotated[str | None, typer.Option(help="seeds, e.g. '0 1 2'")] = None,
    sizes: Annotated[str | None, typer.Option(help="train/valid/test fractions, e.g. '0.8 0.1 0.1'")] = None,
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
    from sciptm.benchmarks.runner import resolve_grid

    s = resolve(ctx, required=_required(ctx))
    s.update(tasks=as_list(s["tasks"]), models=as_list(s["models"]), targets=as_list(s["targets"], spaces=False),
             seeds=as_ints(s["seeds"], "seeds") or [0],
             model_options=mapping_option(s["model_options"], "model_options"),
             out=str(s["out"] or f"results/{s['field']}"))
    s["sizes"] = _sizes(s.get("sizes"))
    check_writable(s["out"])
    options = {"address": s["ray_address"], "num_cpus": s["num_cpus"], "cpus_per_job": s["cpus_per_job"]}
    runner_executor = make_executor(s["executor"], **options) if s["executor"] != "serial" else None
    # what --quick and the field's defaults resolve to: the grid itself, so the resolved file repeats the run
    s.update(resolve_grid(s["field"], s["tasks"], s["models"], s["seeds"], s["quick"], s["model_options"]))
    write_resolved(s, s["out"])
    keys = ("field", "tasks", "models", "split", "seeds", "out", "quick", "model_options", "input", "targets",
            "task_type", "report", "collect_only", "sizes")
    result = run(command=_command_line(), executor=runner_executor, **{k: s[k] for k in keys})
    summary = _own_summary(result, s)  # this command's tasks x models, not another command's in the same --out
    if summary is not None and len(summary):
        from sciptm.reports.tables import score_table

        typer.echo(score_table(summary).to_frame().to_string())
    else:  # --collect-only on a folder without finished runs
        typer.echo(f"no finished runs in {s['out']} yet (results.json lists the missing ones)")
    if s["report"]:
        typer.echo(f"report: {Path(s['out']) / 'report.html'}")


def _sizes(value: Any) -> list[float] | None:
    """``--sizes '0.8 0.1 0.1'`` (or a YAML list) as three fractions summing to 1, else a one-line error."""
    if value in (None, "", []):
        return None
    parts = value if isinstance(value, (list, tuple)) else str(value).replace(",", " ").split()
    try:
        sizes = [float(v) for v in parts]
    except ValueError:
        raise ConfigError(f"--sizes takes three numbers (train valid test), not {value!r}") from None
    if len(sizes) != 3 or any(v < 0 for v in sizes) or abs(sum(sizes) - 1) > 1e-6:
        raise ConfigError(f"--sizes takes three non-negative fractions summing to 1 (train valid test), not {value!r}")
    return sizes


def _own_summary(result: Any, s: dict[str, Any]) -> Any:
    """The summary rows of the tasks and models this ``bench`` call asked for (two commands sharing an ``--out``
    folder each print their own table; results.json and the report cover the whole folder)."""
    from sciptm.benchmarks.runner import _task_name

    summary = getattr(result, "summary", None)
    if summary is None or not len(summary) or not {"task", "model"} <= set(summary.columns):
        return summary
    keep = summary["model"].isin(list(s["models"] or [])) if s.get("models") else True
    if s.get("tasks"):
        keep = keep & summary["task"].isin([_task_name(str(t)) for t in s["tasks"]])
    return summary[keep] if keep is not True else summary


@app.command()
@_needs("task", "model", "space")
def tune(
    ctx: typer.Context,
    task: Annotated[str | None, typer.Option(help="task name or CSV path")] = None,
    model: Annotated[str | None, typer.Option(help="benchmark model (ecfp-rf, tiny, a folder, sciptm/...)")] = None,
    space: Annotated[str | None, typer.Option(
        help="Search space, a YAML file or inline YAML: option -> {low: L, high: H, log: true} (a range), "
             "a list of choices, or one fixed value.")] = None,
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
    """Optuna search over model options inside the training rows of a benchmark split. Writes best_config.yaml
    (usable as bench --model-options) and trials.csv, and says when the mean predictor beats every trial."""
    from sciptm.tuning import tune as run_tune

    s = resolve(ctx, required=_required(ctx))
    s.update(space=mapping_option(s["space"], "space"), model_options=mapping_option(s["model_options"], "model_options"),
             targets=as_list(s["targets"], spaces=False), out=str(s["out"] or f"tune/{Path(str(s['task'])).stem}-{s['model']}"))
    check_writable(s["out"])
    write_resolved(s, s["out"])
    result = run_tune(progress=True, **s)
    typer.echo(result.trials.to_string(index=False))
    typer.echo(f"best {result.metric} = {result.best_value:.4g} (inner validation): {result.best_params}")
    if result.baseline_value is not None:
        typer.echo(f"mean predictor {result.metric} = {result.baseline_value:.4g} on the same rows")
        if result.baseline_beats_all:
            typer.echo("note: the mean predictor does as well as or better than every trial: nothing useful was "
                       "learned (try more trials, other ranges, features or another model)")
    typer.echo(f"wrote {result.files['best_config']} and {result.files['trials']}")


@app.command()
@_needs("results")
def report(
    ctx: typer.Context,
    results: Annotated[Path | None, typer.Argument(help="a results folder (with results.json)")] = None,
    out: Annotated[Path | None, typer.Option(help="where report.md/report.html go (default: the results folder)")] = None,
    config: ConfigOpt = None,
) -> None:
    """(Re)build report.md and report.html for a results folder."""
    from sciptm.reports import build_report

    s = resolve(ctx, required=_required(ctx))
    if not (Path(s["results"]) / "results.json").is_file():
        raise MissingFileError(f"no results.json in {s['results']}")
    check_writable(s["out"] or s["results"])
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
@_needs("name")
def datasets_info(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="dataset name")] = None,
    config: ConfigOpt = None,
) -> None:
    """The dataset card (source URL, sha256, columns, task, split, license, citation)."""
    from sciptm import datasets

    name = resolve(ctx, required=_required(ctx))["name"]
    card = datasets.CARDS.get(name)
    typer.echo(card.text if hasattr(card, "text") else yaml.safe_dump(datasets.info(name), sort_keys=False))


#: the encoder ``finetune`` starts from when none is named: the domain's shipped, pretrained one
DEFAULT_ENCODERS = {"smiles": "sciptm/smiles-small", "protein": "sciptm/protein-small", "crystal": "sciptm/crystal-small"}

#: input column names looked for (in any case) when ``--column`` is not given, per domain
INPUT_COLUMNS = {
    "smiles": ("smiles", "canonical_smiles", "smi", "mol", "molecule", "drug"),
    "protein": ("sequence", "seq", "protein", "aa_seq", "mutated_sequence", "primary", "target_sequence"),
    "crystal": ("structure", "cif", "composition", "formula"),
    "reaction": ("reaction", "rxn", "rxn_smiles", "reaction_smiles", "smiles"),
}


def _read_csv(path: str | Path) -> Any:
    """A user's CSV file as a DataFrame (missing or unreadable: a one-line error)."""
    import pandas as pd

    from sciptm.errors import MissingFileError

    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"input file not found: {path}")
    from sciptm.data.readers import is_sdf, read_sdf

    if is_sdf(path):  # an SD file: columns name, smiles and its SD properties; a bad record names the molecule
        return read_sdf(path)
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable CSV file: {str(exc).splitlines()[0] if str(exc) else exc}") from None


def _find_column(frame: Any, path: str | Path, name: str, flag: str) -> str:
    """The column called ``name``: exactly, else the one column that matches in another case."""
    if name in frame.columns:
        return name
    folded = [c for c in frame.columns if str(c).casefold() == name.casefold()]
    if len(folded) == 1:
        return str(folded[0])
    raise ConfigError(f"{path}: no column {name!r} (name it with {flag}); columns are {list(frame.columns)}")


def _input_column(frame: Any, path: str | Path, column: str | None, domain: str) -> str:
    """The input column: ``--column`` (matched in any case), else the first of the domain's usual names."""
    if column:
        return _find_column(frame, path, str(column), "--column")
    by_name = {str(c).casefold(): str(c) for c in frame.columns}
    for name in INPUT_COLUMNS.get(domain, ()):
        if name in by_name:
            return by_name[name]
    looked = ", ".join(INPUT_COLUMNS.get(domain, ())) or "(none)"
    raise ConfigError(f"{path}: no {domain} input column found (looked for {looked}, in any case): name it with "
                      f"--column; columns are {list(frame.columns)}")


def _read_inputs(path: str | Path, column: str) -> Any:
    """A CSV file that must hold ``column`` (kept for callers of the old helper)."""
    frame = _read_csv(path)
    _find_column(frame, path, column, "--column")
    return frame


def _device(name: str | None) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; anything else as given."""
    if name in (None, "", "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(name)


ColumnOpt = Annotated[str | None, typer.Option(
    "--column", "--smiles-columns",
    help="Input column (Chemprop: --smiles-columns). Default: found by name in any case (smiles, sequence, "
         "structure...).")]
DeviceOpt = Annotated[str, typer.Option(help="auto (a GPU when there is one), cpu, cuda, cuda:1, mps")]


@app.command()
@_needs("inputs", "encoder")
def embed(
    ctx: typer.Context,
    inputs: Annotated[Path | None, typer.Argument(help="CSV file")] = None,
    encoder: Annotated[str | None, typer.Option(help="Encoder folder or name (sciptm/smiles-small, ...).")] = None,
    column: ColumnOpt = None,
    out: Annotated[Path, typer.Option(help="Output file: .npy (N x d float32) or .csv (dim_0.. columns), "
                                           "written chunk by chunk.")] = Path("embeddings.npy"),
    errors: Annotated[str, typer.Option(help="raise or skip")] = "raise",
    batch_size: Annotated[int, typer.Option(help="Inputs per forward pass.")] = 256,
    quantize: Annotated[str, typer.Option(help="none, or int8: a dynamically quantized copy of the linear layers "
                                               "on CPU (faster; embeddings within cosine 0.999 of fp32).")] = "none",
    device: DeviceOpt = "auto",
    config: ConfigOpt = None,
) -> None:
    """Embed a CSV column with an encoder; writes an N x d .npy (NaN rows for skipped inputs)."""
    import numpy as np

    from sciptm import Encoder

    s = resolve(ctx, required=_required(ctx))
    if s["quantize"] not in ("none", "int8"):
        raise ConfigError(f"--quantize must be 'none' or 'int8', not {s['quantize']!r}")
    quantize = None if s["quantize"] == "none" else s["quantize"]
    frame = _read_csv(s["inputs"])
    check_writable(s["out"], folder=False)
    enc = Encoder.from_pretrained(s["encoder"])
    s["column"] = _input_column(frame, s["inputs"], s["column"], enc.domain.name)
    s["device"] = _device(s["device"])
    enc.to(s["device"])
    out = Path(s["out"])
    out.parent.mkdir(parents=True, exist_ok=True)
    write_resolved(s, out, folder=False)
    if out.suffix in (".npy", ".csv"):  # streamed chunk by chunk: finished rows are on disk, memory stays bounded
        X = enc.embed(frame[s["column"]], batch_size=s["batch_size"], errors=s["errors"], progress=True, out=out,
                      quantize=quantize)
        shape = X.shape if hasattr(X, "shape") else (len(frame), enc.hidden_size)
    else:
        X = enc.embed(frame[s["column"]], batch_size=s["batch_size"], errors=s["errors"], progress=True,
                      quantize=quantize)
        np.save(out, X)
        shape = X.shape
    typer.echo(f"wrote {out} {tuple(shape)}")


def _trainer_defaults(predictor_cls: Any) -> dict[str, Any]:
    """The Python API's defaults for the fine-tuning settings (``PropertyPredictor``'s, else ``TrainerConfig``'s),
    so ``sciptm finetune`` and ``PropertyPredictor(...).fit`` train alike."""
    from sciptm.training import TrainerConfig

    defaults = TrainerConfig().to_dict()
    for name, p in inspect.signature(predictor_cls).parameters.items():
        if p.default not in (inspect.Parameter.empty, None) and p.kind is not inspect.Parameter.VAR_KEYWORD:
            defaults[name] = p.default
    return defaults


#: fine-tuning settings that default to the Python API's values (``None`` on the command line)
_FIT_SETTINGS = ("epochs", "lr", "batch_size", "patience", "freeze", "dropout", "seed", "ensemble")


@app.command()
@_needs("train", "targets", "out")
def finetune(
    ctx: typer.Context,
    train: Annotated[Path | None, typer.Argument(help="Training CSV.")] = None,
    targets: Annotated[str | None, typer.Option(
        "--targets", "--target-columns", help="Target column(s), comma or space separated (Chemprop: "
                                              "--target-columns).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (a save_pretrained folder).")] = None,
    encoder: Annotated[str | None, typer.Option(
        help="Encoder: a folder, a shipped name (sciptm/smiles-small), or tiny/small for an untrained one. "
             "Default: the domain's shipped pretrained encoder.")] = None,
    column: ColumnOpt = None,
    task: Annotated[str, typer.Option(help="Task type: regression, binary, multiclass, multitask-binary, "
                                           "multitask-regression.")] = "regression",
    domain: Annotated[str, typer.Option(help="Domain of the default or untrained encoder: smiles, protein, "
                                             "crystal.")] = "smiles",
    valid: Annotated[Path | None, typer.Option(help="Validation CSV: early stopping and the best epoch's "
                                                    "weights.")] = None,
    features: Annotated[str | None, typer.Option(help="Side features, e.g. rdkit2d.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs. Default: the Python API's.")] = None,
    lr: Annotated[float | None, typer.Option(help="Encoder learning rate. Default: the Python API's.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Rows per batch. Default: the Python API's.")] = None,
    patience: Annotated[int | None, typer.Option(help="Early-stopping patience in epochs (with --valid).")] = None,
    freeze: Annotated[str | None, typer.Option(help="none, encoder or gradual. Default: none.")] = None,
    dropout: Annotated[float | None, typer.Option(help="Head dropout. Default: the Python API's.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed. Default: the Python API's.")] = None,
    ensemble: Annotated[int | None, typer.Option(help="Fine-tune N differently seeded models and average them; "
                                                      "their spread is predict --return-std. Default: 1.")] = None,
    device: DeviceOpt = "auto",
    errors: Annotated[str, typer.Option(help="raise or skip")] = "raise",
    config: ConfigOpt = None,
) -> None:
    """Fine-tune an encoder with a task head on a CSV and save it (save_pretrained layout). Defaults match the
    Python API (PropertyPredictor); the resolved settings go to OUT/resolved_config.yaml."""
    import logging

    from sciptm import Encoder, PropertyPredictor
    from sciptm.encoders import SIZES
    from sciptm.encoders.hub import SHIPPED

    s = resolve(ctx, required=_required(ctx))
    frame = _read_csv(s["train"])
    check_writable(s["out"])
    cols = [_find_column(frame, s["train"], c, "--targets") for c in as_list(s["targets"], spaces=False) or []]
    s["targets"] = cols
    if s["encoder"] is None:
        default = DEFAULT_ENCODERS.get(s["domain"])
        if default is None or default not in SHIPPED:
            logging.getLogger(__name__).warning("no shipped pretrained %s encoder: starting from an untrained "
                                                "'tiny' one", s["domain"])
            default = "tiny"
        s["encoder"] = default
    enc = (Encoder.from_config(domain=s["domain"], size=s["encoder"]) if s["encoder"] in SIZES
           else Encoder.from_pretrained(s["encoder"]))
    s["domain"] = enc.domain.name
    s["column"] = _input_column(frame, s["train"], s["column"], enc.domain.name)
    s["device"] = _device(s["device"])
    defaults = _trainer_defaults(PropertyPredictor)
    for name in _FIT_SETTINGS:
        if s[name] is None:
            s[name] = defaults.get(name)
    write_resolved(s, s["out"])
    options = {k: s[k] for k in _FIT_SETTINGS if s[k] is not None}
    model = PropertyPredictor(enc, task=s["task"], features=s["features"], device=s["device"], progress=True,
                              **options)
    y = frame[cols] if len(cols) > 1 else frame[cols[0]]
    val = None
    if s["valid"] is not None:
        vf = _read_csv(s["valid"])
        vcol = _input_column(vf, s["valid"], s["column"], enc.domain.name)
        vcols = [_find_column(vf, s["valid"], c, "--targets") for c in cols]
        val = (vf[vcol], vf[vcols].set_axis(cols, axis=1) if len(cols) > 1 else vf[vcols[0]].rename(cols[0]))
    model.fit(frame[s["column"]], y, valid=val, errors=s["errors"])
    model.save_pretrained(s["out"])
    typer.echo(f"saved {s['out']}: {_best_epoch_line(model, s['epochs'])}")


def _best_epoch_line(model: Any, epochs: int | None) -> str:
    """What was kept: the best validation epoch, or (without validation data) the last epoch trained."""
    history = getattr(model, "history_", None)
    n_run = len(history) if history is not None else (epochs or 0)
    best = getattr(model, "best_epoch_", None)
    state = getattr(model, "state", None) or getattr(model, "state_", None) or {}
    metric = state.get("metric") or "validation score"
    if best is not None and history is not None and "valid_score" in getattr(history, "columns", ()):
        rows = history[history["epoch"] == best] if "epoch" in history.columns else history.iloc[[best]]
        score = float(rows["valid_score"].iloc[0]) if len(rows) else float("nan")
        stopped = f", stopped early after {n_run} of {epochs}" if epochs and n_run < epochs else f" of {n_run}"
        return f"best epoch {best + 1}{stopped} ({metric} {score:.4g} on the validation rows); its weights are saved"
    return (f"trained {n_run} epoch{'s' if n_run != 1 else ''} and kept the last one (no validation data: give "
            "--valid for early stopping and the best epoch)")


def _task_of(predictor: Any) -> Any:
    from sciptm.heads.tasks import TASKS

    task = getattr(predictor, "task_", None) or predictor.task
    return TASKS.get(task) if isinstance(task, str) else task


def _target_names(predictor: Any, n: int) -> list[str]:
    state = getattr(predictor, "state", None) or getattr(predictor, "state_", None) or {}
    names = [str(t) for t in state.get("target_names") or []]
    if len(names) != n:
        names = ["prediction"] if n == 1 else [f"prediction_{i}" for i in range(n)]
    return names


def _fitted_encoder(predictor: Any) -> Any:
    enc = getattr(predictor, "encoder_", None)
    return enc if enc is not None and hasattr(enc, "prepare") else predictor.encoder


def _move(predictor: Any, device: str) -> None:
    """Put a loaded predictor's network on ``device`` (its predictions follow the module's device)."""
    for name in ("module_", "module"):
        module = getattr(predictor, name, None)
        if module is not None and hasattr(module, "to"):
            module.to(device)
    config = getattr(predictor, "trainer_config_", None) or getattr(predictor, "trainer_config", None)
    if config is not None and hasattr(config, "device"):
        config.device = device


@app.command()
@_needs("inputs", "model")
def predict(
    ctx: typer.Context,
    inputs: Annotated[Path | None, typer.Argument(help="CSV file")] = None,
    model: Annotated[str | None, typer.Option(help="Fine-tuned model folder (sciptm finetune's --out).")] = None,
    column: ColumnOpt = None,
    out: Annotated[Path, typer.Option(help="Output CSV: the input columns plus TARGET_pred (and TARGET_std, "
                                           "TARGET_prob) columns, written as rows finish.")] = Path("predictions.csv"),
    errors: Annotated[str, typer.Option(help="raise or skip (skipped rows get empty predictions)")] = "raise",
    batch_size: Annotated[int, typer.Option(help="Inputs per forward pass.")] = 128,
    return_std: Annotated[bool, typer.Option(help="Add TARGET_std: the spread of the ensemble's (finetune "
                                                  "--ensemble) or Monte-Carlo-dropout predictions (regression).")]
    = False,
    interval: Annotated[float | None, typer.Option(
        help="ALPHA: add TARGET_lower and TARGET_upper, split-conformal intervals covering the truth with "
             "probability >= 1 - ALPHA (e.g. 0.1), calibrated on finetune's --valid rows (regression).")] = None,
    device: DeviceOpt = "auto",
    chunk_size: Annotated[int, typer.Option(help="Rows predicted and appended to --out at a time.")] = 4096,
    config: ConfigOpt = None,
) -> None:
    """Predict with a fine-tuned model; writes the input CSV with prediction columns named after the targets."""
    from sciptm import PropertyPredictor
    from sciptm.errors import MissingFileError
    from sciptm.progress import Progress

    s = resolve(ctx, required=_required(ctx))
    frame = _read_csv(s["inputs"])
    if not Path(s["model"]).is_dir():
        raise MissingFileError(f"model folder not found: {s['model']}")
    check_writable(s["out"], folder=False)
    predictor = PropertyPredictor.from_pretrained(s["model"])
    task = _task_of(predictor)
    for flag in ("return_std", "interval"):
        if s[flag] not in (None, False) and task.is_classifier:
            raise ConfigError(f"--{flag.replace('_', '-')} is for regression models; {s['model']} is a {task.name} "
                              "model")
    if s["interval"] is not None and getattr(predictor, "conformal_", None) is None:
        raise ConfigError(f"--interval needs a model calibrated on validation rows: {s['model']} was fine-tuned "
                          "without --valid")
    encoder = _fitted_encoder(predictor)
    s["column"] = _input_column(frame, s["inputs"], s["column"], encoder.domain.name)
    s["device"] = _device(s["device"])
    _move(predictor, s["device"])
    if s["errors"] == "raise":  # every bad row named before any work is done
        encoder.prepare(frame[s["column"]], errors="raise")
    out = Path(s["out"])
    out.parent.mkdir(parents=True, exist_ok=True)
    write_resolved(s, out, folder=False)
    step = max(1, int(s["chunk_size"]))
    written: list[str] = []
    from sciptm._util.atomic import atomic_path

    # chunks go to a temporary file that replaces ``out`` at the end: a failure leaves no partial predictions
    with Progress(len(frame), "predicting", show=True) as bar, atomic_path(out) as tmp:
        for start in range(0, max(len(frame), 1), step):
            part = frame.iloc[start:start + step].copy()
            written = _predict_columns(predictor, task, part, s)  # a header-only input still gets its columns
            part.to_csv(tmp, mode="w" if start == 0 else "a", header=start == 0, index=False)
            bar.advance(len(part))
    typer.echo(f"wrote {out} ({len(frame)} rows; columns {', '.join(written) or '-'})")


def _as_rows(values: Any, n: int, dtype: Any = float) -> Any:
    """Predictions as an ``n x k`` array; an empty chunk (a header-only CSV) keeps its ``k`` columns."""
    import numpy as np

    arr = np.asarray(values, dtype=dtype)
    return arr.reshape(0, arr.shape[1] if arr.ndim == 2 else 1) if n == 0 else arr.reshape(n, -1)


def _predict_columns(predictor: Any, task: Any, part: Any, s: dict[str, Any]) -> list[str]:
    """Add the prediction columns of one chunk to ``part``; returns their names."""
    import numpy as np

    from sciptm.heads.tasks import MulticlassTask

    X, kw = part[s["column"]], {"errors": s["errors"], "batch_size": s["batch_size"]}
    added: dict[str, Any] = {}
    if not task.is_classifier:
        if s["return_std"]:
            mean, std = predictor.predict(X, return_std=True, **kw)
        else:
            mean, std = predictor.predict(X, **kw), None
        mean = _as_rows(mean, len(part))
        names = _target_names(predictor, mean.shape[1])
        bounds = None
        if s.get("interval") is not None:
            low, high = predictor.predict_interval(X, alpha=float(s["interval"]), **kw)
            bounds = (_as_rows(low, len(part)),
                      _as_rows(high, len(part)))
        for i, name in enumerate(names):
            added[f"{name}_pred"] = mean[:, i]
            if std is not None:
                added[f"{name}_std"] = _as_rows(std, len(part))[:, i]
            if bounds is not None:
                added[f"{name}_lower"], added[f"{name}_upper"] = bounds[0][:, i], bounds[1][:, i]
    elif isinstance(task, MulticlassTask):
        labels = _as_rows(predictor.predict(X, **kw), len(part), dtype=None)
        added[f"{_target_names(predictor, 1)[0]}_pred"] = labels[:, 0]
    else:  # binary / multitask-binary: the probability, and the label at 0.5
        prob = _as_rows(predictor.predict_proba(X, **kw), len(part))
        for i, name in enumerate(_target_names(predictor, prob.shape[1])):
            added[f"{name}_pred"] = np.where(np.isnan(prob[:, i]), np.nan, (prob[:, i] >= 0.5).astype(float))
            added[f"{name}_prob"] = prob[:, i]
    for name, values in added.items():
        part[name] = values
    return list(added)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@_needs("out")
def pretrain(
    ctx: typer.Context,
    config: Annotated[Path | None, typer.Option(help="YAML pretraining config (PretrainConfig keys)")] = None,
    out: Annotated[Path | None, typer.Option(help="run folder")] = None,
    resume: Annotated[bool, typer.Option(help="continue from the last checkpoint")] = False,
    set: Annotated[list[str] | None, typer.Option("--set", help="override a config key: KEY=VALUE")] = None,
) -> None:
    """Masked-LM (or causal-LM) pretraining. Every config key is also a flag (--max-steps 500, --val-source null;
    values are read as YAML), as is --set KEY=VALUE."""
    from sciptm.pretraining.config import PretrainConfig
    from sciptm.pretraining.loop import pretrain as run_pretrain

    if out is None:
        raise ConfigError("missing --out: the run folder")
    values = read_yaml_mapping(config) if config else {}
    values.update(_key_values(ctx.args, set or []))
    cfg = PretrainConfig.from_dict(values)
    check_writable(out)
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
    """A flag's value read as YAML; ``1e-3`` is a number too (:func:`sciptm._util.values.read_value`)."""
    from sciptm._util.values import read_value

    return read_value(text, key)


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
