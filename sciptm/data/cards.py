"""Dataset cards: one YAML file describes one task (files, checksums, columns, split, metric).

Cards live in ``datasets/<folder>/<name>.yaml`` at the repository root, reachable
from the installed package through the relative symlink ``sciptm/data/cards``.
``<folder>`` is the mirror sub-folder that holds the card's files (``chem``,
``protein``, ``materials``). Adding a dataset means adding one YAML file.

A card names its files either with the single-file shorthand (top-level
``file``, ``url``, ``sha256``, ``format``) or with a ``files`` list whose entries
carry the same keys plus ``role`` (``data`` or ``folds``) and ``split`` (for
datasets shipped as train/valid/test files).

Example
-------
>>> from sciptm.data.cards import CARDS
>>> card = CARDS["esol"]
>>> card.task, card.metric, card.files[0].file
('regression', 'rmse', 'delaney-processed.csv')
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sciptm.registry import Registry

DOMAIN_NAMES = ("smiles", "protein", "crystal")
INPUT_KINDS = ("smiles", "sequence", "structure", "composition", "cif")
TASK_TYPES = ("regression", "binary", "multiclass", "multitask-binary", "multitask-regression", "unlabeled")
SPLIT_KINDS = ("column", "files", "folds")
FILE_ROLES = ("data", "folds")
SPLIT_NAMES = ("train", "valid", "test")
DEFAULT_INPUT_KIND = {"smiles": "smiles", "protein": "sequence", "crystal": "structure"}

_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")

_CARD_KEYS = {
    "name", "domain", "input_kind", "title", "description", "files", "file", "url", "sha256", "format",
    "size", "alt_sha256", "in_mirror", "input", "targets", "task", "metric", "n_rows", "columns", "rename",
    "split", "exclude_features", "invalid_rows", "license", "citation", "notes", "upstream",
}
_FILE_KEYS = {"file", "url", "sha256", "format", "size", "alt_sha256", "in_mirror", "role", "split", "note"}
_SPLIT_KEYS = {"recommended", "source", "notes", "predefined", "protocol_id"}
_PREDEFINED_KEYS = {"kind", "column", "values", "valid_column", "task_key", "n_folds", "notes"}
_INVALID_KEYS = {"indices", "reason", "checked_with"}


@dataclass(frozen=True)
class FileSpec:
    """One file of a dataset.

    Attributes
    ----------
    file: path relative to the card's mirror folder (``flip_gb1/one_vs_rest.csv.gz``).
    url: canonical download URL, or ``None`` when none is known.
    sha256: checksum of the bytes as stored (mirror and cache); ``None`` means unpinned,
        which :func:`sciptm.data.fetch.fetch_file` refuses to use.
    format: reader name (``csv``, ``csv.gz``, ``json.gz``, ``fasta.gz``, ``cif-tar.gz``).
    alt_sha256: other accepted checksums of the same content (e.g. the upstream bytes when
        the mirror re-compressed a file); documented on the card.
    in_mirror: whether the project's data mirror holds the file.
    role: ``data`` or ``folds`` (Matbench fold file).
    split: ``train``/``valid``/``test`` for datasets shipped as one file per split.
    """

    file: str
    sha256: str | None
    format: str
    url: str | None = None
    size: int | None = None
    alt_sha256: tuple[str, ...] = ()
    in_mirror: bool = True
    role: str = "data"
    split: str | None = None
    note: str | None = None

    @property
    def accepted_sha256(self) -> tuple[str, ...]:
        """All checksums that verify this file (the pinned one first)."""
        return tuple(s for s in (self.sha256, *self.alt_sha256) if s)


@dataclass(frozen=True)
class PredefinedSplit:
    """How a dataset's own split is stored.

    ``kind="column"``: a column holds the split name (``values`` maps ``train``/``valid``/``test``
    to the cell values); ``valid_column`` marks validation rows inside train (FLIP).
    ``kind="files"``: one file per split; the loader adds ``column`` holding the split name.
    ``kind="folds"``: Matbench cross-validation folds read from the ``folds`` file under ``task_key``.
    """

    kind: str
    column: str | None = None
    values: dict[str, str] = field(default_factory=dict, hash=False)
    valid_column: str | None = None
    task_key: str | None = None
    n_folds: int | None = None
    notes: str | None = None


@dataclass(frozen=True)
class SplitInfo:
    """The recommended split strategy, its literature source and any predefined split."""

    recommended: str
    source: str
    notes: str | None = None
    predefined: PredefinedSplit | None = None
    protocol_id: str | None = None  # id in reports/references.yaml of the published protocol this split follows


@dataclass(frozen=True)
class InvalidRows:
    """Rows known to fail input parsing (0-based data rows), why, and with which tool."""

    indices: tuple[int, ...]
    reason: str
    checked_with: str | None = None


@dataclass(frozen=True)
class Card:
    """A parsed dataset card (see the module docstring for the YAML layout)."""

    name: str
    domain: str | None
    input_kind: str | None
    description: str
    files: tuple[FileSpec, ...]
    input: str
    targets: tuple[str, ...]
    task: str
    metric: str | None
    split: SplitInfo
    folder: str | None = None
    title: str | None = None
    n_rows: int | None = None
    columns: tuple[str, ...] | None = None
    rename: dict[str, str] = field(default_factory=dict, hash=False)
    exclude_features: tuple[str, ...] = ()
    invalid_rows: InvalidRows | None = None
    license: str | None = None
    citation: str | None = None
    notes: str | None = None
    upstream: tuple[dict[str, Any], ...] = field(default=(), hash=False)
    path: Path | None = None

    @property
    def data_files(self) -> tuple[FileSpec, ...]:
        """Files holding rows (everything except the fold file)."""
        return tuple(f for f in self.files if f.role == "data")

    @property
    def folds_file(self) -> FileSpec | None:
        """The Matbench fold file, if the card has one."""
        return next((f for f in self.files if f.role == "folds"), None)

    @property
    def in_mirror(self) -> bool:
        """Whether the project's data mirror holds every file of the card."""
        return all(f.in_mirror for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data view of the card (for ``info`` and JSON reports)."""
        out = asdict(self)
        out["path"] = str(self.path) if self.path else None
        return out

    @property
    def text(self) -> str:
        """The card's YAML source (or a YAML dump for cards built in code)."""
        if self.path is not None:
            return self.path.read_text(encoding="utf-8")
        return yaml.safe_dump(self.to_dict(), sort_keys=False)


def _fail(where: str, msg: str) -> ValueError:
    return ValueError(f"dataset card {where}: {msg}")


def _check_keys(where: str, raw: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise _fail(where, f"unknown {what} key(s) {unknown}; allowed: {sorted(allowed)}")


def _sub_mapping(where: str, raw: dict[str, Any], key: str, allowed: set[str], what: str, shape: str) -> dict | None:
    """``raw[key]`` checked to be a mapping with only ``allowed`` keys, or ``None`` when absent."""
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _fail(where, f"'{what}' must be {shape}")
    _check_keys(where, value, allowed, what)
    return value


def _str_list(where: str, value: Any, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(where, f"{key!r} must be a list of strings, got {value!r}")
    return tuple(value)


def _parse_sha(where: str, value: Any, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _SHA_RE.match(value):
        raise _fail(where, f"{key!r} must be 64 lower-case hex digits, got {value!r}")
    return value


def _parse_file(where: str, raw: dict[str, Any]) -> FileSpec:
    if not isinstance(raw, dict):
        raise _fail(where, f"each entry of 'files' must be a mapping, got {raw!r}")
    _check_keys(where, raw, _FILE_KEYS, "file")
    for key in ("file", "format"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise _fail(where, f"file entry needs a non-empty {key!r}: {raw!r}")
    if "sha256" not in raw:
        raise _fail(where, f"file {raw['file']!r} needs 'sha256' (use null and explain in 'note' if unknown)")
    sha = _parse_sha(where, raw["sha256"], "sha256")
    if sha is None and not raw.get("note"):
        raise _fail(where, f"file {raw['file']!r} has no sha256; a 'note' must say why")
    role = raw.get("role", "data")
    if role not in FILE_ROLES:
        raise _fail(where, f"file role must be one of {FILE_ROLES}, got {role!r}")
    split = raw.get("split")
    if split is not None and split not in SPLIT_NAMES:
        raise _fail(where, f"file split must be one of {SPLIT_NAMES}, got {split!r}")
    if raw.get("size") is not None and (not isinstance(raw["size"], int) or raw["size"] < 0):
        raise _fail(where, f"file {raw['file']!r}: 'size' must be a byte count, got {raw['size']!r}")
    alt = tuple(_parse_sha(where, s, "alt_sha256") or "" for s in raw.get("alt_sha256") or [])
    return FileSpec(
        file=raw["file"], sha256=sha, format=raw["format"], url=raw.get("url"), size=raw.get("size"),
        alt_sha256=alt, in_mirror=bool(raw.get("in_mirror", True)), role=role, split=split, note=raw.get("note"),
    )


def _parse_split(where: str, raw: Any) -> SplitInfo:
    if not isinstance(raw, dict):
        raise _fail(where, "'split' must be a mapping with 'recommended' and 'source'")
    _check_keys(where, raw, _SPLIT_KEYS, "split")
    for key in ("recommended", "source"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise _fail(where, f"split needs a non-empty {key!r}")
    pre_raw = _sub_mapping(where, raw, "predefined", _PREDEFINED_KEYS, "split.predefined", "a mapping")
    predefined = None
    if pre_raw is not None:
        kind = pre_raw.get("kind")
        if kind not in SPLIT_KINDS:
            raise _fail(where, f"split.predefined.kind must be one of {SPLIT_KINDS}, got {kind!r}")
        values = dict(pre_raw.get("values") or {})
        if set(values) - set(SPLIT_NAMES):
            raise _fail(where, f"split.predefined.values keys must be among {SPLIT_NAMES}, got {sorted(values)}")
        if kind in ("column", "files") and not pre_raw.get("column"):
            raise _fail(where, f"split.predefined of kind {kind!r} needs 'column'")
        if kind == "folds" and not pre_raw.get("task_key"):
            raise _fail(where, "split.predefined of kind 'folds' needs 'task_key'")
        predefined = PredefinedSplit(
            kind=kind, column=pre_raw.get("column"), values={k: str(v) for k, v in values.items()},
            valid_column=pre_raw.get("valid_column"), task_key=pre_raw.get("task_key"),
            n_folds=pre_raw.get("n_folds"), notes=pre_raw.get("notes"),
        )
    if raw["recommended"] == "predefined" and predefined is None:
        raise _fail(where, "split.recommended is 'predefined' but no split.predefined is given")
    protocol = raw.get("protocol_id")
    if protocol is not None and (not isinstance(protocol, str) or not protocol):
        raise _fail(where, "split.protocol_id must be a non-empty string")
    return SplitInfo(recommended=raw["recommended"], source=raw["source"], notes=raw.get("notes"),
                     predefined=predefined, protocol_id=protocol)


def parse_card(raw: dict[str, Any], *, path: Path | None = None, folder: str | None = None) -> Card:
    """Validate a card mapping and build a :class:`Card`.

    Parameters
    ----------
    raw: the YAML mapping.
    path: the YAML file (its stem must equal ``name``); ``folder`` defaults to its parent's name.

    Raises
    ------
    ValueError
        naming the card file and the offending key, for any schema violation.
    """
    where = str(path) if path else repr(raw.get("name", "<card>"))
    if not isinstance(raw, dict):
        raise _fail(where, "the YAML document must be a mapping")
    _check_keys(where, raw, _CARD_KEYS, "card")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise _fail(where, f"'name' must be lower-case letters, digits and '_', got {name!r}")
    if path is not None and path.stem != name:
        raise _fail(where, f"file name {path.name!r} must be '{name}.yaml'")
    domain = raw.get("domain")
    if domain not in DOMAIN_NAMES:
        raise _fail(where, f"'domain' must be one of {DOMAIN_NAMES}, got {domain!r}")
    input_kind = raw.get("input_kind", DEFAULT_INPUT_KIND[domain])
    if input_kind not in INPUT_KINDS:
        raise _fail(where, f"'input_kind' must be one of {INPUT_KINDS}, got {input_kind!r}")
    task = raw.get("task")
    if task not in TASK_TYPES:
        raise _fail(where, f"'task' must be one of {TASK_TYPES}, got {task!r}")
    for key in ("description", "input"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise _fail(where, f"{key!r} is required")
    targets = _str_list(where, raw.get("targets"), "targets")
    if task != "unlabeled" and not targets:
        raise _fail(where, f"task {task!r} needs at least one target column")
    if task.startswith("multitask") and len(targets) < 2:
        raise _fail(where, f"task {task!r} needs two or more targets")
    if task in ("regression", "binary", "multiclass") and len(targets) != 1:
        raise _fail(where, f"task {task!r} takes exactly one target; use a multitask-* type")
    shorthand = {k: raw[k] for k in ("file", "url", "sha256", "format", "size", "alt_sha256", "in_mirror") if k in raw}
    if shorthand and "files" in raw:
        raise _fail(where, "give either top-level 'file'/'url'/'sha256'/'format' or a 'files' list, not both")
    files_raw = [shorthand] if shorthand else raw.get("files")
    if not isinstance(files_raw, list) or not files_raw:
        raise _fail(where, "a card needs 'file' (+ 'sha256', 'format') or a non-empty 'files' list")
    files = tuple(_parse_file(where, f) for f in files_raw)
    split = _parse_split(where, raw.get("split"))
    pre = split.predefined
    if pre is not None and pre.kind == "files" and any(f.split is None for f in files if f.role == "data"):
        raise _fail(where, "split kind 'files' needs 'split: train|valid|test' on every data file")
    if pre is not None and pre.kind == "folds" and not any(f.role == "folds" for f in files):
        raise _fail(where, "split kind 'folds' needs a file with 'role: folds'")
    invalid = _sub_mapping(where, raw, "invalid_rows", _INVALID_KEYS, "invalid_rows",
                           "a mapping with 'indices' and 'reason'")
    invalid_rows = None
    if invalid is not None:
        idx = invalid.get("indices") or []
        if not all(isinstance(i, int) and i >= 0 for i in idx):
            raise _fail(where, f"invalid_rows.indices must be non-negative integers, got {idx!r}")
        invalid_rows = InvalidRows(tuple(idx), str(invalid.get("reason", "")), invalid.get("checked_with"))
    for key in ("n_rows",):
        if raw.get(key) is not None and (not isinstance(raw[key], int) or raw[key] < 0):
            raise _fail(where, f"{key!r} must be a non-negative integer, got {raw[key]!r}")
    columns = raw.get("columns")
    rename = raw.get("rename") or {}
    if not isinstance(rename, dict):
        raise _fail(where, "'rename' must map source column names to new names")
    upstream = raw.get("upstream") or []
    if not isinstance(upstream, list) or not all(isinstance(u, dict) for u in upstream):
        raise _fail(where, "'upstream' must be a list of mappings")
    return Card(
        name=name, domain=domain, input_kind=input_kind, description=raw["description"].strip(), files=files,
        input=raw["input"], targets=targets, task=task, metric=raw.get("metric"), split=split,
        folder=folder if folder is not None else (path.parent.name if path else None), title=raw.get("title"),
        n_rows=raw.get("n_rows"), columns=_str_list(where, columns, "columns") if columns is not None else None,
        rename={str(k): str(v) for k, v in rename.items()},
        exclude_features=_str_list(where, raw.get("exclude_features"), "exclude_features"),
        invalid_rows=invalid_rows, license=raw.get("license"), citation=raw.get("citation"),
        notes=raw.get("notes"), upstream=tuple(upstream), path=path,
    )


def read_card(path: str | Path) -> Card:
    """Read and validate one YAML card file.

    Example
    -------
    >>> from sciptm.data.cards import CARDS_DIR, read_card
    >>> read_card(CARDS_DIR / "chem" / "bbbp.yaml").targets
    ('p_np',)
    """
    path = Path(path)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with path.open(encoding="utf-8") as fh:
            raw = yaml.load(fh, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise ValueError(f"dataset card {path}: not valid YAML: {exc}") from exc
    return parse_card(raw, path=path)


#: Folder of the built-in cards: ``sciptm/data/cards`` -> ``../../datasets`` (a relative symlink).
CARDS_DIR = Path(__file__).resolve().parent / "cards"

#: All known dataset cards, keyed by name.
CARDS: Registry[Card] = Registry("dataset")


def add_card(card: Card | str | Path) -> Card:
    """Register a card (a :class:`Card` or a YAML path) so :func:`sciptm.datasets.load` finds it."""
    if not isinstance(card, Card):
        card = read_card(card)
    return CARDS.add(card.name, card)


def _scan(directory: Path) -> None:
    for path in sorted(directory.glob("*/*.yaml")):
        add_card(read_card(path))


_scan(CARDS_DIR)
