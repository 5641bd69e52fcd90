"""Jupyter display: token views of molecules, sequences and crystals; results and report HTML."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from Bio.Seq import Seq
from pymatgen.core import Lattice, Structure
from rdkit import Chem

import sciptm
from sciptm.domains.view import TokenView, token_kind
from sciptm.reports.notebook import ReportFiles
from sciptm.domains import get_domain
from sciptm.errors import InvalidInputError


def test_smiles_token_view_matches_the_tokenizer() -> None:
    dom = get_domain("smiles")
    view = sciptm.show_tokens("OC(=O)c1ccccc1", domain="smiles")
    tok = dom.build_tokenizer()
    text = dom.to_text("OC(=O)c1ccccc1")
    assert view.text == text
    assert view.ids == tok(text)["input_ids"] and view.tokens == tok.convert_ids_to_tokens(view.ids)
    frame = view.to_frame()
    assert list(frame.columns) == ["position", "token", "id", "kind"] and len(frame) == len(view)
    kinds = dict(zip(frame["token"], frame["kind"]))
    assert kinds["[CLS]"] == "special" and kinds["("] == "branch" and kinds["="] == "bond" and kinds["1"] == "ring"
    assert view.n_unknown == 0
    html = view._repr_html_()
    assert html.count('class="sciptm-token ') == len(view) and "no unknown tokens" in html
    assert repr(view).startswith(f"TokenView(smiles, {len(view)} tokens, 0 unknown): [CLS]")


def test_unknown_tokens_are_counted_and_highlighted() -> None:
    # plutonium is not in the default SMILES vocabulary
    dom = get_domain("smiles")
    view = dom.token_view("[Pu]")
    assert view.text == "[Pu]" and view.n_unknown == 1 and view.tokens == ["[CLS]", "[UNK]", "[SEP]"]
    assert view.ids[1] == dom.build_tokenizer().unk_token_id
    assert view.to_frame().set_index("token").loc["[UNK]", "kind"] == "unknown"
    html = view._repr_html_()
    assert "1 unknown" in html and "sciptm-unknown" in html and "#dc2626" in html


def test_rdkit_mol_and_encoder_tokenizer() -> None:
    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny")
    view = sciptm.show_tokens(Chem.MolFromSmiles("c1ccncc1"), domain=enc)
    assert view.text == "c1ccncc1" and view.ids == enc.tokenizer(view.text)["input_ids"]


def test_protein_token_view() -> None:
    view = sciptm.show_tokens(Seq("MKTAYIAKD"), domain="protein")
    assert view.tokens == ["<cls>", *"MKTAYIAKD", "<eos>"]
    kinds = view.kinds
    assert kinds[1:4] == ["hydrophobic", "positive", "polar"] and kinds[-2] == "negative" and kinds[0] == "special"


def test_crystal_token_view_of_a_real_structure() -> None:
    rocksalt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    view = sciptm.show_tokens(rocksalt, domain="crystal")
    assert view.text == "SG_225 a_5.6 Na 4a Cl 4b"
    frame = view.to_frame()
    assert frame["kind"].tolist() == ["special", "space group", "lattice", "element", "wyckoff", "element",
                                      "wyckoff", "special"]
    comp = sciptm.show_tokens(rocksalt, domain={"name": "crystal", "kind": "composition"})
    assert comp.text == "Na n_1 Cl n_1" and comp.kinds[1:3] == ["element", "amount"]


def test_invalid_item_raises_with_the_reason() -> None:
    with pytest.raises(InvalidInputError, match="C1CC"):
        sciptm.show_tokens("C1CC", domain="smiles")


def test_token_kind_defaults() -> None:
    assert token_kind("x_12", "crystal") == "coordinate" and token_kind("pct_30", "crystal") == "amount"
    assert token_kind("[nH]", "smiles") == "bracket atom" and token_kind("X", "protein") == "nonstandard"
    assert token_kind("foo", "other") == "token"
    assert isinstance(sciptm.show_tokens("CCO"), TokenView)


# --------------------------------------------------------------------------- results and reports

def _results(tmp_path: Path) -> Path:
    """A tiny, self-consistent results folder written by the real runner (mean model, ESOL subset)."""
    from sciptm.datasets import load

    df = load("esol").df.head(60)
    csv = tmp_path / "esol60.csv"
    df.to_csv(csv, index=False)
    from sciptm.benchmarks import run

    out = tmp_path / "bench"
    run("chem", tasks=[str(csv)], models=["mean", "ecfp-rf"], seeds=[0, 1], split="random", out=out,
        input="smiles", targets=["measured log solubility in mols per litre"], task_type="regression",
        model_options={"ecfp-rf": {"n_estimators": 10, "n_jobs": 1}}, progress=False, report=False)
    return out


def test_results_html_and_report_files(mirror: Path, tmp_path: Path) -> None:
    from sciptm.reports import BenchmarkResults, build_report

    out = _results(tmp_path)
    res = BenchmarkResults(out)
    html = res._repr_html_()
    assert "chem: 1 task(s) x 2 model(s), up to 2 seed(s)" in html
    assert html.count("<b>") == 1                      # the best model of the one task, in bold
    summary = res.summary
    for mean in summary["mean"]:
        assert f"{mean:.4g}" in html                   # the folded summary DataFrame
    best = summary.loc[summary["mean"].idxmin(), "model"]
    assert best in html and "random split" in html
    assert "BenchmarkResults(path=" in repr(res)

    # a failure recorded in results.json is shown in red
    raw = json.loads((out / "results.json").read_text())
    raw["failures"] = [{"task": "esol60", "model": "tiny", "seed": 0, "error": "boom"}]
    (out / "results.json").write_text(json.dumps(raw))
    assert "1 failures: esol60/tiny/seed0" in BenchmarkResults(out)._repr_html_()

    paths = build_report(out)
    assert isinstance(paths, ReportFiles) and isinstance(paths, dict)
    assert paths["html"].is_file() and set(paths) == {"markdown", "html", "figures"}
    view = paths._repr_html_()
    assert "report.html" in view and "esol60_parity.png" in view


def test_frame_html_formats_floats() -> None:
    from sciptm.reports.notebook import frame_html

    html = frame_html(pd.DataFrame({"a": [np.pi, np.nan]}), caption="x < y")
    assert "3.142" in html and "–" in html and "x &lt; y" in html
