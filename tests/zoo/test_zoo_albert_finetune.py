"""Fine-tuning a published ALBERT (rxnmapper) runs: its shared layer groups are found, frozen and unfrozen."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from transformers import AlbertConfig, AlbertModel

import sciptm
from sciptm.training.trainer import encoder_layers


def test_albert_layer_groups_are_the_blocks():
    cfg = AlbertConfig(hidden_size=32, num_attention_heads=2, intermediate_size=64, embedding_size=16,
                       num_hidden_layers=4, num_hidden_groups=2)
    model = AlbertModel(cfg)
    assert encoder_layers(model) == list(model.encoder.albert_layer_groups) and len(encoder_layers(model)) == 2
    with pytest.raises(ValueError, match="cannot find transformer layers in Linear"):
        encoder_layers(__import__("torch").nn.Linear(2, 2))


@pytest.mark.parametrize("freeze", ["none", "gradual"])
def test_rxnmapper_albert_finetunes_on_esol_rows(chem_dir, freeze):
    if importlib.util.find_spec("rxnmapper") is None:
        pytest.skip("rxnmapper==0.4.3 is not installed (pip install --no-deps rxnmapper==0.4.3)")
    import pandas as pd

    df = pd.read_csv(chem_dir / "delaney-processed.csv").iloc[:48]
    X, y = df["smiles"].tolist(), df["measured log solubility in mols per litre"].to_numpy()
    model = sciptm.PropertyPredictor("rxnmapper/albert", task="regression", epochs=2, batch_size=16, seed=0,
                                     freeze=freeze)
    model.fit(X[:40], y[:40])
    pred = model.predict(X[40:])
    assert pred.shape == (8,) and np.isfinite(pred).all()
