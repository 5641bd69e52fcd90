"""``python -m sciptm.pretraining --set KEY=VALUE`` reads values as ``sciptm pretrain --set`` does (one parser,
``sciptm._util.values.read_value``): ``lr=1e-3`` is the number 0.001, not the string ``'1e-3'``."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import sciptm.pretraining.__main__ as entry
from sciptm._util.values import read_value
from sciptm.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_module_entry_point_parses_numbers_like_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = next(iter(sorted((REPO / "benchmarks" / "pretrain").glob("*.yaml"))))
    seen = {}

    def fake_pretrain(cfg, out, resume=False, command=None, **kw):
        seen.update(cfg=cfg, command=command)
        return SimpleNamespace(step=0, tokens_seen=0, encoder_dir=out)

    monkeypatch.setattr(entry, "pretrain", fake_pretrain)
    assert entry.main(["--config", str(config), "--out", str(tmp_path / "run"), "--set", "lr=1e-3",
                       "--set", "max_steps=7"]) == 0
    assert seen["cfg"].lr == pytest.approx(0.001) and isinstance(seen["cfg"].lr, float)
    assert seen["cfg"].max_steps == 7
    assert seen["command"].startswith("python -m sciptm.pretraining --config ")


def test_read_value_names_the_key_of_bad_yaml() -> None:
    assert read_value("2e-4", "lr") == pytest.approx(2e-4) and read_value("abc", "name") == "abc"
    with pytest.raises(ConfigError, match="--sizes: cannot read"):
        read_value("[1, 2", "sizes")
