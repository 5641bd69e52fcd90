"""SMILES adapter and tokenizer: golden ids, AutoTokenizer round trip, unknown tokens, standardization."""
from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem
from transformers import AutoTokenizer

from sciptm.domains import get_domain
from sciptm.domains.smiles import SmilesDomain, build_tokenizer, default_vocab, split_smiles, train_vocab
from sciptm.errors import InvalidInputError, SkippedInputWarning

# Golden ids of the shipped default vocabulary: a change to the vocabulary breaks saved models.
GOLDEN = {
    "CCO": [2, 6, 6, 10, 3],
    "c1ccccc1O": [2, 5, 9, 5, 5, 5, 5, 5, 9, 10, 3],
    "C[C@@H](Cl)Br": [2, 6, 27, 7, 19, 8, 25, 3],
    "O=C([O-])c1cc[nH]c1": [2, 10, 12, 6, 7, 28, 8, 5, 9, 5, 5, 23, 5, 9, 3],
    "C%10CC%10": [2, 6, 81, 6, 6, 81, 3],
}


@pytest.mark.parametrize("smiles", sorted(GOLDEN))
def test_golden_token_ids(smiles: str) -> None:
    tok = build_tokenizer()
    assert tok(smiles)["input_ids"] == GOLDEN[smiles]


def test_regex_split_keeps_bracket_atoms_two_letter_atoms_and_ring_bonds() -> None:
    assert split_smiles("Br[C@@H]1CC%12Cl") == ["Br", "[C@@H]", "1", "C", "C", "%12", "Cl"]
    tok = build_tokenizer()
    pieces = tok.convert_ids_to_tokens(tok("Br[C@@H]1CC%12Cl", add_special_tokens=False)["input_ids"])
    assert pieces == ["Br", "[C@@H]", "1", "C", "C", "%12", "Cl"]


def test_tokenizer_save_and_autotokenizer_load_give_same_ids(tmp_path, mirror) -> None:
    import pandas as pd

    smiles = pd.read_csv(mirror / "chem" / "BBBP.csv")["smiles"].head(200).tolist()
    tok = build_tokenizer()
    tok.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded(smiles)["input_ids"] == tok(smiles)["input_ids"]
    assert loaded.mask_token == "[MASK]" and loaded.pad_token_id == 0


def test_unknown_tokens_map_to_unk_and_are_counted() -> None:
    import sciptm

    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny")
    ids = enc.tokenizer("[Xe]C[Rn]")["input_ids"]
    assert ids.count(enc.tokenizer.unk_token_id) == 2
    assert enc.count_unknown(["[Xe]C[Rn]", "CCO"]) == 2


def test_train_vocab_adds_unseen_tokens_most_frequent_first() -> None:
    vocab = train_vocab(["[Xe]C[Xe]", "[Rn]C"])
    base = default_vocab()
    assert vocab[: len(base)] == base
    assert vocab[len(base):] == ["[Xe]", "[Rn]"]
    tok = build_tokenizer(vocab)
    assert tok.unk_token_id not in tok("[Xe]C[Rn]")["input_ids"]


def test_canonicalization_and_standardization_flags() -> None:
    assert SmilesDomain().to_text("OCC") == "CCO"
    assert SmilesDomain(canonicalize=False).to_text(" OCC ") == "OCC"
    assert SmilesDomain(largest_fragment=True).to_text("CC(=O)[O-].[Na+]") == "CC(=O)[O-]"
    assert SmilesDomain(largest_fragment=True, neutralize=True).to_text("CC(=O)[O-].[Na+]") == "CC(=O)O"
    assert SmilesDomain(strip_stereo=True).to_text("C[C@H](N)O") == "CC(N)O"
    assert SmilesDomain().to_text(Chem.MolFromSmiles("OCC")) == "CCO"
    # settings travel in the config dict
    dom = get_domain({"name": "smiles", "largest_fragment": True})
    assert dom.settings["largest_fragment"] is True


def test_randomized_smiles_is_the_same_molecule_and_seeded() -> None:
    dom = SmilesDomain()
    smi = "CC(=O)Oc1ccccc1C(=O)O"
    variants = {dom.augment(smi, np.random.default_rng(s)) for s in range(10)}
    assert len(variants) > 3
    assert {Chem.CanonSmiles(v) for v in variants} == {Chem.CanonSmiles(smi)}
    assert dom.augment(smi, np.random.default_rng(1)) == dom.augment(smi, np.random.default_rng(1))


def test_invalid_smiles_raise_with_row_value_and_rdkit_reason(mirror) -> None:
    import pandas as pd

    smiles = pd.read_csv(mirror / "chem" / "BBBP.csv")["smiles"]
    with pytest.raises(InvalidInputError) as info:
        SmilesDomain().prepare(smiles.iloc[55:65])
    first = info.value.records[0]
    assert first.index == 59  # the pandas index label of the first bad row (MANIFEST: rows 59, 61)
    assert "valence" in first.reason.lower()
    assert "row 59" in str(info.value)
    assert [r.index for r in info.value.records] == [59, 61]


def test_skip_policy_drops_and_reports() -> None:
    with pytest.warns(SkippedInputWarning, match="row 1"):
        prepared = SmilesDomain().prepare(["CCO", "C1CC", "", "c1ccccc1"], errors="skip")
    assert prepared.texts == ["CCO", "c1ccccc1"]
    assert prepared.valid.tolist() == [True, False, False, True]
    assert [r.index for r in prepared.invalid] == [1, 2]
    assert "empty" in prepared.invalid[1].reason
