"""Interpretability: token -> atom / residue / site mapping on real inputs, integrated gradients that
follow the predict path, and attributions of a model trained on a nitro-group label that land on the
nitro group's atoms."""
from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from rdkit import Chem
from sklearn.metrics import roc_auc_score

import sciptm
from sciptm import interpret
from sciptm.domains.smiles import SmilesDomain
from sciptm.interpret.sanity import fit_substructure_model, substructure_task

TINY = {"layers": 2, "hidden": 64, "heads": 4, "ffn": 128}
NITRO = "[N+](=O)[O-]"
# aromatic, charged bracket atoms, Cl/Br, two-digit ring closures, stereo, [nH], isotopes, explicit H,
# salts, wildcard: each written as given and as RDKit canonical SMILES
MOLECULES = [
    "c1ccccc1[N+](=O)[O-]", "CC(=O)Oc1ccccc1C(=O)O", "Clc1ccc(Br)cc1", "C[C@@H](N)C(=O)O",
    "F/C=C/Cl", "c1cc[nH]c1", "[2H]C([2H])([2H])O", "[H]C([H])([H])[H]", "C[N+](C)(C)C.[Cl-]",
    "C1CC2CCC3CCC4CCC5CCC6CCC7CCC8CCC9CCC%10CCC%11CC1C2C3C4C5C6C7C8C9C%10%11",
    "O=C([O-])c1ccccc1.[Na+]", "*c1ccccc1", "B(O)(O)c1ccccc1", "[Cu+2].[O-]S(=O)(=O)[O-]",
    "C[S@@](=O)c1ccccc1", "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O",
]


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _canonical_texts(chem_dir: Path, names: list[str]) -> list[str]:
    import sciptm.datasets as sd

    dom = SmilesDomain()
    prepared = dom.prepare(pd.concat([sd.load(n).inputs for n in names], ignore_index=True), errors="skip")
    return sorted(set(prepared.texts))


@pytest.fixture(scope="module")
def bbbp_texts(chem_dir: Path) -> list[str]:
    with pytest.warns(sciptm.errors.SkippedInputWarning):  # BBBP has 11 SMILES RDKit rejects
        return _canonical_texts(chem_dir, ["bbbp"])


def _check_atom_order(text: str) -> None:
    """Atom token ``i`` of ``text`` describes RDKit atom ``i`` of the molecule parsed from ``text``."""
    mol = interpret.smiles_mol(text)
    spans = interpret.smiles_atom_spans(text)
    assert len(spans) == mol.GetNumAtoms()
    for i, (s, e) in enumerate(spans):
        tok, atom = text[s:e], mol.GetAtomWithIdx(i)
        if tok.startswith("["):
            ref = Chem.MolFromSmiles(tok, sanitize=False).GetAtomWithIdx(0)
            assert (atom.GetSymbol(), atom.GetFormalCharge(), atom.GetIsotope(), atom.GetNumExplicitHs()) == \
                (ref.GetSymbol(), ref.GetFormalCharge(), ref.GetIsotope(), ref.GetNumExplicitHs()), (text, i, tok)
            assert atom.GetIsAromatic() == ref.GetIsAromatic(), (text, i, tok)
        else:
            assert atom.GetSymbol() == (tok if tok == "*" else tok[0].upper() + tok[1:]), (text, i, tok)
            assert atom.GetIsAromatic() == tok.islower(), (text, i, tok)
    # RDKit agrees: tag the token at span i with atom-map number i + 1 and parse again; the tagged atom
    # is RDKit atom i and every bond joins the same atoms
    tagged = text
    for i, (s, e) in reversed(list(enumerate(spans))):
        tok = text[s:e]
        body = tok[1:-1] if tok.startswith("[") else tok
        tagged = f"{tagged[:s]}[{body}:{i + 1}]{tagged[e:]}"
    ref = Chem.MolFromSmiles(tagged, sanitize=False)
    assert [atom.GetAtomMapNum() for atom in ref.GetAtoms()] == list(range(1, mol.GetNumAtoms() + 1))
    bonds = {frozenset((b.GetBeginAtomIdx(), b.GetEndAtomIdx())) for b in mol.GetBonds()}
    assert bonds == {frozenset((b.GetBeginAtomIdx(), b.GetEndAtomIdx())) for b in ref.GetBonds()}


@pytest.mark.parametrize("smiles", MOLECULES)
def test_atom_tokens_follow_rdkit_atom_order(smiles: str) -> None:
    _check_atom_order(smiles)
    _check_atom_order(SmilesDomain().to_text(smiles))


def test_atom_order_on_real_molecules(bbbp_texts: list[str]) -> None:
    rng = np.random.default_rng(0)
    for i in rng.choice(len(bbbp_texts), 300, replace=False):
        _check_atom_order(bbbp_texts[i])


@pytest.fixture(scope="module")
def regressor() -> sciptm.PropertyPredictor:
    """A tiny regression model with rdkit2d side-features (held fixed by integrated gradients)."""
    enc = sciptm.Encoder.from_config(domain="smiles", size=TINY, seed=0)
    model = sciptm.PropertyPredictor(enc, task="regression", features="rdkit2d", epochs=3, head_hidden=32, seed=0)
    train = ["CCO", "CCCCO", "c1ccccc1O", "Clc1ccccc1", "CC(=O)O", "CCN(CC)CC", "OCC(O)CO", "c1ccncc1"]
    return model.fit(train, [-0.2, -1.1, 0.1, -2.4, 0.6, 0.3, 1.0, 0.4])


def test_integrated_gradients_follow_the_predict_path(regressor) -> None:
    smiles = ["CC(=O)Oc1ccccc1C(=O)O", "Clc1ccc(Br)cc1", "C[C@@H](N)C(=O)O", "O=[N+]([O-])c1ccccc1"]
    atts = interpret.attribute(regressor, smiles, steps=32)
    assert [a.input for a in atts] == smiles
    np.testing.assert_allclose([a.prediction for a in atts], regressor.predict(smiles), rtol=1e-4, atol=1e-4)
    scale = np.abs([a.output - a.baseline_output for a in atts]).max()
    assert max(abs(a.delta) for a in atts) < 0.02 * scale + 1e-4  # completeness
    for a in atts:
        assert a.special[0] and a.special[-1] and a.tokens[0] == "[CLS]" and a.tokens[-1] == "[SEP]"
        assert np.all(a.scores[a.special] == 0)  # special tokens keep their embedding on the path
        assert "".join(t for t, sp in zip(a.tokens, a.special) if not sp) == a.text
        frame = a.to_frame()
        assert list(frame.columns) == ["position", "token", "start", "end", "special", "score"]
        assert len(frame) == len(a.tokens) and a._repr_html_().count("<span") == len(a.tokens)
    # a second baseline gives another, equally complete decomposition
    zeros = interpret.attribute(regressor, smiles[:1], baseline="zeros", steps=32)[0]
    assert abs(zeros.delta) < 0.02 * abs(zeros.output - zeros.baseline_output) + 1e-4


def test_multiclass_and_multitask_targets() -> None:
    train = ["CCO", "CCCCO", "c1ccccc1O", "Clc1ccccc1", "CC(=O)O", "CCN(CC)CC", "OCC(O)CO", "c1ccncc1", "CCCl"]
    enc = sciptm.Encoder.from_config(domain="smiles", size=TINY, seed=0)
    multi = sciptm.PropertyPredictor(enc, task="multiclass", epochs=2, head_hidden=16).fit(train, [0, 1, 2] * 3)
    smiles = ["CCOc1ccccc1", "CCBr"]
    proba, labels = multi.predict_proba(smiles), multi.predict(smiles)
    for a, p, lab in zip(interpret.attribute(multi, smiles, steps=32), proba, labels):
        assert a.target == lab and np.isclose(a.prediction, p.max(), atol=1e-5)  # the predicted class by default
        assert abs(a.delta) < 0.02 * abs(a.output - a.baseline_output) + 1e-4
    fixed = interpret.attribute(multi, smiles, target=2, steps=8)
    assert [a.target for a in fixed] == [2.0, 2.0] and np.allclose([a.prediction for a in fixed], proba[:, 2], atol=1e-5)
    y = pd.DataFrame({"logp": np.linspace(-1, 2, 9), "tpsa": np.linspace(20, 80, 9)})
    two = sciptm.PropertyPredictor(enc, task="multitask-regression", epochs=1, head_hidden=16).fit(train, y)
    with pytest.raises(ValueError, match="pass target"):
        interpret.attribute(two, "CCO")
    a = interpret.attribute(two, "CCO", target="tpsa", steps=32)[0]
    assert a.target == "tpsa" and np.isclose(a.prediction, two.predict(["CCO"])[0, 1], atol=1e-4)


def test_token_atoms_and_atom_scores(regressor) -> None:
    a = interpret.attribute(regressor, "Clc1ccc(Br)cc1C(=O)[O-]", steps=8)[0]
    mol = interpret.smiles_mol(a.text)
    atoms = interpret.token_atoms(a)
    for tok, atom, sp in zip(a.tokens, atoms, a.special):
        if sp or not interpret.is_atom_token(tok):
            assert atom is None  # [CLS]/[SEP], ring digits, bonds and branches carry no atom
        else:
            assert mol.GetAtomWithIdx(atom).GetSymbol() == Chem.MolFromSmiles(tok, sanitize=False).GetAtomWithIdx(0).GetSymbol()
    assert sorted(x for x in atoms if x is not None) == list(range(mol.GetNumAtoms()))
    per_atom = interpret.atom_scores(a)
    assert per_atom.shape == (mol.GetNumAtoms(),)
    assert np.isclose(per_atom.sum(), sum(s for s, x in zip(a.scores, atoms) if x is not None))
    with pytest.raises(ValueError, match="needs a 'protein'"):
        interpret.residue_scores(a)


def test_attention_rollout_and_errors(regressor) -> None:
    atts = interpret.attribute(regressor, ["CCO", "c1ccccc1Cl"], method="attention_rollout")
    for a in atts:
        assert np.all(a.scores >= 0) and np.isclose(a.scores.sum(), 1.0, atol=1e-4)  # mean pooling of a rollout
    assert regressor.encoder_.model.config._attn_implementation != "eager"  # restored afterwards
    enc = sciptm.Encoder.from_config(domain="smiles", size=TINY, seed=0)
    assert len(interpret.attribute(enc, "CCO", method="attention_rollout")[0].scores) == 5
    with pytest.raises(TypeError, match="bare Encoder"):
        interpret.attribute(enc, "CCO")
    with pytest.raises(RuntimeError, match="not fitted"):
        interpret.attribute(sciptm.PropertyPredictor(enc), "CCO")
    with pytest.raises(ValueError, match="method"):
        interpret.attribute(regressor, "CCO", method="saliency")
    with pytest.raises(sciptm.errors.InvalidInputError):
        interpret.attribute(regressor, ["CCO", "C1CC"])
    with pytest.warns(sciptm.errors.SkippedInputWarning):
        assert len(interpret.attribute(regressor, ["CCO", "C1CC"], errors="skip", steps=4)) == 1


def test_draw_atom_attributions_png_and_svg(regressor, tmp_path: Path) -> None:
    a = interpret.attribute(regressor, "CC(=O)Oc1ccccc1C(=O)O", steps=8)[0]
    png = interpret.draw_atom_attributions(a, path=tmp_path / "m.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "m.png").read_bytes() == png
    svg = interpret.draw_atom_attributions(a.text, interpret.atom_scores(a), path=tmp_path / "m.svg", fmt="svg")
    assert "<svg" in svg and (tmp_path / "m.svg").read_text() == svg
    with pytest.raises(ValueError, match="atom scores"):
        interpret.draw_atom_attributions(a.text, [1.0, 2.0])


# ---------------------------------------------------------------------- the substructure test
def test_attributions_concentrate_on_the_substructure_that_sets_the_label(chem_dir: Path) -> None:
    with pytest.warns(sciptm.errors.SkippedInputWarning):
        X, y = substructure_task(_canonical_texts(chem_dir, ["esol", "bbbp", "lipo"]), NITRO)
    assert 250 <= len(X) <= 600 and y.mean() == 0.5
    n_test = 60
    model = fit_substructure_model(X[n_test:], y[n_test:], epochs=12, seed=0)
    X_test, y_test = X[:n_test], y[:n_test]
    assert roc_auc_score(y_test, model.predict_proba(X_test)) > 0.95  # the model learned the label

    positives = [x for x, t in zip(X_test, y_test) if t == 1]
    atts = interpret.attribute(model, positives, steps=32)
    assert np.median([abs(a.delta) for a in atts]) < 0.05
    share = np.array([interpret.substructure_share(a, NITRO) for a in atts])
    mass, frac = share[:, 0].mean(), share[:, 1].mean()
    assert mass / frac > 1.5, (mass, frac)

    # controls: the same scores on randomly relabelled atoms, and an untrained model of the same shape
    rng = np.random.default_rng(1)
    shuffled = []
    for a in atts:
        scores = np.abs(interpret.atom_scores(a))
        atoms = interpret.substructure_atoms(a.text, NITRO)
        shuffled.append(rng.permutation(scores)[atoms].sum() / scores.sum())
    untrained = fit_substructure_model(X[n_test:n_test + 16], y[n_test:n_test + 16], epochs=1, seed=1)
    untrained_mass = np.mean([interpret.substructure_share(a, NITRO)[0]
                              for a in interpret.attribute(untrained, positives, steps=16)])
    assert mass > 1.5 * np.mean(shuffled) and mass > 1.5 * untrained_mass, (mass, np.mean(shuffled), untrained_mass)


# ---------------------------------------------------------------------- proteins
GRB2_OFFSET = 158  # the METL file holds GRB2 residues 159-214


def test_residue_scores_and_heat_maps(mirror: Path, tmp_path: Path) -> None:
    from sciptm.domains.protein.mutations import infer_wild_type

    path = mirror / "protein" / "dms" / "GRB2_HUMAN_Faure_2021.csv.gz"
    if not path.is_file():
        pytest.skip(f"{path} not in the data mirror")
    dms = pd.read_csv(path)
    wt = infer_wild_type(dms["mutant"], dms["mutated_sequence"], offset=GRB2_OFFSET)
    singles = dms[dms["num_mutations"] == 1].sample(48, random_state=0)
    enc = sciptm.Encoder.from_config(domain="protein", size=TINY, seed=0)
    model = sciptm.PropertyPredictor(enc, task="regression", epochs=1, head_hidden=32, seed=0)
    model.fit(singles["mutated_sequence"], singles["DMS_score"])

    a = interpret.attribute(model, wt, steps=16)[0]
    assert a.tokens[0] == "<cls>" and a.tokens[-1] == "<eos>" and len(a.tokens) == len(wt) + 2
    res = interpret.residue_scores(a)
    assert res["position"].tolist() == list(range(1, len(wt) + 1)) and "".join(res["residue"]) == wt
    assert np.isclose(res["score"].sum(), a.scores.sum())
    fig = interpret.plot_residue_heatmap(a, path=tmp_path / "wt.png", title="GRB2 SH3")
    assert (tmp_path / "wt.png").stat().st_size > 1000 and fig.axes[0].get_title() == "GRB2 SH3"

    # the measured DMS scores as a mutations x position matrix
    single = dms[dms["num_mutations"] == 1]
    matrix = pd.DataFrame({"aa": single["mutant"].str[-1], "pos": single["mutant"].str[1:-1].astype(int) - GRB2_OFFSET,
                           "score": single["DMS_score"]}).pivot(index="aa", columns="pos", values="score")
    assert matrix.shape[0] == 20 and set(matrix.columns) <= set(range(1, len(wt) + 1))
    interpret.plot_residue_heatmap(matrix, path=tmp_path / "dms.png")
    assert (tmp_path / "dms.png").stat().st_size > 1000

    rollout = interpret.attribute(model, wt, method="attention_rollout")[0]  # ESM attention too
    assert np.isclose(rollout.scores.sum(), 1.0, atol=1e-4)


# ---------------------------------------------------------------------- crystals
def test_site_table_on_real_structures(mirror: Path) -> None:
    from pymatgen.core import Element, Structure

    path = mirror / "materials" / "matbench" / "matbench_phonons.json.gz"
    if not path.is_file():
        pytest.skip(f"{path} not in the data mirror")
    with gzip.open(path, "rt") as fh:
        rows = json.load(fh)["data"][:12]
    structures = [Structure.from_dict(r[0]) for r in rows]
    enc = sciptm.Encoder.from_config(domain="crystal", size=TINY, seed=0)
    model = sciptm.PropertyPredictor(enc, task="regression", epochs=1, head_hidden=32, seed=0)
    model.fit(structures, [r[1] for r in rows])

    atts = interpret.attribute(model, structures[:4], steps=32)
    for s, a in zip(structures, atts):
        table = interpret.site_table(a, structure=s)
        sites = table[table["part"] == "site"]
        orbits = enc.domain.canonical(s).orbits
        assert table["part"].iloc[0] == "space_group" and table["tokens"].iloc[0].startswith("SG_")
        assert len(sites) == len(orbits)
        assert sites["multiplicity"].tolist() == [o.multiplicity for o in orbits]
        assert sites["element"].tolist() == [Element.from_Z(o.z).symbol for o in orbits]
        assert np.isclose(sites["n_input_sites"].sum(), len(s))
        assert np.isclose(table["score"].sum(), a.scores[~a.special].sum())
        assert abs(table["score"].sum() - (a.output - a.baseline_output)) < 0.02 * abs(a.output - a.baseline_output) + 1e-3
        assert np.isclose(table["share"].sum(), 1.0)
        assert " ".join(table["tokens"]) == a.text
