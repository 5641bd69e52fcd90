"""sciptm: pretrained sequence encoders for chemistry, proteins and materials.

>>> import sciptm
>>> enc = sciptm.Encoder.from_config(domain="smiles", size="tiny")
>>> enc.embed(["CCO", "c1ccccc1O"]).shape
(2, 128)

``import sciptm`` is light: the names below and every subpackage (``sciptm.interpret``,
``sciptm.datasets``, ...) are imported on first use, as in transformers' lazy module, so
``import sciptm.errors`` or ``sciptm --help`` loads neither torch, transformers nor RDKit.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> module that defines it (imported on first attribute access)
_LAZY = {
    "Encoder": "sciptm.encoders",
    "EncoderOutput": "sciptm.encoders",
    "PropertyPredictor": "sciptm.predictor",
    "HybridProbe": "sciptm.hybrid",
    "show_tokens": "sciptm.domains.view",
}

__all__ = ["Encoder", "EncoderOutput", "HybridProbe", "PropertyPredictor", "__version__", "errors", "show_tokens"]

if TYPE_CHECKING:  # for type checkers and IDEs; never executed
    from sciptm import errors
    from sciptm.domains.view import show_tokens
    from sciptm.encoders import Encoder, EncoderOutput
    from sciptm.hybrid import HybridProbe
    from sciptm.predictor import PropertyPredictor


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if not name.startswith("_"):  # a subpackage or module: sciptm.interpret, sciptm.datasets, ...
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module 'sciptm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY, *__all__})
