"""One config mechanism for every ``sciptm`` command: ``--config FILE.yaml`` where every key is also a flag.

Precedence: a flag given on the command line > the config file > the flag's default. Keys are the flags'
names (``task_type`` or ``task-type`` for ``--task-type``); a key that is not a flag of the command is an
error, never ignored. The resolved settings are written as YAML beside the command's outputs
(:func:`write_resolved`), so a run can be repeated with ``--config`` on that file.

A command takes the typer context and a ``config`` option, and reads its settings from :func:`resolve`:

>>> @app.command()  # doctest: +SKIP
... def embed(ctx: typer.Context, inputs: Path | None = None, batch_size: int = 256, config: Path | None = None):
...     s = resolve(ctx, required=("inputs",))  # {"inputs": ..., "batch_size": ...}
...     write_resolved(s, "embeddings.npy", folder=False)  # -> embeddings.resolved_config.yaml
"""
from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from sciptm.errors import ConfigError

#: sources of a parameter's value that a config file may override
_OVERRIDABLE = ("DEFAULT", "DEFAULT_MAP")

#: the file a command writes its resolved settings to (inside its output folder)
RESOLVED_NAME = "resolved_config.yaml"
#: integer settings that must be at least 1 (``--batch-size 0`` would fail deep inside with a cryptic message)
POSITIVE_INTS = ("batch_size", "chunk_size", "n_trials", "epochs", "num_cpus")
#: text settings that may also be given as a YAML list (``models: [mean, ecfp-rf]``) or mapping in a config file
LIST_SETTINGS = ("tasks", "models", "seeds", "targets", "sizes", "features")
MAPPING_SETTINGS = ("model_options", "space")
#: parameters that steer the config mechanism itself and are not settings
META_PARAMS = ("config",)


def read_yaml_mapping(path: str | Path, what: str = "config file") -> dict[str, Any]:
    """A YAML file that must hold a mapping; a missing file, bad YAML or another shape is a :class:`ConfigError`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a {what} must be a YAML mapping (key: value), not a {type(data).__name__}")
    return data


def mapping_option(value: Any, name: str) -> dict[str, Any] | None:
    """A mapping-valued setting (``model_options``, a search ``space``): a mapping, a YAML file path, or an
    inline YAML mapping (``'{ecfp-rf: {n_estimators: 100}}'``)."""
    if value is None or isinstance(value, dict):
        return value
    text = str(value)
    if Path(text).is_file() or text.endswith((".yaml", ".yml")):
        return read_yaml_mapping(text, what=f"{name} file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: expected a YAML file or an inline mapping, got {text!r}")
    return data


def as_ints(value: Any, name: str) -> list[int] | None:
    """A list of integers (``--seeds '0 1 2'``, ``seeds: [0, 1]``); anything else is a :class:`ConfigError`."""
    items = as_list(value)
    if items is None:
        return None
    out = []
    for item in items:
        if isinstance(item, bool) or isinstance(item, (dict, list)):
            raise ConfigError(f"{name}: expected whole numbers, got {item!r}")
        try:
            number = float(item)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}: expected whole numbers, got {item!r}") from None
        if not number.is_integer():
            raise ConfigError(f"{name}: expected whole numbers, got {item!r}")
        out.append(int(number))
    return out


def as_list(value: Any, spaces: bool = True) -> list[Any] | None:
    """A list setting from a flag (``'a,b'``; ``'a b'`` too when ``spaces``) or a config file (a YAML list or
    one value). Column names may hold spaces: read them with ``spaces=False``."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return list(value)
    text = str(value).replace(" ", ",") if spaces else str(value)
    items = [v.strip() for v in text.split(",") if v.strip()]
    return items or None


def resolve(ctx: Any, required: Sequence[str] = (), skip: Iterable[str] = META_PARAMS) -> dict[str, Any]:
    """The settings of a command call: its flags, with a ``--config`` file (``ctx.params["config"]``) filling
    every flag not given on the command line. ``required`` settings must end up set."""
    skip = set(skip)
    params = {p.name: p for p in ctx.command.params if p.name and p.name not in skip}
    path = ctx.params.get("config")
    from_file = {str(k).replace("-", "_"): v for k, v in read_yaml_mapping(path).items()} if path else {}
    unknown = sorted(set(from_file) - set(params))
    if unknown:
        known = ", ".join(sorted(params))
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)} for '{ctx.info_name}'"
                          f"; known: {known}")
    resolved: dict[str, Any] = {}
    kinds = _types(ctx)
    for name in params:
        value = ctx.params.get(name)
        source = ctx.get_parameter_source(name)
        if name in from_file and (source is None or source.name in _OVERRIDABLE):
            value = _cast(kinds.get(name), name, from_file[name], path)
        resolved[name] = value
    for name in POSITIVE_INTS:
        value = resolved.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value < 1:
            raise ConfigError(f"{_flag(params[name])} must be at least 1, not {value}")
    missing = [n for n in required if resolved.get(n) in (None, "", [])]
    if missing:
        flags = ", ".join(_flag(params[n]) for n in missing)
        raise ConfigError(f"missing {flags}: give it on the command line or as "
                          f"{' / '.join(repr(n) for n in missing)} in --config")
    return resolved


def _flag(param: Any) -> str:
    if param.param_type_name == "argument":  # typer's TyperArgument lacks click's human_readable_name
        return str(getattr(param, "metavar", None) or param.name).upper()
    return max(param.opts, key=len)


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _types(ctx: Any) -> dict[str, Any]:
    """The command function's parameter types (``X | None`` -> ``X``), read from its annotations."""
    fn = inspect.unwrap(ctx.command.callback) if ctx.command.callback else None
    try:
        hints = typing.get_type_hints(fn) if fn else {}
    except (NameError, TypeError):
        return {}
    out = {}
    for name, hint in hints.items():
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        out[name] = args[0] if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1 else hint
    return out


def _cast(kind: Any, name: str, value: Any, path: Any) -> Any:
    """A config value checked against the flag's type. Lists and mappings are kept for list- and mapping-valued
    settings (``models: [a, b]``, ``model_options: {...}``: flags typed ``str``) and refused for numbers, booleans
    and paths (``batch_size: [1, 2]``)."""
    if value is None or kind is None:
        return value
    bad = ConfigError(f"{path}: {name}: expected {getattr(kind, '__name__', kind)}, got {value!r}")
    if isinstance(value, (list, dict)):
        allowed = MAPPING_SETTINGS if isinstance(value, dict) else LIST_SETTINGS
        if kind in (bool, int, float, Path, str) and not (kind is str and name in allowed):
            raise bad
        return value
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE + _FALSE:
            return text in _TRUE
        raise bad
    if kind in (int, float):
        if isinstance(value, bool):
            raise bad
        try:
            number = float(value) if kind is float else int(value) if not isinstance(value, float) else value
        except (TypeError, ValueError):
            raise bad from None
        if kind is int and (isinstance(number, float) and not number.is_integer()):
            raise bad
        return kind(number)
    if kind is Path:
        return Path(str(value))
    if kind is str:
        return str(value)
    return value


def plain(obj: Any) -> Any:
    """Settings as YAML-safe values (paths -> str, tuples -> lists, numpy scalars -> Python)."""
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item) and type(obj).__module__ == "numpy":
        return obj.item()
    return obj


def resolved_path(output: str | Path, folder: bool) -> Path:
    """Where the resolved settings of a command go: ``<folder>/resolved_config.yaml`` for a command that writes
    a folder; ``<name>.resolved_config.yaml`` beside an output file (``preds.csv`` ->
    ``preds.resolved_config.yaml``), so two commands writing into one folder never overwrite each other's."""
    output = Path(output)
    if folder:
        return output / RESOLVED_NAME
    stem = Path(output.name.removesuffix(".gz")).stem
    return output.parent / f"{stem}.{RESOLVED_NAME}"


def check_writable(output: str | Path, folder: bool = True) -> Path:
    """Fail fast, before any work, when ``output`` (a folder, or a file when ``folder=False``) cannot be written:
    a read-only, full or missing place, or a path through a file. Creates nothing that stays behind.

    Raises
    ------
    ConfigError
        naming the path and the reason.
    """
    import errno
    import os
    import tempfile

    output = Path(output)
    if output.exists() and folder != output.is_dir():
        kind = "a file" if output.is_file() else "a folder"
        raise ConfigError(f"cannot write to {output}: it is {kind}; expected {'a folder' if folder else 'a file'}")
    place = output if folder else output.parent
    existing = place
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"cannot write to {output}: {existing} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".sciptm-write-check-", dir=existing)
    except OSError as exc:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
        raise ConfigError(f"cannot write to {output}: {existing}: {reason}") from None
    os.close(fd)
    os.unlink(probe)
    return output


def write_resolved(settings: Mapping[str, Any], output: str | Path, folder: bool = True) -> Path:
    """Write ``settings`` (see :func:`resolved_path`) and return the file's path."""
    from sciptm._util.atomic import write_text_atomic

    path = resolved_path(output, folder)
    write_text_atomic(path, yaml.safe_dump(plain(dict(settings)), sort_keys=False))
    return path


__all__ = [
    "RESOLVED_NAME",
    "ConfigError",
    "as_ints",
    "as_list",
    "check_writable",
    "mapping_option",
    "plain",
    "read_yaml_mapping",
    "resolve",
    "resolved_path",
    "write_resolved",
]
