"""``sciptm bench`` model options reach every TrainerConfig field (#16): the fine-tuning-only ones that are not
PropertyPredictor parameters (``encoder_dropout``, ``attention_dropout``, ``bucket_pool``) go through
``trainer=``; misspelt ones are refused. Tiny encoder, real ESOL rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sciptm.benchmarks.models import check_model_options
from sciptm.benchmarks.models.encoder import EncoderModel
from sciptm.benchmarks.taskdata import TaskData
from sciptm.errors import ConfigError
from sciptm.training import trainer as trainer_mod


def test_trainer_only_fields_reach_the_trainer(chem_dir, monkeypatch):
    df = pd.read_csv(chem_dir / "delaney-processed.csv").head(48)
    texts = df["smiles"].tolist()
    y = df[["measured log solubility in mols per litre"]].to_numpy(float)
    data = TaskData("esol", "regression", "smiles", "rmse", ["logS"], texts, y, np.arange(48),
                    np.arange(32), np.arange(32, 40), np.arange(40, 48), domain_config={"name": "smiles"})
    seen = []
    fit = trainer_mod.Trainer.fit

    def spy(self, *args, **kwargs):
        seen.append(self.config)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(trainer_mod.Trainer, "fit", spy)
    options = {"epochs": 1, "batch_size": 16, "progress": False, "encoder_dropout": 0.0, "bucket_pool": 1,
               "attention_dropout": 0.05}
    check_model_options({"tiny": options})  # accepted, as the CLI checks them
    pred = EncoderModel("tiny", options).fit_predict(data, seed=3)
    assert pred.shape == (8,) and np.isfinite(pred).all()
    (config,) = seen
    assert (config.encoder_dropout, config.attention_dropout, config.bucket_pool) == (0.0, 0.05, 1)
    assert (config.epochs, config.batch_size, config.seed) == (1, 16, 3)


def test_misspelt_trainer_field_is_refused():
    with pytest.raises(ConfigError, match="encoder_dropot"):
        check_model_options({"tiny": {"encoder_dropot": 0.0}})
