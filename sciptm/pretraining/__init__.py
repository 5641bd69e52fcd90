"""Pretraining of sciptm encoders: masked LM for every domain, causal LM (``architecture="gpt2"``) as an option.

One code path: a domain tokenizer + a stock ``transformers`` architecture, a streamed, de-duplicated
and benchmark-filtered corpus (:mod:`~sciptm.pretraining.corpus`), dynamic masking
(:mod:`~sciptm.pretraining.collate`), a deterministic step-indexed data stream
(:mod:`~sciptm.pretraining.stream`), atomic checkpoints with exact resumption
(:mod:`~sciptm.pretraining.checkpoint`) and the loop itself (:mod:`~sciptm.pretraining.loop`).

Example
-------
>>> from sciptm.pretraining import PretrainConfig, pretrain
>>> cfg = PretrainConfig(domain="smiles", size="tiny", train_source="chem/moses_train.csv.gz",
...                      max_items=20000, max_steps=200)                 # doctest: +SKIP
>>> result = pretrain(cfg, "runs/smiles-demo")                          # doctest: +SKIP
>>> result.encoder_dir                                                    # doctest: +SKIP
PosixPath('runs/smiles-demo/encoder')

Command line: ``python -m sciptm.pretraining --config benchmarks/pretrain/smiles.yaml --out DIR [--resume]``.
"""
from sciptm.pretraining.collate import Collator, mask_tokens
from sciptm.pretraining.config import PretrainConfig
from sciptm.pretraining.corpus import PreparedCorpus, TextCorpus, prepare_corpus
from sciptm.pretraining.keys import KEYERS, CorpusKeyer, filter_against
from sciptm.pretraining.loop import PretrainResult, evaluate, pretrain
from sciptm.pretraining.sources import iter_records
from sciptm.pretraining.stream import StepBatches

__all__ = [
    "KEYERS", "Collator", "CorpusKeyer", "PreparedCorpus", "PretrainConfig", "PretrainResult", "StepBatches",
    "TextCorpus", "evaluate", "filter_against", "iter_records", "mask_tokens", "prepare_corpus", "pretrain",
]
