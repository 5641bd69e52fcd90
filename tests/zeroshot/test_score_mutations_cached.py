"""score_mutations fast path (#16): per-position log-probability tables, budget-sized batches of masked windows,
the last block's feed-forward only on the read positions and ESM's GELU as one kernel give the scores of the
plain computation (each variant's sites masked one by one, full logits). Real GRB2 variants, tiny models."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import sciptm
import sciptm.zeroshot.mutations as Z
from sciptm.domains.protein.mutations import infer_wild_type, parse_mutations

OFFSET = 158
TINY = {"layers": 2, "hidden": 64, "heads": 4, "ffn": 128}


@pytest.fixture(scope="module")
def grb2(mirror) -> tuple[str, list[str]]:
    df = pd.read_csv(mirror / "protein" / "dms" / "GRB2_HUMAN_Faure_2021.csv.gz")
    wt = infer_wild_type(df["mutant"], df["mutated_sequence"], offset=OFFSET)
    picked = df["mutant"].sample(60, random_state=0).tolist() + df["mutant"][:5].tolist()
    return wt, picked


def _plain_scores(enc, wt: str, mutants: list[str]) -> np.ndarray:
    """Each site of each variant masked in its own window, the whole LM run, log-softmax read at the site."""
    lm = enc.lm_model.eval()
    tok = enc.tokenizer
    ids = tok(wt)["input_ids"]
    shift = ids.index(tok.convert_tokens_to_ids(wt[0]))
    out = []
    with torch.inference_mode():
        for text in mutants:
            total = 0.0
            for m in parse_mutations(text):
                i = m.position - OFFSET - 1
                masked = list(ids)
                masked[shift + i] = tok.mask_token_id
                lp = torch.log_softmax(lm(input_ids=torch.tensor([masked])).logits[0, shift + i].float(), -1)
                total += float(lp[tok.convert_tokens_to_ids(m.mut)] - lp[tok.convert_tokens_to_ids(m.wt)])
            out.append(total)
    return np.asarray(out)


@pytest.mark.parametrize("architecture", ["esm", "roberta"])
def test_cached_scores_equal_the_plain_computation(grb2, architecture):
    wt, mutants = grb2
    enc = sciptm.Encoder.from_config(domain="protein", size=TINY, architecture=architecture, seed=0)
    got = Z.score_mutations(enc, wt, mutants, offset=OFFSET)["score"].to_numpy()
    with Z._fused_gelu(enc.lm_model):  # same GELU kernel on both sides: only caching/batching/the hook differ
        want = _plain_scores(enc, wt, mutants)
    assert np.abs(got - want).max() <= 1e-6
    assert np.abs(want).max() > 1e-3  # a real signal, not all zeros
    # batch sizes give the same table
    again = Z.score_mutations(enc, wt, mutants, offset=OFFSET, batch_size=5)["score"].to_numpy()
    assert np.abs(got - again).max() <= 1e-6


def test_fused_gelu_is_the_same_function_and_is_put_back(grb2):
    import transformers.models.esm.modeling_esm as esm

    wt, mutants = grb2
    enc = sciptm.Encoder.from_config(domain="protein", size=TINY, seed=0)
    original = esm.gelu
    with Z._fused_gelu(enc.lm_model):
        assert esm.gelu is torch.nn.functional.gelu
    assert esm.gelu is original
    plain = _plain_scores(enc, wt, mutants[:20])  # the module's four-op formula
    fast = Z.score_mutations(enc, wt, mutants[:20], offset=OFFSET)["score"].to_numpy()
    assert np.abs(plain - fast).max() <= 1e-5


def test_last_block_hook_only_applies_inside_the_block_and_reads_the_same_rows(grb2):
    wt, _ = grb2
    enc = sciptm.Encoder.from_config(domain="protein", size=TINY, seed=0)
    body = enc.lm_model.base_model.eval()
    ids = torch.tensor([enc.tokenizer(wt)["input_ids"]] * 3)
    rows, cols = torch.tensor([0, 2, 1]), torch.tensor([5, 9, 30])
    with torch.inference_mode():
        full = body(input_ids=ids).last_hidden_state
        with Z._last_block_at(body, rows, cols) as picked:
            part = body(input_ids=ids).last_hidden_state
        after = body(input_ids=ids).last_hidden_state
    assert picked and part.shape == (3, 1, full.shape[-1])
    assert torch.allclose(part[:, 0], full[rows, cols], atol=1e-6)
    assert torch.equal(after, full)  # the hook is gone


@pytest.mark.parametrize("position", ["rotary", "absolute"])
def test_lean_esm_pass_gives_the_models_own_numbers(grb2, position):
    """The lean ESM forward (fused q/k/v, no mask, last block's output and feed-forward only where read) gives
    bit for bit the model's own forward at the read positions, for masked windows and a wild-type tile."""
    wt, _ = grb2
    enc = sciptm.Encoder.from_config(domain="protein", size=TINY, seed=0)
    enc.lm_model.config.position_embedding_type = position
    lm = enc.lm_model.eval()
    if position == "absolute":  # the tiny config is rotary: give it learned positions (random, seeded)
        torch.manual_seed(0)
        lm.esm.embeddings.position_embedding_type = "absolute"
        lm.esm.embeddings.position_embeddings = torch.nn.Embedding(lm.config.max_position_embeddings,
                                                                   lm.config.hidden_size, padding_idx=1)
        lm.esm.position_embedding_type = "absolute"
        for layer in lm.esm.encoder.layer:
            layer.attention.self.position_embedding_type = "absolute"
    assert Z._lean_esm_ok(lm)
    ids = enc.tokenizer(wt)["input_ids"]
    masked = [list(ids) for _ in range(6)]
    for k, row in enumerate(masked):
        row[3 + 7 * k] = enc.tokenizer.mask_token_id
    rows = torch.tensor([0, 1, 2, 3, 4, 5, 6, 6])
    cols = torch.tensor([3, 10, 17, 24, 31, 38, 5, 40])
    batch = torch.tensor(masked + [ids])
    with torch.inference_mode(), Z._fused_gelu(lm):
        want = lm(input_ids=batch, attention_mask=torch.ones_like(batch)).logits[rows, cols]
        got = Z._esm_site_logits(lm, batch, rows, cols)
    assert torch.equal(got, want)
    lm.train()
    assert not Z._lean_esm_ok(lm)  # training mode (dropout) takes the model's own forward


@pytest.mark.parametrize("token_dropout", [True, False])
def test_distinct_first_block_rows_are_the_embedding_modules_rows(grb2, token_dropout):
    """Rows embedded once per distinct (token, masks in the sequence) equal EsmEmbeddings' own, bit for bit."""
    wt, _ = grb2
    enc = sciptm.Encoder.from_config(domain="protein", size=TINY, seed=0)
    esm = enc.lm_model.esm.eval()
    esm.embeddings.token_dropout = token_dropout
    ids = torch.tensor([enc.tokenizer(wt)["input_ids"]] * 4)
    ids[0, 5] = ids[1, 9] = ids[2, 9] = ids[2, 20] = enc.tokenizer.mask_token_id  # 1, 1, 2 and 0 masks
    with torch.inference_mode():
        want = esm.embeddings(input_ids=ids, attention_mask=torch.ones_like(ids))
        rows, inverse = Z._shared_first_block(esm, ids)
    assert len(rows) < ids.numel() // 2  # shared
    assert torch.equal(rows[inverse].view_as(want), want)
