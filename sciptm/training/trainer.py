"""Fine-tuning loop (library class; the CLI calls it, never the reverse).

Built on ``accelerate`` so the same code runs on CPU, one GPU or several (launch with
``accelerate launch``). AdamW with linear warmup + decay, gradient clipping, early
stopping on a validation metric with best-checkpoint restore, encoder freezing
(``none``, ``encoder``, ``gradual`` unfreezing) and seeded, reproducible runs.
"""
from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from torch import nn
from torch.utils.data import DataLoader
from transformers import get_linear_schedule_with_warmup

from sciptm.encoders.batching import POOL_BATCHES, bucketed_batches, default_max_tokens, token_budget_batches
from sciptm.encoders.device import resolve_precision
from sciptm.memory import long_lived_frozen
from sciptm.progress import epoch_status, progress_bar, set_status
from sciptm.settings import flag
from sciptm.training.data import Collator, TrainData
from sciptm.training.fast_dropout import use_fast_dropout
from sciptm.training.fused_training import fused_forward, predict_packed

FREEZE_MODES = ("none", "encoder", "gradual")

#: functions called after every epoch of every :meth:`Trainer.fit` (see :func:`epoch_callback`)
_EPOCH_CALLBACKS: ContextVar[tuple[Callable[[dict[str, Any]], None], ...]] = ContextVar("sciptm_epoch_callbacks",
                                                                                     default=())


@contextmanager
def epoch_callback(fn: Callable[[dict[str, Any]], None]) -> Iterator[None]:
    """Call ``fn(row)`` after each epoch of any fine-tuning run inside the ``with`` block, however deep it is
    started (a :class:`~sciptm.PropertyPredictor`, a benchmark model). ``row`` is the epoch's history row
    (``epoch``, ``train_loss``, ``valid_score`` when there is validation data) plus ``greater_is_better``.
    An exception raised by ``fn`` stops training (an optuna ``TrialPruned``, for instance).

    >>> seen = []
    >>> with epoch_callback(seen.append):
    ...     pass  # PropertyPredictor(...).fit(...) here
    """
    token = _EPOCH_CALLBACKS.set((*_EPOCH_CALLBACKS.get(), fn))
    try:
        yield
    finally:
        _EPOCH_CALLBACKS.reset(token)


@dataclass
class TrainerConfig:
    """Fine-tuning hyperparameters (every field is also a CLI flag / YAML key)."""

    epochs: int = 50
    batch_size: int = 32
    lr: float = 3e-4
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    max_grad_norm: float = 1.0
    patience: int = 15
    freeze: str = "none"
    augment: bool = False
    seed: int = 0
    device: str = "auto"
    mixed_precision: str = "no"
    progress: bool = False
    #: batches per length-sorting pool (shuffled buckets, see :func:`~sciptm.encoders.batching.bucketed_batches`);
    #: 1 = plain shuffled batches
    bucket_pool: int = POOL_BATCHES
    #: dropout on the encoder's hidden states while fine-tuning (``None``: the encoder's own, 0.1 for sciptm's
    #: sizes); the head keeps its own dropout (``PropertyPredictor(dropout=...)``)
    encoder_dropout: float | None = None
    #: dropout on the encoder's attention probabilities while fine-tuning (``None``: the encoder's own, 0.1 for
    #: sciptm's sizes). The default ``0`` lets PyTorch's scaled-dot-product attention run its fused kernel (no
    #: probability matrix, no random draw per score): on CPU a ``tiny`` ESOL epoch ran 1.12x faster, with
    #: ESOL RMSE and BBBP (scaffold_balanced) ROC-AUC over 3 seeds no worse (``benchmarks/speed``)
    attention_dropout: float | None = 0.0

    def __post_init__(self) -> None:
        if self.freeze not in FREEZE_MODES:
            raise ValueError(f"freeze must be one of {FREEZE_MODES}, not {self.freeze!r}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError("epochs and batch_size must be positive")
        if self.bucket_pool < 1:
            raise ValueError(f"bucket_pool must be at least 1, not {self.bucket_pool}")
        for name in ("encoder_dropout", "attention_dropout"):
            p = getattr(self, name)
            if p is not None and (isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p < 1):
                raise ValueError(f"{name} must be None or a probability in [0, 1), not {p!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: config keys of the attention-probability dropout (BERT/RoBERTa/ESM, GPT-2) and of the hidden-state dropout
_ATTENTION_KEYS = ("attention_probs_dropout_prob", "attn_pdrop")
_HIDDEN_KEYS = ("hidden_dropout_prob", "resid_pdrop", "embd_pdrop")


def _is_attention_dropout(parent: nn.Module, attr: str) -> bool:
    """Whether ``parent.<attr>`` drops attention probabilities (``RobertaSelfAttention.dropout``, GPT-2's
    ``attn_dropout``) rather than hidden states (``RobertaSelfOutput.dropout``, GPT-2's ``resid_dropout``)."""
    kind = type(parent).__name__
    return attr == "attn_dropout" or ("Attention" in kind and attr == "dropout")


def state_copy(module: nn.Module) -> dict[str, Any]:
    """A copy of ``module.state_dict()`` (tensors cloned, the ``_metadata`` kept): what ``copy.deepcopy`` of it
    gives, in a quarter of the time (no recursion through the dict and the tensors' Python state)."""
    state = module.state_dict()
    out = type(state)((k, v.clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v)) for k, v in state.items())
    if hasattr(state, "_metadata"):
        out._metadata = copy.deepcopy(state._metadata)
    return out


def set_encoder_dropout(encoder: nn.Module, hidden: float | None = None,
                        attention: float | None = None) -> Callable[[], None]:
    """Set the dropout of a stock HF encoder in place: ``hidden`` on every hidden-state ``nn.Dropout``,
    ``attention`` on the attention probabilities (the ``p`` that scaled-dot-product attention is called
    with); ``None`` leaves that kind alone. Returns a function that restores the previous values (modules and
    config)."""
    undo: list[Callable[[], None]] = []

    def assign(obj: Any, attr: str, value: float) -> None:
        old = getattr(obj, attr)
        setattr(obj, attr, value)
        undo.append(lambda: setattr(obj, attr, old))

    for parent in encoder.modules():
        for attr, child in parent.named_children():
            if isinstance(child, nn.Dropout):
                value = attention if _is_attention_dropout(parent, attr) else hidden
                if value is not None:
                    assign(child, "p", float(value))
        if attention is not None and "Attention" in type(parent).__name__:
            for attr in ("dropout", "dropout_prob"):  # attention modules that keep a float (ESM's self-attention)
                if isinstance(getattr(parent, attr, None), float):
                    assign(parent, attr, float(attention))
    config = getattr(encoder, "config", None)
    for keys, value in ((_ATTENTION_KEYS, attention), (_HIDDEN_KEYS, hidden)):
        for key in keys:
            if value is not None and config is not None and isinstance(getattr(config, key, None), float):
                assign(config, key, float(value))

    def restore() -> None:
        for fn in reversed(undo):
            fn()

    return restore


def encoder_layers(encoder: nn.Module) -> list[nn.Module]:
    """The transformer blocks of a stock HF encoder (``encoder.layer``, GPT-2's ``h``, or ALBERT's layer groups,
    which share their weights across depth: one group is one block here)."""
    for path in ("encoder.layer", "h", "layers", "encoder.albert_layer_groups"):
        obj: Any = encoder
        for part in path.split("."):
            obj = getattr(obj, part, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList):
            return list(obj)
    raise ValueError(f"cannot find transformer layers in {type(encoder).__name__}")


class Trainer:
    """Train a :class:`~sciptm.heads.PredictorModule` on :class:`TrainData`.

    ``score_fn(y_true, y_pred) -> float`` is evaluated on the validation set after every
    epoch; ``greater_is_better`` says which way is up. Without validation data training runs
    all epochs and keeps the final weights.
    """

    def __init__(self, config: TrainerConfig | None = None):
        self.config = config or TrainerConfig()
        self.history: list[dict[str, float]] = []
        self.best_epoch: int | None = None
        self.best_score: float | None = None

    def _accelerator(self) -> Accelerator:
        cfg = self.config
        cpu = cfg.device == "cpu" or (cfg.device == "auto" and not torch.cuda.is_available())
        return Accelerator(cpu=cpu, mixed_precision=resolve_precision(cfg.mixed_precision, cpu))

    def fit(
        self,
        module: nn.Module,
        tokenizer,
        train: TrainData,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        valid: TrainData | None = None,
        score_fn: Callable[[np.ndarray, np.ndarray], float] | None = None,
        greater_is_better: bool = False,
        activate: Callable[[torch.Tensor], torch.Tensor] = lambda t: t,
        augment: Callable[[str, np.random.Generator], str] | None = None,
    ) -> nn.Module:
        cfg = self.config
        set_seed(cfg.seed, deterministic=True)
        acc = self._accelerator()
        collate = Collator(tokenizer, train, augment if cfg.augment else None, cfg.seed)
        # one tokenizer pass: the ids give the bucket lengths and (without augmentation) every batch
        sampler = BucketSampler([len(i) for i in collate.ids], cfg.batch_size, cfg.seed, cfg.bucket_pool,
                                drop_last=len(train) > cfg.batch_size)
        loader = DataLoader(range(len(train)), batch_sampler=sampler, collate_fn=collate)
        head_params = [p for n, p in module.named_parameters() if not n.startswith("encoder.")]
        enc_params = [p for n, p in module.named_parameters() if n.startswith("encoder.")]
        optimizer = adamw([{"params": enc_params, "lr": cfg.lr}, {"params": head_params, "lr": cfg.head_lr}],
                          cfg.weight_decay)
        steps = cfg.epochs * max(1, math.ceil(len(train) / cfg.batch_size))
        scheduler = get_linear_schedule_with_warmup(optimizer, int(cfg.warmup_ratio * steps), steps)
        module, optimizer, loader, scheduler = acc.prepare(module, optimizer, loader, scheduler)
        # the blocks are only needed to unfreeze them one by one
        layers = encoder_layers(acc.unwrap_model(module).encoder) if cfg.freeze == "gradual" else []

        best_state: dict[str, torch.Tensor] | None = None
        bad_epochs = 0
        self.history, self.best_epoch, self.best_score = [], None, None
        restore = set_encoder_dropout(acc.unwrap_model(module).encoder, cfg.encoder_dropout, cfg.attention_dropout)
        # hidden-state dropout with 1 random draw per 4 elements (PyTorch's CPU dropout: 1 per element, ~1/6 of a
        # tiny encoder's epoch); SCIPTM_FAST_DROPOUT=0 keeps PyTorch's
        restore_fast = use_fast_dropout(module) if flag("SCIPTM_FAST_DROPOUT", True) else (lambda: None)
        # CPU, BERT-family encoder: packed batches through C kernels (same function and parameters, no padding;
        # SCIPTM_FUSED_TRAINING=0 or anything unsupported: the module's own forward)
        fused = fused_forward(acc.unwrap_model(module), acc.mixed_precision) if acc.device.type == "cpu" else None
        forward = fused if fused is not None else module
        # the objects that exist now (modules, the libraries' own) live through the fit: kept out of the cyclic
        # garbage collector's passes (3-5% of a tiny CPU step); a caller's own freeze is left alone
        with long_lived_frozen():
            try:
                for epoch in progress_bar(range(cfg.epochs), "fine-tuning", cfg.progress, total=cfg.epochs):
                    t0 = time.perf_counter()
                    self._set_trainable(acc.unwrap_model(module), layers, epoch)
                    collate.set_epoch(epoch)
                    sampler.set_epoch(epoch)
                    module.train()
                    losses = []
                    for batch in loader:
                        out = forward(batch["input_ids"], batch["attention_mask"], batch.get("features"))
                        loss = loss_fn(out.float(), batch["y"])
                        acc.backward(loss)
                        if cfg.max_grad_norm:
                            acc.clip_grad_norm_(module.parameters(), cfg.max_grad_norm)
                        optimizer.step()
                        scheduler.step()
                        optimizer.zero_grad(set_to_none=True)
                        losses.append(float(loss.detach()))
                    row: dict[str, float] = {"epoch": epoch, "train_loss": float(np.mean(losses)),
                                             "seconds": time.perf_counter() - t0}
                    if valid is not None and score_fn is not None and len(valid):
                        pred = (self._predict_packed(acc.unwrap_model(module), tokenizer, valid, activate)
                                if fused is not None else None)
                        if pred is None:
                            pred = self.predict(module, tokenizer, valid, activate)
                        score = float(score_fn(valid.y, pred))
                        row["valid_score"] = score
                        improved = self.best_score is None or (
                            (score > self.best_score) if greater_is_better else (score < self.best_score))
                        if improved and not math.isnan(score):
                            self.best_score, self.best_epoch, bad_epochs = score, epoch, 0
                            best_state = state_copy(acc.unwrap_model(module))
                        else:
                            bad_epochs += 1
                    self.history.append(row)
                    set_status(epoch_status(row, self.best_score, self.best_epoch))  # shown after the epoch bar
                    for callback in _EPOCH_CALLBACKS.get():
                        callback({**row, "greater_is_better": greater_is_better})
                    if valid is not None and bad_epochs >= cfg.patience:
                        break
            finally:
                restore_fast()
                restore()  # the settings are for training; the returned model keeps the encoder's own dropout
        model = acc.unwrap_model(module)
        if best_state is not None:
            model.load_state_dict(best_state)
        for p in model.parameters():
            p.requires_grad_(True)
        return model

    def _predict_packed(self, module: nn.Module, tokenizer, data: TrainData,
                        activate: Callable[[torch.Tensor], torch.Tensor]) -> np.ndarray | None:
        """Validation predictions through :func:`~sciptm.training.fused_training.predict_packed` (ids tokenized
        once per ``fit``), or ``None`` when it does not apply."""
        cache = self.__dict__.setdefault("_valid_ids", {})
        if cache.get("data") is not data:
            cache.update(data=data, ids=Collator(tokenizer, data).ids)
        was_training = module.training
        module.eval()
        try:
            with torch.inference_mode():
                out = predict_packed(module, cache["ids"], data.features)
                return None if out is None else activate(out.float()).cpu().numpy()
        finally:
            module.train(was_training)

    def _set_trainable(self, module: nn.Module, layers: list[nn.Module], epoch: int) -> None:
        mode = self.config.freeze
        encoder = module.encoder
        if mode == "none":
            encoder.requires_grad_(True)
        elif mode == "encoder":
            encoder.requires_grad_(False)
        else:  # gradual: head only in epoch 0, then one more top layer per epoch, embeddings last
            encoder.requires_grad_(False)
            for layer in layers[len(layers) - min(epoch, len(layers)):]:
                layer.requires_grad_(True)
            if epoch > len(layers):
                encoder.requires_grad_(True)

    @torch.inference_mode()
    def predict(self, module: nn.Module, tokenizer, data: TrainData,
                activate: Callable[[torch.Tensor], torch.Tensor] = lambda t: t,
                batch_size: int = 128, dropout_samples: int = 0, max_tokens: int | None = None) -> np.ndarray:
        """Activated outputs ``N x n_out`` in input order.

        Rows are batched by length under a padded-token budget (``max_tokens``, default
        :func:`~sciptm.encoders.batching.default_max_tokens` of the module's device; at most ``batch_size``
        rows). With ``dropout_samples > 0`` dropout stays on and the result is ``S x N x n_out``
        (Monte-Carlo dropout samples for uncertainty).
        """
        collate = Collator(tokenizer, TrainData(data.texts, None, data.features))
        device = next(module.parameters()).device
        was_training = module.training
        module.train(dropout_samples > 0)
        budget = max_tokens or default_max_tokens(device)
        try:
            outs: list[list[np.ndarray]] = [[] for _ in range(max(1, dropout_samples))]
            lengths = [len(i) for i in collate.ids]
            order: list[int] = []
            for rows in token_budget_batches(lengths, budget, batch_size):
                order += rows
                batch = collate(rows)
                feats = batch.get("features")
                for s in range(len(outs)):
                    out = module(batch["input_ids"].to(device), batch["attention_mask"].to(device),
                                 None if feats is None else feats.to(device))
                    outs[s].append(activate(out.float()).cpu().numpy())
        finally:
            module.train(was_training)
        inverse = np.argsort(np.asarray(order, dtype=np.int64))
        stacked = np.stack([np.concatenate(o)[inverse] for o in outs])
        return stacked if dropout_samples > 0 else stacked[0]


def adamw(groups: list[dict[str, Any]], weight_decay: float) -> torch.optim.Optimizer:
    """AdamW with its fused kernel (one call per step for all parameters) where the parameters' device
    supports it, else the multi-tensor (``foreach``) one; the update is the same AdamW either way."""
    for kind in ("fused", "foreach"):
        try:
            return torch.optim.AdamW([dict(g) for g in groups], weight_decay=weight_decay, **{kind: True})
        except (RuntimeError, ValueError, TypeError):
            continue
    return torch.optim.AdamW(groups, weight_decay=weight_decay)


def token_lengths(tokenizer, texts: list[str]) -> list[int]:
    """Tokens per text (special tokens included, capped at the tokenizer's maximum length)."""
    if not texts:
        return []
    limit = int(min(getattr(tokenizer, "model_max_length", 10**9) or 10**9, 10**9))
    ids = tokenizer(list(texts), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    return [min(len(i), limit) for i in ids]


class BucketSampler:
    """Batch sampler of :class:`Trainer`: length-bucketed, shuffled batches that change with :meth:`set_epoch`
    (see :func:`~sciptm.encoders.batching.bucketed_batches`); deterministic given the seed."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int, pool: int, drop_last: bool):
        self.lengths, self.batch_size, self.seed, self.pool, self.drop_last = lengths, batch_size, seed, pool, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def batches(self) -> list[list[int]]:
        return bucketed_batches(self.lengths, self.batch_size, [self.seed, 7919], self.epoch, self.pool,
                                self.drop_last)

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
