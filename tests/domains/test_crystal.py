"""Crystal domain: setting-invariant symmetry tokens, composition tokens, features, encoder."""
from __future__ import annotations

import gzip
import json
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from pymatgen.core import Composition, DummySpecies, Lattice, Structure
from pymatgen.core.operations import SymmOp
from pymatgen.io.vasp import Poscar

from sciptm.domains import get_domain
from sciptm.domains.crystal import CrystalDomain, composition_from_text, default_vocab
from sciptm.domains.crystal.symmetry import wyckoff_multiplicities
from sciptm.errors import InvalidInputError, SkippedInputWarning
from sciptm.features import FEATURES
from sciptm.domains.crystal.features import composition_features, feature_names

# rows of matbench_phonons used below; all crystal systems appear
# (cubic, hexagonal, tetragonal, orthorhombic, monoclinic, trigonal)
PHONON_ROWS = [0, 1, 2, 3, 5, 8, 19, 23, 29, 39, 43, 51]
PROTOTYPES = ["AB_cF8_225_a_b", "AB3C_cP5_221_a_c_b", "A2BC4_cF56_227_d_a_e", "AB_hP4_186_b_b",
              "A2B_tP6_136_f_a", "AB3C_oP20_62_c_cd_a", "AB_hP6_154_a_b"]


@pytest.fixture(scope="module")
def phonons(mirror: Path) -> list[Structure]:
    path = mirror / "materials" / "matbench" / "matbench_phonons.json.gz"
    if not path.is_file():
        pytest.skip(f"{path} not in the data mirror")
    with gzip.open(path, "rt") as fh:
        rows = json.load(fh)["data"]
    return [Structure.from_dict(rows[i][0]) for i in PHONON_ROWS]


@pytest.fixture(scope="module")
def prototypes() -> dict[str, Structure]:
    path = resources.files("pymatgen.analysis.prototypes").joinpath("aflow_prototypes.json.gz")
    with path.open("rb") as fh, gzip.open(fh, "rt") as text:
        entries = json.load(text)
    found = {e["tags"]["aflow"]: Structure.from_dict(e["snl"]) for e in entries if e["tags"]["aflow"] in PROTOTYPES}
    assert sorted(found) == sorted(PROTOTYPES)
    return found


@pytest.fixture(scope="module")
def domain() -> CrystalDomain:
    return CrystalDomain()


def rocksalt(a: float = 5.64) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def perovskite(a: float = 3.905) -> Structure:
    return Structure.from_spacegroup("Pm-3m", Lattice.cubic(a), ["Sr", "Ti", "O"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]])


def resettings(s: Structure, rng: np.random.Generator) -> dict[str, Structure]:
    """The same crystal written differently: supercell, origin shift, site order, rotation, all four."""
    shifted = s.copy()
    shifted.translate_sites(list(range(len(s))), rng.random(3), frac_coords=True, to_unit_cell=True)
    perm = rng.permutation(len(s))
    permuted = Structure(s.lattice, [s.species[i] for i in perm], s.frac_coords[perm])
    rotated = s.copy()
    rotated.apply_operation(SymmOp.from_axis_angle_and_translation([1, 2, 3], 37.0))
    combo = shifted * [[1, 1, 0], [0, 1, 0], [0, 0, 2]]
    perm = rng.permutation(len(combo))
    combo = Structure(combo.lattice, [combo.species[i] for i in perm], combo.frac_coords[perm])
    combo.apply_operation(SymmOp.from_axis_angle_and_translation([0, 1, 1], -71.0))
    return {"supercell": s * [2, 1, 1], "origin shift": shifted, "permutation": permuted,
            "rotation": rotated, "all four": combo}


# ---------------------------------------------------------------------------------------- tokens
def test_golden_rocksalt_and_perovskite(domain: CrystalDomain) -> None:
    assert domain.to_text(rocksalt()) == "SG_225 a_5.6 Na 4a Cl 4b"
    # orbits sorted by Z; the origin is the one giving the lowest-Z orbit (O) the smallest
    # coordinates, which puts Ti (not Sr) at the origin: O 3d, Ti 1a, Sr 1b
    assert domain.to_text(perovskite()) == "SG_221 a_3.9 O 3d Ti 1a Sr 1b"
    # Ti-centred and Sr-centred descriptions of the same crystal give the same text
    shifted = perovskite()
    shifted.translate_sites(list(range(5)), [0.5, 0.5, 0.5])
    assert domain.to_text(shifted) == "SG_221 a_3.9 O 3d Ti 1a Sr 1b"
    # free Wyckoff parameters are written as coordinate bins; in polar groups the origin along the
    # polar axis is put on an atom (wurtzite: O at z = 0, Zn at z = u = 0.382 -> bin 18 of 48)
    wurtzite = Structure.from_spacegroup("P6_3mc", Lattice.hexagonal(3.25, 5.21), ["Zn", "O"],
                                         [[1 / 3, 2 / 3, 0.0], [1 / 3, 2 / 3, 0.382]])
    assert domain.to_text(wurtzite) == "SG_186 a_3.2 c_5.2 O 2b z_0 Zn 2b z_18"


@pytest.mark.parametrize("seed", [0, 1])
def test_invariant_to_cell_setting_on_real_structures(domain, phonons, prototypes, seed) -> None:
    rng = np.random.default_rng(seed)
    for s in [*phonons, *prototypes.values(), rocksalt(), perovskite()]:
        ref = domain.to_text(s)
        for how, other in resettings(s, rng).items():
            assert CrystalDomain().to_text(other) == ref, f"{s.composition.reduced_formula}: {how}"


def test_tokens_follow_aflow_prototype_labels(domain, prototypes) -> None:
    """Space group and Wyckoff multiplicities agree with the AFLOW label (e.g. AB_cF8_225_a_b)."""
    table = wyckoff_multiplicities()
    for label, s in prototypes.items():
        parts = label.split("_")
        number = int(parts[2])
        letters = [m.group(2) for part in parts[3:] for m in re.finditer(r"(\d*)([a-zA-Z])", part)
                   for _ in range(int(m.group(1) or 1))]
        tokens = domain.to_text(s).split()
        assert tokens[0] == f"SG_{number}", label
        ours = sorted(int(t[:-1]) for t in tokens if re.fullmatch(r"\d+[a-zA-Z]", t))
        assert ours == sorted(table[number][x] for x in letters), label


def test_strain_changes_tokens_where_physics_changes(domain) -> None:
    cubic = rocksalt()
    tetragonal = cubic.copy()
    tetragonal.apply_strain([0.0, 0.0, 0.10])  # c/a = 1.10: Fm-3m -> I4/mmm
    text = domain.to_text(tetragonal)
    assert text != domain.to_text(cubic)
    assert text.split()[0] == "SG_139"
    expanded = cubic.copy()
    expanded.apply_strain(0.05)  # isotropic: same symmetry, only the lattice token moves
    a, b = domain.to_text(cubic).split(), domain.to_text(expanded).split()
    assert [i for i, (x, y) in enumerate(zip(a, b)) if x != y] == [1]
    assert b[1] == "a_5.9"
    # a displaced atom lowers the symmetry of a perovskite (ferroelectric-like distortion)
    polar = perovskite()
    polar.translate_sites([1], [0, 0, 0.06])
    assert domain.to_text(polar).split()[0] == "SG_99"


def test_deterministic_and_in_vocabulary(domain, phonons) -> None:
    texts = [domain.to_text(s) for s in phonons]
    assert texts == [CrystalDomain().to_text(s) for s in phonons]
    tok = domain.build_tokenizer()
    assert list(tok.get_vocab()) and len(tok) == len(default_vocab()) == len(set(default_vocab()))
    ids = tok(texts)["input_ids"]
    assert all(tok.unk_token_id not in row for row in ids)
    assert all(row[0] == tok.cls_token_id and row[-1] == tok.sep_token_id for row in ids)
    assert max(len(r) for r in ids) < tok.model_max_length
    assert list(default_vocab()) == CrystalDomain().build_tokenizer().convert_ids_to_tokens(list(range(len(tok))))


def test_input_forms_give_the_same_text(domain, phonons, tmp_path) -> None:
    s = phonons[4]
    ref = domain.to_text(s)
    cif = s.to(fmt="cif")
    poscar = Poscar(s).get_str()
    (tmp_path / "x.cif").write_text(cif)
    (tmp_path / "POSCAR").write_text(poscar)
    fresh = CrystalDomain(cache_size=0)
    for form in (s.as_dict(), cif, poscar, str(tmp_path / "x.cif"), tmp_path / "POSCAR"):
        assert fresh.to_text(form) == ref
    assert get_domain({"name": "crystal", "symprec": 0.1}).to_text(s) == ref


def test_bad_inputs_raise_with_reasons(domain) -> None:
    overlapping = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.05, 0, 0]])
    dummy = Structure(Lattice.cubic(4.0), [DummySpecies("X"), "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    disordered = Structure(Lattice.cubic(4.0), [{"Na": 0.5, "K": 0.5}, "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    empty = Structure(Lattice.cubic(4.0), [], [])
    cases = [
        ("data_broken\n_cell_length_a 4.0\nloop_\n_atom_site_label\n", "could not parse CIF"),
        (overlapping, "overlapping sites"),
        (dummy, "unknown element"),
        (disordered, "disordered"),
        (empty, "no sites"),
        ("Fe2O3", "kind='composition'"),
        (None, "missing structure"),
    ]
    for item, reason in cases:
        with pytest.raises(ValueError, match=reason.replace("(", r"\(")):
            domain.to_text(item)
    items = [rocksalt(), overlapping, perovskite()]
    with pytest.raises(InvalidInputError) as info:
        domain.prepare(items)
    assert [r.index for r in info.value.records] == [1]
    assert "0.200 Å apart" in info.value.records[0].reason
    with pytest.warns(SkippedInputWarning):
        prepared = domain.prepare(items, errors="skip")
    assert prepared.valid.tolist() == [True, False, True]
    with pytest.raises(ValueError, match="unknown element 'Xx'"):
        CrystalDomain(kind="composition").to_text("Xx2O3")
    with pytest.raises(ValueError, match="kind must be"):
        CrystalDomain(kind="graph")


def test_to_texts_reports_every_bad_row_and_caches(phonons) -> None:
    dom = CrystalDomain()
    cifs = [s.to(fmt="cif") for s in phonons[:4]]
    assert dom.to_texts(cifs) == [dom.to_text(s) for s in phonons[:4]]
    assert ("s", cifs[0]) in dom._cache
    with pytest.raises(InvalidInputError) as info:
        dom.to_texts([cifs[0], "nonsense\ntext", cifs[1], ""])
    assert [r.index for r in info.value.records] == [1, 3]


# ----------------------------------------------------------------------------------- composition
def test_composition_tokens() -> None:
    dom = CrystalDomain(kind="composition")
    assert dom.to_text("Fe2O3") == "O n_3 Fe n_2"
    assert dom.to_text(Composition("Fe4O6")) == "O n_3 Fe n_2"
    assert dom.to_text({"Fe": 2, "O": 3}) == "O n_3 Fe n_2"
    assert dom.to_text(rocksalt()) == dom.to_text("NaCl") == "Na n_1 Cl n_1"
    steel = dom.to_text("Fe0.62Ni0.3C0.08")
    assert steel == "C pct_8 Fe pct_62 Ni pct_30"
    assert composition_from_text(steel).almost_equals(Composition("Fe0.62Ni0.3C0.08"), rtol=0.01)
    assert dom.build_tokenizer().model_max_length == 128


def test_composition_recovered_from_structure_text(domain, phonons) -> None:
    for s in phonons:
        comp = composition_from_text(domain.to_text(s))
        assert comp.reduced_formula == s.composition.reduced_formula


def test_composition_view_augmentation_matches_composition_kind(domain, phonons) -> None:
    """Pretraining's composition view of a structure text is exactly what kind="composition" writes."""
    comp = CrystalDomain(kind="composition")
    rng = np.random.default_rng(0)
    for s in phonons:
        text = domain.to_text(s)
        assert domain.augment(text, rng) == comp.to_text(s.composition)
        assert comp.is_token_text(domain.augment(text, rng))
    assert domain.with_kind("composition").to_config() == comp.to_config()


# -------------------------------------------------------------------------------------- features
def test_magpie_features(domain, phonons) -> None:
    names = feature_names()
    X = composition_features(["NaCl", "Fe2O3", Composition("Fe0.62Ni0.3C0.08"), rocksalt()])
    assert X.shape == (4, len(names)) == (4, 106) and np.isfinite(X).all()
    col = {n: i for i, n in enumerate(names)}
    assert X[0, col["mean_Number"]] == 14.0 and X[0, col["range_Number"]] == 6.0
    assert np.allclose(X[0], X[3])  # a structure's composition gives the same features
    assert X[1, col["mean_Number"]] == pytest.approx((2 * 26 + 3 * 8) / 5)
    assert X[0, col["stoich_0norm"]] == 2 and X[0, col["stoich_2norm"]] == pytest.approx(np.sqrt(0.5))
    # the registered featurizer reads domain texts of either kind
    texts = [domain.to_text(s) for s in phonons]
    F = FEATURES["magpie"](texts)
    assert FEATURES["magpie"].domain == "crystal"
    assert np.allclose(F, composition_features([s.composition for s in phonons]))
    comp_texts = CrystalDomain(kind="composition").to_texts([s.composition for s in phonons])
    assert np.allclose(FEATURES["magpie"](comp_texts), F)
    with pytest.raises(ValueError, match="row 1.*unknown element"):
        composition_features(["NaCl", "Qq3"])


# --------------------------------------------------------------------------------------- encoder
def test_encoder_round_trip(phonons, tmp_path) -> None:
    import sciptm
    from transformers import AutoModel

    enc = sciptm.Encoder.from_config(domain="crystal", size="tiny", seed=0)
    assert enc.model.config.model_type == "roberta"
    assert enc.tokenizer.model_max_length == 512
    X = enc.embed(phonons[:5])
    assert X.shape == (5, enc.hidden_size) and np.isfinite(X).all()
    assert enc.count_unknown(enc.prepare(phonons[:5]).texts) == 0
    enc.save_pretrained(tmp_path / "enc")
    again = sciptm.Encoder.from_pretrained(tmp_path / "enc")
    assert again.domain.name == "crystal" and again.domain.settings == enc.domain.settings
    np.testing.assert_allclose(again.embed(phonons[:5]), X, atol=1e-5)
    assert AutoModel.from_pretrained(tmp_path / "enc").config.vocab_size == len(default_vocab())
    comp = sciptm.Encoder.from_config(domain={"name": "crystal", "kind": "composition"}, size="tiny")
    assert comp.embed(["Fe2O3", "NaCl", phonons[0]]).shape == (3, comp.hidden_size)


def test_parallel_to_texts_matches_serial(phonons) -> None:
    items = [s.to(fmt="cif") for s in phonons] * 6  # 72 rows: above the parallel threshold
    serial = CrystalDomain(cache_size=0).to_texts(items)
    parallel = CrystalDomain().to_texts(items, n_jobs=2)
    assert parallel == serial
