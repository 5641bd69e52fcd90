"""Benchmark fields (chem, protein, materials): default tasks, models, split and protocol.

Register a new field with one :data:`FIELDS` entry.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sciptm.registry import Registry


@dataclass(frozen=True)
class Field:
    name: str
    domain: str
    tasks: tuple[str, ...]
    models: tuple[str, ...]
    split: str
    quick_tasks: tuple[str, ...]
    quick_models: tuple[str, ...]
    quick_options: dict = field(default_factory=dict)
    sizes: tuple[float, float, float] = (0.8, 0.1, 0.1)
    #: dataset-card ``input_kind`` -> domain config, for fields whose tasks take several input kinds
    #: (materials: formulas and structures); kinds not listed use ``domain`` with its defaults
    input_domains: dict = field(default_factory=dict)
    #: validate each dataset once per (data checksum, domain settings) and keep the texts on disk
    cache_texts: bool = False
    #: worker processes for that validation (domains with ``to_texts(items, n_jobs)``)
    prepare_jobs: int = 1
    #: task type -> headline metric of a user's CSV task in this field (cards name their own)
    metrics: dict = field(default_factory=dict)


#: the protein and materials fields register when their model modules are imported (on first lookup)
FIELDS: Registry[Field] = Registry("benchmark field", lazy={"protein": "sciptm.benchmarks.models.protein",
                                                             "materials": "sciptm.benchmarks.models.materials"})
FIELDS.add("chem", Field(
    name="chem", domain="smiles",
    tasks=("esol", "freesolv", "lipo", "bbbp", "bace", "clintox", "tox21", "sider", "hiv"),
    models=("mean", "ecfp-rf", "rdkit2d-rf", "tiny"), split="scaffold_balanced",
    # quick: the shipped pretrained encoder as a linear probe (embed once, ridge), fast on a laptop CPU
    quick_tasks=("esol", "bbbp"), quick_models=("mean", "ecfp-rf", "sciptm/smiles-small:probe"),
    quick_options={"epochs": 15, "patience": 5},
    cache_texts=True,  # RDKit validation of HIV's 41k SMILES takes ~30 s: once per data checksum
))
