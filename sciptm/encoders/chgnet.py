"""CHGNet (a published universal interatomic potential) as a crystal :class:`~sciptm.Encoder` backend.

CHGNet is a graph network, not a token model: a structure becomes a crystal graph (atoms, bonds within
5 Å, angles) and the network's *crystal feature* (the mean of the atom features after the last
convolution, 64 numbers) is the pooled embedding. The backend keeps sciptm's calls:

- :meth:`ChgnetEncoder.encode` / :meth:`~ChgnetEncoder.embed` take pymatgen ``Structure`` objects, structure
  dicts, CIF text or structure JSON; invalid structures are reported per row exactly as the crystal domain
  does (``errors="raise"`` / ``"skip"``);
- ``PropertyPredictor(ChgnetEncoder)`` fine-tunes the whole graph network with a task head (or, with
  ``freeze="encoder"``, trains the head on the frozen features): the "tokenizer" maps each structure text to
  one id whose crystal graph is built once and cached, and the model returns the crystal feature as a
  one-token hidden state.

Needs the optional extra ``pip install "sciptm[zoo]"`` (``chgnet==0.4.2`` with ``ase``, ``cython``,
``nvidia-ml-py3``); CHGNet 0.3.0 was trained on MPtrj (Materials Project relaxations), which overlap the
Materials Project structures behind Matbench: benchmark rows say so.

>>> enc = sciptm.Encoder.from_pretrained("chgnet/0.3.0")       # doctest: +SKIP
>>> enc.embed([structure]).shape                                # doctest: +SKIP
(1, 64)
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sciptm.domains.base import Domain, Errors, PreparedInputs
from sciptm.encoders.encoder import Encoder, EncoderOutput

logger = logging.getLogger(__name__)

PIP = "pip install --no-deps chgnet==0.4.2 ase nvidia-ml-py3   # or: pip install 'sciptm[zoo]'"


def _import_chgnet():
    try:
        from chgnet.model import CHGNet
    except ModuleNotFoundError as exc:
        from sciptm.encoders.zoo import ZooPackageMissingError

        raise ZooPackageMissingError(f"the CHGNet backend needs {exc.name!r}; install with: {PIP}") from None
    return CHGNet


class StructureDomain(Domain):
    """Crystal structures kept whole (for graph networks): the text is the structure's pymatgen JSON.

    Accepts ``Structure``, structure dicts, CIF text and structure JSON. A structure with no sites,
    overlapping atoms (closer than ``min_distance`` Å) or that pymatgen cannot read is invalid.
    ``name`` is ``crystal`` (it runs the crystal benchmarks); ``reads`` lists the crystal token domain.
    """

    name = "crystal"
    default_architecture = "chgnet"
    max_length = 1
    reads = ("crystal",)

    def __init__(self, min_distance: float = 0.5):
        super().__init__(kind="structure", backend="chgnet", min_distance=float(min_distance))
        self.min_distance = float(min_distance)

    def to_structure(self, item: Any):
        from pymatgen.core import Structure

        if isinstance(item, Structure):
            return item
        if isinstance(item, dict):
            return Structure.from_dict(item)
        if item is None or (isinstance(item, float) and np.isnan(item)):
            raise ValueError("missing structure (empty cell)")
        if isinstance(item, str):
            text = item.strip()
            if not text:
                raise ValueError("empty structure text")
            try:
                if text.startswith("{"):
                    return Structure.from_dict(json.loads(text))
                return Structure.from_str(text, fmt="cif")
            except Exception as exc:  # noqa: BLE001 (pymatgen raises many types on bad text; the message is the reason)
                raise ValueError(f"pymatgen could not read the structure: {str(exc)[:200]}") from None
        raise TypeError(f"expected a pymatgen Structure, a structure dict, CIF or JSON text, got {type(item).__name__}")

    def to_text(self, item: Any) -> str:
        s = self.to_structure(item)
        if len(s) == 0:
            raise ValueError("structure has no sites")
        if len(s) > 1:
            d = s.distance_matrix
            np.fill_diagonal(d, np.inf)
            if float(d.min()) < self.min_distance:
                raise ValueError(f"overlapping atoms: two sites {float(d.min()):.3f} Å apart (< {self.min_distance} Å)")
        return json.dumps(s.as_dict(), separators=(",", ":"))

    def build_tokenizer(self, vocab=None):
        return GraphTokenizer(GraphStore())

    def with_kind(self, kind: str) -> StructureDomain:
        if kind != "structure":
            raise ValueError("CHGNet reads structures only: it cannot read compositions (formula-only tasks)")
        return self


class GraphStore:
    """Structure text -> id -> CHGNet crystal graph (built once)."""

    def __init__(self):
        self.ids: dict[str, int] = {}
        self.texts: list[str] = []
        self.graphs: dict[int, Any] = {}

    def id_of(self, text: str) -> int:
        if text not in self.ids:
            self.ids[text] = len(self.texts)
            self.texts.append(text)
        return self.ids[text]

    def graph(self, idx: int, converter) -> Any:
        if idx not in self.graphs:
            from pymatgen.core import Structure

            s = Structure.from_dict(json.loads(self.texts[idx]))
            self.graphs[idx] = converter(s, graph_id=str(idx))
        return self.graphs[idx]


class GraphTokenizer:
    """The stand-in tokenizer: each structure text is one "token" whose id points into a :class:`GraphStore`."""

    pad_token_id = -1
    unk_token_id = -2
    model_max_length = 1

    def __init__(self, store: GraphStore):
        self.store = store

    def __call__(self, texts, return_tensors: str | None = None, **_: Any) -> dict[str, Any]:
        texts = [texts] if isinstance(texts, str) else list(texts)
        ids = [[self.store.id_of(t)] for t in texts]
        mask = [[1] for _ in texts]
        if return_tensors == "pt":
            return {"input_ids": torch.tensor(ids, dtype=torch.long), "attention_mask": torch.tensor(mask)}
        return {"input_ids": ids, "attention_mask": mask}

    def __len__(self) -> int:
        return len(self.store.texts)

    def save_pretrained(self, path: str | Path) -> None:  # the structures are the input; nothing to save
        return None


class _Output:
    def __init__(self, last_hidden_state: torch.Tensor):
        self.last_hidden_state = last_hidden_state


class _Config:
    model_type = "chgnet"

    def __init__(self, hidden_size: int):
        self.hidden_size = hidden_size


class ChgnetBackbone(nn.Module):
    """CHGNet behind the ``model(input_ids=..., attention_mask=...) -> .last_hidden_state`` call (B x 1 x 64)."""

    def __init__(self, chgnet: nn.Module, store: GraphStore):
        super().__init__()
        self.chgnet = chgnet
        self.store = store
        self.config = _Config(int(chgnet.atom_embedding.embedding.weight.shape[1]))

    @property
    def layers(self) -> nn.ModuleList:
        """CHGNet's atom-convolution blocks (what ``freeze="gradual"`` unfreezes from the top)."""
        return self.chgnet.atom_conv_layers

    def graphs(self, input_ids: torch.Tensor) -> list[Any]:
        return [self.store.graph(int(i), self.chgnet.graph_converter) for i in input_ids[:, 0].tolist()]

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_: Any) -> _Output:
        out = self.chgnet(self.graphs(input_ids), task="e", return_crystal_feas=True)
        return _Output(out["crystal_fea"].unsqueeze(1))


class ChgnetEncoder(Encoder):
    """CHGNet as a crystal encoder (see the module docstring). ``pooling`` is CHGNet's own (atom mean)."""

    def __init__(self, chgnet: nn.Module, domain: StructureDomain | None = None, name: str = "chgnet"):
        store = GraphStore()
        self.model = ChgnetBackbone(chgnet, store)
        self.lm_model = None
        self.tokenizer = GraphTokenizer(store)
        self.domain = domain or StructureDomain()
        self.pooling = "mean"
        self.zoo_name = name

    @classmethod
    def from_zoo(cls, entry, random_init: bool = False, seed: int | None = 0) -> ChgnetEncoder:
        import contextlib
        import io

        CHGNet = _import_chgnet()
        with contextlib.redirect_stdout(io.StringIO()):  # CHGNet prints its parameter count
            if random_init:
                if seed is not None:
                    torch.manual_seed(seed)
                model = CHGNet()
            else:
                state = torch.load(entry.path(), map_location="cpu", weights_only=True)
                model = CHGNet.from_dict(state.get("model", state))
        model.eval()
        return cls(model, name=entry.name)

    @property
    def chgnet(self) -> nn.Module:
        return self.model.chgnet

    def _write_meta(self) -> None:
        return None

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    def __repr__(self) -> str:
        return f"ChgnetEncoder({self.zoo_name!r}, params={self.n_parameters():,}, crystal feature {self.hidden_size})"

    def save_pretrained(self, path: str | Path, dtype: torch.dtype | None = None) -> Path:
        """Writes CHGNet's own checkpoint (``chgnet.pth.tar``, ``CHGNet.from_file`` reads it)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        torch.save({"model": self.chgnet.as_dict()}, path / "chgnet.pth.tar")
        return path

    def model_card(self) -> str:
        return f"# CHGNet crystal encoder ({self.n_parameters():,} parameters)\n"

    def count_unknown(self, texts: list[str]) -> int:
        return 0

    # ------------------------------------------------------------------ forward
    def _run(self, texts: list[str], atoms: bool = False) -> dict[str, Any]:
        ids = self.tokenizer(texts, return_tensors="pt")["input_ids"]
        return self.chgnet(self.model.graphs(ids), task="e", return_crystal_feas=True, return_atom_feas=atoms,
                           return_site_energies=False)

    def forward_texts(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.model(input_ids=self.tokenizer(texts, return_tensors="pt")["input_ids"]).last_hidden_state
        return hidden, torch.ones(hidden.shape[:2], dtype=torch.long)

    @torch.no_grad()
    def encode(self, items: Any, errors: Errors = "raise") -> EncoderOutput:
        """``last_hidden_state``: CHGNet's atom features (before the last convolution, ``return_atom_feas``),
        padded ``B x n_atoms x 64`` with ``attention_mask``; ``pooled``: the crystal features ``B x 64``."""
        prepared = self.prepare(items, errors)
        was = self.chgnet.training
        self.chgnet.eval()
        try:
            out = self._run(prepared.texts, atoms=True)
        finally:
            self.chgnet.train(was)
        atom = list(out["atom_fea"])
        hidden = nn.utils.rnn.pad_sequence(atom, batch_first=True)
        mask = torch.zeros(hidden.shape[:2], dtype=torch.long)
        for i, a in enumerate(atom):
            mask[i, : a.shape[0]] = 1
        return EncoderOutput(hidden, mask, out["crystal_fea"], prepared.valid, prepared.invalid)

    @torch.no_grad()
    def embed(self, items: Any, batch_size: int = 64, max_tokens: int = 16384, errors: Errors = "raise",
              progress: bool | None = None, long: str = "truncate") -> np.ndarray:
        """Crystal features ``N x 64`` (float32); invalid rows are NaN with ``errors="skip"``."""
        from sciptm.progress import progress_bar

        prepared = self.prepare(items, errors)
        out = np.full((prepared.n_total, self.hidden_size), np.nan, dtype=np.float32)
        rows = np.flatnonzero(prepared.valid)
        was = self.chgnet.training
        self.chgnet.eval()
        batch_size = max(1, min(batch_size, 64))
        starts = list(range(0, len(prepared.texts), batch_size))
        show = progress if progress is not None else len(prepared.texts) > 2000
        try:
            for s in progress_bar(starts, "CHGNet", show, total=len(starts)):
                chunk = prepared.texts[s:s + batch_size]
                out[rows[s:s + len(chunk)]] = self._run(chunk)["crystal_fea"].float().cpu().numpy()
                for i in range(s, s + len(chunk)):  # the graphs are not needed again by a probe
                    self.tokenizer.store.graphs.pop(self.tokenizer.store.ids[prepared.texts[i]], None)
        finally:
            self.chgnet.train(was)
        return out

    @torch.no_grad()
    def predict_energy(self, items: Any, errors: Errors = "raise") -> np.ndarray:
        """CHGNet's energy (eV/atom) per structure, as its ``predict_structure(...)["e"]``."""
        prepared = self.prepare(items, errors)
        self.chgnet.eval()
        out = np.full(prepared.n_total, np.nan)
        out[prepared.valid] = self._run(prepared.texts)["e"].cpu().numpy()
        return out

    def prepare(self, items: Any, errors: Errors = "raise") -> PreparedInputs:
        from pymatgen.core import Structure

        if isinstance(items, (Structure, dict)):
            items = [items]
        return self.domain.prepare(items, errors)


def count_parameters(path: Path) -> int:
    import contextlib
    import io

    CHGNet = _import_chgnet()
    state = torch.load(path, map_location="cpu", weights_only=True)
    with contextlib.redirect_stdout(io.StringIO()):
        model = CHGNet.from_dict(state["model"])
    return int(sum(p.numel() for p in model.parameters()))


__all__ = ["ChgnetBackbone", "ChgnetEncoder", "GraphTokenizer", "StructureDomain", "count_parameters"]
