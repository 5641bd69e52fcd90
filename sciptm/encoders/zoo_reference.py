"""Reference computations the zoo is checked against (parity tests, ``benchmarks/zoo/parity.py``).

Each function computes a published model's output *without* sciptm's loading path (the reference
implementation on the raw weight file), or a sanity figure of a masked LM:

- :func:`esm2_reference_states`: fair-esm's ``ESM2`` module with the weights of an HF ESM-2 checkpoint;
- :func:`rxnfp_reference_fingerprint`: rxnfp's own tokenizer (``SmilesTokenizer``) + ``BertModel`` CLS vector;
- :func:`masked_recovery`: masked tokens recovered by a masked LM (every ``k``-th token masked at once);
- :func:`pseudo_perplexity`: exp of minus the mean masked-marginal log-probability of the wild type.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: the README reaction of rxn4chemistry/rxnfp and the first five values of its printed fingerprint
RXNFP_README_REACTION = ("Nc1cccc2cnccc12.O=C(O)c1cc([N+](=O)[O-])c(Sc2c(Cl)cncc2Cl)s1>>"
                         "O=C(Nc1cccc2cnccc12)c1cc([N+](=O)[O-])c(Sc2c(Cl)cncc2Cl)s1")
RXNFP_README_VALUES = (-2.0174953937530518, 1.7602033615112305, -1.3323537111282349, -1.1095019578933716,
                       1.2254549264907837)
#: trastuzumab heavy-chain variable domain (VH)
TRASTUZUMAB_VH = ("EVQLVESGGGLVQPGGSLRLSCAASGFNIKDTYIHWVRQAPGKGLEWVARIYPTNGYTRYADSVKGRFTISADTSKNTAYLQMNSLRAEDTAVYYCSR"
                  "WGGDGFYAMDYWGQGTLVTVSS")

_ESM_MAP = [
    (r"^(esm\.)?embeddings\.word_embeddings\.", "embed_tokens."),
    (r"^(esm\.)?encoder\.emb_layer_norm_after\.", "emb_layer_norm_after."),
    # the checkpoint's stored rotary frequencies (they differ from a fresh computation by up to 7e-5)
    (r"^(esm\.)?encoder\.layer\.(\d+)\.attention\.self\.rotary_embeddings\.", r"layers.\2.self_attn.rot_emb."),
    (r"^(esm\.)?encoder\.layer\.(\d+)\.attention\.self\.query\.", r"layers.\2.self_attn.q_proj."),
    (r"^(esm\.)?encoder\.layer\.(\d+)\.attention\.self\.key\.", r"layers.\2.self_attn.k_proj."),
    (r"^(esm\.)?encoder\.layer\.(\d+)\.attention\.self\.value\.", r"layers.\2.self_attn.v_proj."),
    (r"^(esm\.)?encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"layers.\2.self_attn.out_proj."),
    (r"^(esm\.)?encoder\.layer\.(\d+)\.attention\.LayerNorm\.", r"layers.\2.self_attn_layer_norm."),
    (r"^(esm\.)?encoder\.layer\.(\d+)\.intermediate\.dense\.", r"layers.\2.fc1."),
    (r"^(esm\.)?encoder\.layer\.(\d+)\.output\.dense\.", r"layers.\2.fc2."),
    (r"^(esm\.)?encoder\.layer\.(\d+)\.LayerNorm\.", r"layers.\2.final_layer_norm."),
]


def esm2_reference_states(folder: str | Path, sequences: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Last hidden states of fair-esm's ``ESM2`` loaded with the HF checkpoint in ``folder`` (its weight file).

    Returns ``(B x T x d states, B x T mask)`` for fair-esm's own batch converter (``<cls> seq <eos>``, padded).
    """
    import json

    import esm

    folder = Path(folder)
    cfg = json.loads((folder / "config.json").read_text())
    sd = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    mapped: dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        for pattern, repl in _ESM_MAP:
            if re.match(pattern, key):
                mapped[re.sub(pattern, repl, key)] = value
                break
    alphabet = esm.Alphabet.from_architecture("ESM-1b")
    model = esm.model.esm2.ESM2(num_layers=cfg["num_hidden_layers"], embed_dim=cfg["hidden_size"],
                                attention_heads=cfg["num_attention_heads"], alphabet=alphabet,
                                token_dropout=cfg.get("token_dropout", True))
    own = model.state_dict()
    missing = [k for k in own if k not in mapped]
    wanted = [k for k in missing if not k.startswith(("lm_head", "contact_head"))]  # heads the encoder lacks
    unexpected = [k for k in mapped if k not in own]
    if wanted or unexpected:
        raise ValueError(f"fair-esm keys without weights {wanted[:5]}, mapped weights fair-esm lacks {unexpected[:5]}")
    model.load_state_dict({**{k: own[k] for k in missing}, **mapped})  # strict: every key accounted for above
    model.eval()
    _, _, tokens = alphabet.get_batch_converter()([(str(i), s) for i, s in enumerate(sequences)])
    with torch.no_grad():
        out = model(tokens, repr_layers=[cfg["num_hidden_layers"]])
    states = out["representations"][cfg["num_hidden_layers"]].numpy()
    return states, (tokens != alphabet.padding_idx).numpy()


def rxnfp_reference_fingerprint(folder: str | Path, reaction: str = RXNFP_README_REACTION) -> np.ndarray:
    """rxnfp's fingerprint computed with rxnfp's own tokenization code: its ``RegexTokenizer`` split, ids from the
    checkpoint's ``vocab.txt`` with ``[CLS]``/``[SEP]`` framing (what its ``SmilesTokenizer`` does; that class itself
    no longer tokenizes under transformers 5), ``BertModel`` CLS vector of the last hidden state."""
    from transformers import BertConfig, BertModel

    _stub_pkg_resources()
    from rxnfp.tokenization import RegexTokenizer

    folder = Path(folder)
    vocab = {t: i for i, t in enumerate((folder / "vocab.txt").read_text().splitlines())}
    tokens = ["[CLS]", *RegexTokenizer().tokenize(reaction), "[SEP]"]
    ids = torch.tensor([[vocab.get(t, vocab["[UNK]"]) for t in tokens]])
    model = BertModel.from_pretrained(folder, config=BertConfig.from_pretrained(folder)).eval()
    with torch.no_grad():
        return model(input_ids=ids).last_hidden_state[0, 0].numpy()


def _stub_pkg_resources() -> None:
    """rxnfp imports ``pkg_resources`` (gone from recent setuptools) only for ``resource_filename``."""
    import importlib.util
    import sys
    import types

    if "pkg_resources" in sys.modules or importlib.util.find_spec("pkg_resources") is not None:
        return
    stub = types.ModuleType("pkg_resources")

    def resource_filename(package: str, name: str) -> str:
        spec = importlib.util.find_spec(package)
        return str(Path(next(iter(spec.submodule_search_locations))) / name)

    stub.resource_filename = resource_filename  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = stub


def masked_recovery(encoder: Any, text: str, every: int = 3) -> tuple[int, int]:
    """Mask every ``every``-th content token of ``text`` at once; ``(recovered, masked)`` by the LM's arg-max
    over non-special tokens. ``encoder`` is a sciptm :class:`~sciptm.Encoder` with ``lm_model``."""
    tok = encoder.tokenizer
    ids = torch.tensor([tok(encoder.domain.to_text(text))["input_ids"]])
    special = set(tok.all_special_ids)
    content = [i for i in range(ids.shape[1]) if int(ids[0, i]) not in special]
    sites = content[every - 1::every]
    masked = ids.clone()
    masked[0, sites] = tok.mask_token_id
    lm = encoder.lm_model.eval()
    with torch.no_grad():
        logits = lm(input_ids=masked, attention_mask=torch.ones_like(masked)).logits[0].float()
    logits[:, sorted(special)] = -float("inf")
    pred = logits.argmax(-1)
    return int(sum(int(pred[s]) == int(ids[0, s]) for s in sites)), len(sites)


def pseudo_perplexity(encoder: Any, sequence: str) -> float:
    """``exp(-mean_i log p(x_i | x with i masked))`` over the residues (masked marginals, one pass per site)."""
    from sciptm.zeroshot import site_log_probs

    text = encoder.domain.to_text(sequence)
    lp = site_log_probs(encoder, text, list(range(len(text))), method="masked-marginal")
    ids = [encoder.tokenizer.convert_tokens_to_ids(c) for c in text]
    return float(np.exp(-np.mean(lp[np.arange(len(text)), ids])))


__all__ = ["RXNFP_README_REACTION", "RXNFP_README_VALUES", "TRASTUZUMAB_VH", "esm2_reference_states",
           "masked_recovery", "pseudo_perplexity", "rxnfp_reference_fingerprint"]
