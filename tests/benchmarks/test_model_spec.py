"""Benchmark model names (``<base>[@random][+<features>][:probe]``) are parsed once, by ``ModelSpec``."""
from __future__ import annotations

import pytest

from sciptm.benchmarks.models import build_model
from sciptm.benchmarks.models.encoder import EncoderModel
from sciptm.benchmarks.models.probe import EmbeddingProbe
from sciptm.benchmarks.models.spec import ModelSpec


@pytest.mark.parametrize(("name", "base", "random_init", "probe", "features"), [
    ("tiny", "tiny", False, False, None),
    ("tiny:probe", "tiny", False, True, None),
    ("sciptm/smiles-small@random:probe", "sciptm/smiles-small", True, True, None),
    ("sciptm/crystal-small@random", "sciptm/crystal-small", True, False, None),
    ("tiny+rdkit2d", "tiny", False, False, "rdkit2d"),
    ("org/model@random+magpie", "org/model", True, False, "magpie"),
])
def test_parse_and_round_trip(name: str, base: str, random_init: bool, probe: bool, features: str | None) -> None:
    spec = ModelSpec.parse(name)
    assert (spec.base, spec.random_init, spec.probe, spec.features) == (base, random_init, probe, features)
    assert str(spec) == name and ModelSpec.parse(str(spec)) == spec


@pytest.mark.parametrize("name", [":probe", "@random", "tiny+", "+rdkit2d:probe"])
def test_empty_parts_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="cannot parse model name"):
        ModelSpec.parse(name)


def test_build_model_dispatches_on_the_parsed_name(tmp_path, monkeypatch) -> None:
    assert isinstance(build_model("sciptm/smiles-small:probe"), EmbeddingProbe)
    assert build_model("sciptm/smiles-small@random:probe").base == "sciptm/smiles-small@random"
    model = build_model("tiny+rdkit2d")
    assert isinstance(model, EncoderModel) and model.options["features"] == "rdkit2d" and model.base == "tiny"
    with pytest.raises(ValueError, match="not a registered baseline, a size"):
        build_model("no-such-model")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "myenc").mkdir()  # a local folder is a valid encoder base
    assert build_model("myenc:probe").base == "myenc"
    # side features in a probe make a hybrid probe (issue #12 item 2); an unknown feature set is refused by name
    assert build_model("sciptm/smiles-small+rdkit2d:probe").features == "rdkit2d"
    with pytest.raises(KeyError, match="rdkit2d"):
        build_model("sciptm/smiles-small+nosuchset:probe")


def test_quick_lists_fall_back_to_tiny_with_the_same_shape() -> None:
    assert str(ModelSpec.parse("sciptm/smiles-small@random:probe").with_base("tiny")) == "tiny:probe"
    assert str(ModelSpec.parse("sciptm/crystal-small+magpie").with_base("tiny")) == "tiny+magpie"
