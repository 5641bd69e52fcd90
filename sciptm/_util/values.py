"""Command-line values read as YAML, one way for every entry point (``sciptm pretrain --set lr=1e-3`` and
``python -m sciptm.pretraining --set lr=1e-3`` both give the number 0.001).

>>> read_value("1e-3", "lr"), read_value("[1, 2]", "sizes"), read_value("null", "val_source")
(0.001, [1, 2], None)
"""
from __future__ import annotations

from typing import Any

import yaml

from sciptm.errors import ConfigError


def read_value(text: str, key: str) -> Any:
    """``text`` read as YAML; ``1e-3`` is a number too (YAML 1.1 wants ``1.0e-3``). ``ConfigError`` names ``key``
    when the text is not YAML."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        raise ConfigError(f"--{key}: cannot read {text!r} as a value") from None
    if isinstance(value, str) and any(c.isdigit() for c in value):
        try:
            return float(value)
        except ValueError:
            pass
    return value


__all__ = ["read_value"]
