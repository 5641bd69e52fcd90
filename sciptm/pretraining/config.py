"""The pretraining configuration: one dataclass whose fields are the CLI flags.

A config is built from keyword arguments, from a YAML mapping (:meth:`PretrainConfig.from_dict`)
or from a YAML file (:meth:`PretrainConfig.from_yaml`); unknown keys are an error, never ignored.

Example
-------
>>> cfg = PretrainConfig.from_dict({"domain": "smiles", "train_source": "chem/moses_test.csv.gz", "max_steps": 10})
>>> cfg.objective
'mlm'
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_PRECISIONS = ("no", "bf16", "fp16")
_CROPS = ("random", "head")
_SCHEDULES = ("linear", "cosine", "constant")
#: objective names of ``objectives`` (``mlm`` and ``clm`` both mean the architecture's language-model loss)
OBJECTIVES = ("mlm", "clm", "descriptors", "formation_energy")


def _check_value_types(cls: type, values: dict[str, Any]) -> None:
    """A :class:`~sciptm.errors.ConfigError` naming the key for a value of the wrong type (``max_steps: many``);
    ints are accepted for floats, whole floats for ints."""
    import types
    import typing

    from sciptm.errors import ConfigError

    hints = typing.get_type_hints(cls)
    for key, value in values.items():
        hint = hints.get(key)
        args = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
        if value is None and type(None) in args:
            continue
        simple = [a for a in args if a in (int, float, str, bool)]
        if not simple or len(simple) != len([a for a in args if a is not type(None)]):
            continue  # lists, literals, paths...: checked where they are used
        ok = any(
            (kind is bool and isinstance(value, bool))
            or (kind is int and not isinstance(value, bool) and (isinstance(value, int)
                                                                 or (isinstance(value, float) and value.is_integer())))
            or (kind is float and not isinstance(value, bool) and isinstance(value, (int, float)))
            or (kind is str and isinstance(value, str))
            for kind in simple)
        if not ok:
            want = " or ".join(k.__name__ for k in simple) + (" or null" if type(None) in args else "")
            raise ConfigError(f"pretraining config key {key!r}: expected {want}, got {value!r}")


@dataclass
class PretrainConfig:
    """Every setting of a pretraining run.

    Data
    ----
    domain: domain name (``smiles``, ``protein``, ``crystal``) or a domain config mapping.
    train_source: the corpus file (``.csv[.gz]`` of SMILES, ``.fasta[.gz]``, ``.tar.gz`` of CIFs); a relative
        path that does not exist is looked up under ``mirror``.
    val_source: a separate validation file; ``None`` holds out ``val_fraction`` of the train corpus by key hash.
    mirror: root of the data mirror (default: ``$SCIPTM_DATA_MIRROR``).
    max_items / max_val_items: read at most this many raw items (first ones in file order); ``None`` = all.
    val_size: validation items scored at each evaluation (a fixed, seeded subset).
    block_benchmarks: drop corpus items that match benchmark molecules / sequences / structures.
    benchmark_files: the benchmark files whose items are blocked (relative to the mirror); ``None`` = every
        benchmark file of the domain found in the mirror (see :mod:`sciptm.pretraining.keys`).
    blocked_ids_file: extra corpus record ids to drop (protein: ``benchmark_overlap_hits.tsv``).
    cache_dir: where prepared corpora are cached (default ``$SCIPTM_CACHE_DIR/pretraining`` or
        ``~/.cache/sciptm/pretraining``); workers: processes for corpus preparation.

    Model and objective
    -------------------
    size / architecture: passed to :meth:`sciptm.Encoder.from_config`; ``architecture="gpt2"`` trains a causal LM.
    max_length: tokens per sequence, specials included (``None``: the domain's default).
    attention_dropout: dropout on the attention probabilities (``None``: the architecture's, 0.1). ``0`` lets
        PyTorch's fused attention kernel run (faster on CPU, see ``benchmarks/speed``) and is recorded in the
        exported encoder's config.
    crop: ``random`` (a random window of longer sequences, re-drawn every time) or ``head`` (truncate).
    mlm_probability / mask_ratio / random_ratio: dynamic masking (15%, 80% [MASK], 10% random, 10% kept).
    augment: SMILES enumeration (``domain.augment``) with probability ``augment_probability``.

    Objectives (multi-objective pretraining)
    ----------------------------------------
    objectives: ``{name: weight}`` of the summed loss; ``None`` = ``{"mlm": 1.0}`` (the language-model
        objective alone). Names: ``mlm`` (masked LM; ``clm`` for causal architectures, weight may be ``0``),
        ``descriptors`` (standardized descriptors of each item regressed from the mean-pooled embedding:
        RDKit 2D descriptors for SMILES, Magpie composition features for crystals) and
        ``formation_energy`` (crystals: the MP formation energy of ``label_file``). See
        :mod:`sciptm.pretraining.targets`.
    target_clip: standardized targets are clipped to ``[-target_clip, target_clip]`` (outliers).
    label_file: ``id,value`` CSV (no header) of per-record labels for ``formation_energy``; a path, a path
        under the mirror, or ``<archive>::<member>`` inside the corpus tar; ``None`` = the ``id_prop.csv``
        member of the corpus archive.
    head_hidden: width of the regression head's hidden layer (``None``: the encoder's hidden size; ``0``: a
        linear head, so the pooled embedding encodes the targets linearly, as frozen linear probes read it).
    init_from: start from these weights (a saved encoder folder or a shipped name such as
        ``sciptm/smiles-small``) instead of a fresh ``size``/``architecture`` model (continued pretraining).
    block_label_splits: crystals with ``formation_energy``: also drop the corpus items in the test split of
        ``mp_formation_energy`` for these seeds (the benchmark built from the same corpus and labels).

    Optimisation
    ------------
    max_steps, batch_size, lr, weight_decay, warmup_steps, schedule, grad_clip, seed.
    precision: ``no`` | ``bf16`` | ``fp16`` (accelerate mixed precision); device: ``auto`` | ``cpu`` | ``cuda``.
    num_workers: DataLoader worker processes building batches.
    cpu_threads: torch threads on CPU (``0``: torch's default; ``1`` is fastest on a busy machine).
    bucket_pool: batches per length-sorting pool (shuffled length buckets, little padding); ``1`` = plain
        shuffled batches (runs whose config.yaml predates the key resume with ``1``).

    Bookkeeping
    -----------
    eval_every, checkpoint_every, keep_checkpoints, log_every, max_minutes (stop early, still exporting).
    """

    domain: str | dict[str, Any] = "smiles"
    train_source: str = "chem/moses_train.csv.gz"
    val_source: str | None = "chem/moses_test.csv.gz"
    mirror: str | None = None
    max_items: int | None = None
    max_val_items: int | None = 20000
    val_fraction: float = 0.02
    val_size: int = 2000
    block_benchmarks: bool = True
    benchmark_files: list[str] | None = None
    blocked_ids_file: str | None = None
    cache_dir: str | None = None
    workers: int = 0

    size: str | dict[str, int] = "small"
    architecture: str | None = None
    max_length: int | None = None
    attention_dropout: float | None = None
    crop: str = "random"
    mlm_probability: float = 0.15
    mask_ratio: float = 0.8
    random_ratio: float = 0.1
    augment: bool = False
    augment_probability: float = 0.5

    objectives: dict[str, float] | None = None
    target_clip: float = 5.0
    label_file: str | None = None
    head_hidden: int | None = None
    init_from: str | None = None
    block_label_splits: list[int] | None = None

    max_steps: int = 1000
    batch_size: int = 128
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup_steps: int = 100
    schedule: str = "linear"
    grad_clip: float = 1.0
    seed: int = 0
    precision: str = "no"
    device: str = "auto"
    num_workers: int = 0
    cpu_threads: int = 0
    bucket_pool: int = 50

    eval_every: int = 200
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    log_every: int = 20
    max_minutes: float | None = None

    def __post_init__(self) -> None:
        checks = [
            (self.precision in _PRECISIONS, f"precision must be one of {_PRECISIONS}, not {self.precision!r}"),
            (self.crop in _CROPS, f"crop must be one of {_CROPS}, not {self.crop!r}"),
            (self.schedule in _SCHEDULES, f"schedule must be one of {_SCHEDULES}, not {self.schedule!r}"),
            (self.device in ("auto", "cpu", "cuda"), f"device must be auto, cpu or cuda, not {self.device!r}"),
            (0.0 < self.mlm_probability < 1.0, f"mlm_probability must be in (0, 1), got {self.mlm_probability}"),
            (0.0 <= self.mask_ratio and 0.0 <= self.random_ratio and self.mask_ratio + self.random_ratio <= 1.0,
             f"mask_ratio + random_ratio must be within [0, 1], got {self.mask_ratio} + {self.random_ratio}"),
            (0.0 < self.val_fraction < 1.0, f"val_fraction must be in (0, 1), got {self.val_fraction}"),
            (self.max_steps >= 1, f"max_steps must be >= 1, got {self.max_steps}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.bucket_pool >= 1, f"bucket_pool must be >= 1, got {self.bucket_pool}"),
            (self.eval_every >= 1 and self.checkpoint_every >= 1 and self.log_every >= 1,
             "eval_every, checkpoint_every and log_every must be >= 1"),
            (self.keep_checkpoints >= 1, f"keep_checkpoints must be >= 1, got {self.keep_checkpoints}"),
            (self.max_length is None or self.max_length >= 4, f"max_length must be >= 4, got {self.max_length}"),
            (self.target_clip > 0, f"target_clip must be > 0, got {self.target_clip}"),
            (self.head_hidden is None or self.head_hidden >= 0, f"head_hidden must be >= 0, got {self.head_hidden}"),
            (self.attention_dropout is None or (not isinstance(self.attention_dropout, bool)
                                                and isinstance(self.attention_dropout, (int, float))
                                                and 0 <= self.attention_dropout < 1),
             f"attention_dropout must be None or in [0, 1), got {self.attention_dropout!r}"),
        ]
        from sciptm.errors import ConfigError

        if self.objectives is not None:
            if not isinstance(self.objectives, dict) or not self.objectives:
                raise ConfigError(f"objectives must be a mapping of objective name to weight, got {self.objectives!r}")
            unknown = sorted(set(self.objectives) - set(OBJECTIVES))
            if unknown:
                raise ConfigError(f"unknown objectives {unknown}; known: {list(OBJECTIVES)}")
            for name, weight in self.objectives.items():
                if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                    raise ConfigError(f"objective {name!r}: weight must be a number >= 0, got {weight!r}")
            if not any(float(w) > 0 for w in self.objectives.values()):
                raise ConfigError(f"objectives {self.objectives}: at least one weight must be > 0")
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    def objective_weights(self) -> dict[str, float]:
        """``{objective: weight}`` with the language-model objective named ``lm`` (``mlm``/``clm`` alike)."""
        raw = self.objectives if self.objectives is not None else {"mlm": 1.0}
        out = {("lm" if k in ("mlm", "clm") else k): float(v) for k, v in raw.items()}
        out.setdefault("lm", 0.0)
        return out

    def regression_objectives(self) -> list[str]:
        """The regression objectives with a weight > 0, in a fixed order."""
        weights = self.objective_weights()
        return [name for name in OBJECTIVES if name not in ("mlm", "clm") and weights.get(name, 0.0) > 0]

    @property
    def objective(self) -> str:
        """``clm`` for causal architectures (``gpt2``), else ``mlm``."""
        from sciptm.encoders import ARCHITECTURES

        name = self.architecture
        if name is None:
            return "mlm"
        return ARCHITECTURES.get(name).objective

    # ---------------------------------------------------------------- (de)serialization
    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PretrainConfig:
        """Build from a mapping (e.g. parsed YAML); unknown keys raise ``ValueError`` naming them."""
        from sciptm.errors import ConfigError

        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown pretraining config keys {unknown}; known keys: {sorted(known)}")
        _check_value_types(cls, values)
        return cls(**values)

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> PretrainConfig:
        """Read a YAML file; ``overrides`` (e.g. from CLI flags) replace its values."""
        data = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a YAML mapping of config keys, got {type(data).__name__}")
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    # ---------------------------------------------------------------- paths
    def mirror_root(self) -> Path | None:
        from sciptm import settings

        return Path(self.mirror) if self.mirror else settings.mirror_dir()

    def resolve(self, path: str | None) -> Path | None:
        """A data path: as given when it exists, else under the mirror; ``FileNotFoundError`` naming both."""
        if path is None:
            return None
        given = Path(path).expanduser()
        if given.exists():
            return given
        root = self.mirror_root()
        if root is not None and (root / path).exists():
            return root / path
        where = f" or under the mirror {root}" if root else " (no mirror set: pass mirror= or set SCIPTM_DATA_MIRROR)"
        raise FileNotFoundError(f"data file {path!r} not found as given{where}")

    def cache_root(self) -> Path:
        if self.cache_dir:
            return Path(self.cache_dir).expanduser()
        from sciptm import settings

        return settings.cache_root() / "pretraining"  # SCIPTM_CACHE (SCIPTM_CACHE_DIR: deprecated alias)
