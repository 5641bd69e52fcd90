"""Fine-tuning fast paths (#16): ids tokenized once and padded per batch, fused/foreach AdamW, bucketed batches
that cover every row once per epoch and change from epoch to epoch. Real ESOL SMILES, a tiny encoder."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import sciptm
from sciptm.training.data import Collator, TrainData
from sciptm.training.trainer import BucketSampler, adamw


@pytest.fixture(scope="module")
def esol(chem_dir) -> pd.DataFrame:
    return pd.read_csv(chem_dir / "delaney-processed.csv")


@pytest.fixture(scope="module")
def tiny() -> sciptm.Encoder:
    return sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)


def test_pretokenized_batches_equal_tokenizing_each_batch(tiny, esol):
    texts = tiny.prepare(esol["smiles"].tolist()[:200]).texts
    data = TrainData(texts, esol["measured log solubility in mols per litre"].to_numpy(float)[:200, None])
    collate = Collator(tiny.tokenizer, data)
    rows = [5, 17, 180, 3, 99, 42]
    got = collate(rows)
    want = tiny.tokenizer([texts[i] for i in rows], padding=True, truncation=True, return_tensors="pt",
                          return_token_type_ids=False)
    assert torch.equal(got["input_ids"], want["input_ids"])
    assert torch.equal(got["attention_mask"], want["attention_mask"])
    assert torch.equal(got["y"], torch.as_tensor(data.y[rows], dtype=torch.float32))
    assert got["rows"].tolist() == rows


def test_bucket_sampler_covers_each_row_once_per_epoch_and_reshuffles(tiny, esol):
    texts = tiny.prepare(esol["smiles"].tolist()).texts
    collate = Collator(tiny.tokenizer, TrainData(texts))
    lengths = [len(i) for i in collate.ids]
    sampler = BucketSampler(lengths, 64, seed=3, pool=50, drop_last=False)
    epochs = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        flat = sorted(i for b in batches for i in b)
        assert flat == list(range(len(texts)))  # every row exactly once
        assert len(batches) == len(sampler)
        epochs.append([tuple(b) for b in batches])
        # bucketed: each batch spans a narrow range of lengths
        spread = np.median([max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches])
        assert spread <= 3
    assert epochs[0] != epochs[1] != epochs[2]  # stochastic: batch contents and order change with the epoch
    assert {frozenset(b) for b in epochs[0]} != {frozenset(b) for b in epochs[1]}
    sampler.set_epoch(1)
    assert [tuple(b) for b in sampler] == epochs[1]  # and reproducible from (seed, epoch)


def test_adamw_fast_kernel_matches_the_reference_update():
    torch.manual_seed(0)
    ref = torch.nn.Linear(16, 4)
    fast = torch.nn.Linear(16, 4)
    fast.load_state_dict(ref.state_dict())
    opt_ref = torch.optim.AdamW([{"params": ref.parameters(), "lr": 1e-2}], weight_decay=0.01, foreach=False)
    opt_fast = adamw([{"params": list(fast.parameters()), "lr": 1e-2}], 0.01)
    assert opt_fast.defaults.get("fused") or opt_fast.defaults.get("foreach")
    x = torch.randn(32, 16)
    for _ in range(5):
        for model, opt in ((ref, opt_ref), (fast, opt_fast)):
            opt.zero_grad(set_to_none=True)
            model(x).pow(2).mean().backward()
            opt.step()
    for a, b in zip(ref.parameters(), fast.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
