"""Length-bucketed pretraining batches: deterministic per step, every item once per epoch, little padding."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sciptm
from sciptm.pretraining.collate import Collator
from sciptm.pretraining.corpus import TextCorpus
from sciptm.pretraining.stream import StepBatches, fixed_batches


@pytest.fixture(scope="module")
def setup(chem_dir, tmp_path_factory):
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
    texts = enc.prepare(pd.read_csv(chem_dir / "delaney-processed.csv")["smiles"]).texts
    folder = tmp_path_factory.mktemp("corpus")
    sizes = np.array([len(t.encode()) for t in texts])
    (folder / "texts.txt").write_bytes("".join(texts).encode())
    ends = np.cumsum(sizes)
    corpus = TextCorpus(folder / "texts.txt", np.stack([ends - sizes, ends], axis=1))
    return enc, corpus, Collator(enc.tokenizer, 128)


def _padding(stream: StepBatches, steps: range) -> float:
    real = padded = 0
    for s in steps:
        mask = stream[s]["attention_mask"]
        real += int(mask.sum())
        padded += mask.numel()
    return 1 - real / padded


def test_buckets_are_a_pure_function_of_seed_and_step(setup):
    enc, corpus, collator = setup
    a = StepBatches(corpus, collator, 16, seed=3, bucket_pool=10)
    b = StepBatches(corpus, collator, 16, seed=3, bucket_pool=10)
    steps = [5, 0, 77, 5, 140, 71]  # out of order, as DataLoader workers and resumed runs read them
    for s in steps:
        assert np.array_equal(a.indices(s), b.indices(s))
        assert np.array_equal(a[s]["input_ids"], b[s]["input_ids"])
    # one epoch visits every item at most once, all but the dropped remainder
    epoch = np.concatenate([a.indices(s) for s in range(a.steps_per_epoch)])
    assert len(np.unique(epoch)) == len(epoch) == a.steps_per_epoch * 16
    second = np.concatenate([a.indices(a.steps_per_epoch + s) for s in range(a.steps_per_epoch)])
    assert not np.array_equal(np.sort(epoch), epoch) and not np.array_equal(epoch, second)
    assert not np.array_equal(a.indices(0), StepBatches(corpus, collator, 16, seed=4, bucket_pool=10).indices(0))


def test_buckets_cut_padding(setup):
    enc, corpus, collator = setup
    plain = StepBatches(corpus, collator, 32, seed=0, bucket_pool=1)
    bucketed = StepBatches(corpus, collator, 32, seed=0, bucket_pool=50)
    steps = range(plain.steps_per_epoch)
    assert _padding(plain, steps) > 0.3
    assert _padding(bucketed, steps) < 0.1
    sorted_val = fixed_batches(corpus, collator, 200, 32, 0, by_length=True)
    plain_val = fixed_batches(corpus, collator, 200, 32, 0)
    assert sum(b["attention_mask"].numel() for b in sorted_val) < sum(b["attention_mask"].numel() for b in plain_val)
    assert sum(int((b["labels"] != -100).sum()) for b in sorted_val) > 0
