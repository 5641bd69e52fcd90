"""Reliability regressions for encoders (issue 13): checkpoints whose weights do not fit the model are refused,
a truncated weights file names the file, and empty inputs give empty outputs."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from sciptm import Encoder
from sciptm.errors import CheckpointError, ConfigError, SciptmError


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("enc") / "tiny"
    Encoder.from_config(domain="smiles", size="tiny", seed=0).save_pretrained(path)
    return path


def _copy(saved: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "copy"))


def test_reliability_config_naming_the_wrong_architecture_is_refused(saved: Path, tmp_path: Path) -> None:
    folder = _copy(saved, tmp_path)
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["model_type"] == "roberta"
    cfg.update(model_type="bert", architectures=["BertForMaskedLM"])  # weights stay RoBERTa's
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"encoder weights missing \(they would be random\)") as err:
        Encoder.from_pretrained(folder)
    assert "bert.embeddings" in str(err.value) and "unused" in str(err.value) and str(folder) in str(err.value)


def test_reliability_extra_head_weights_in_a_checkpoint_are_fine(saved: Path, tmp_path: Path) -> None:
    """Published checkpoints carry pooler/NSP/classifier heads the encoder does not use: not an error."""
    from safetensors.torch import load_file, save_file

    folder = _copy(saved, tmp_path)
    weights = load_file(folder / "model.safetensors")
    d = Encoder.from_pretrained(saved).hidden_size
    weights["roberta.pooler.dense.weight"] = torch.zeros(d, d)
    weights["cls.seq_relationship.weight"] = torch.zeros(2, d)
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    enc = Encoder.from_pretrained(folder)
    ref = Encoder.from_pretrained(saved)
    X = np.stack([enc.embed(["CCO", "c1ccccc1"]), ref.embed(["CCO", "c1ccccc1"])])
    assert np.array_equal(X[0], X[1])  # the same encoder weights were loaded


def test_reliability_truncated_safetensors_names_the_file(saved: Path, tmp_path: Path) -> None:
    folder = _copy(saved, tmp_path)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as err:
        Encoder.from_pretrained(folder)
    assert str(weights) in str(err.value)


def test_reliability_missing_encoder_folder_is_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(SciptmError, match="encoder folder not found"):
        Encoder.from_pretrained(tmp_path / "nowhere")


def test_reliability_embed_of_no_inputs_is_0_by_d(saved: Path) -> None:
    enc = Encoder.from_pretrained(saved)
    X = enc.embed([])
    assert X.shape == (0, enc.hidden_size) and X.dtype == np.float32
    with pytest.warns(UserWarning, match="skipped 2 of 2"):
        Y = enc.embed(["C1CC", "not a smiles"], errors="skip")  # every row invalid
    assert Y.shape == (2, enc.hidden_size) and np.isnan(Y).all()


def test_reliability_batch_size_zero_is_a_config_error(saved: Path) -> None:
    with pytest.raises(ConfigError, match="batch_size must be a positive integer, not 0"):
        Encoder.from_pretrained(saved).embed(["CCO"], batch_size=0)
