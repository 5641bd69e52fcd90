"""Chemistry baselines: ECFP4 + random forest, RDKit 2D descriptors + random forest, Chemprop v2."""
from __future__ import annotations

import json
import os
import importlib.util
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator

from sciptm.benchmarks.models import MODELS
from sciptm.benchmarks.models.sklearn_models import per_target_fit_predict, random_forest
from sciptm.benchmarks.taskdata import TaskData
from sciptm.features import FEATURES
from sciptm.heads.tasks import MulticlassTask


def ecfp(smiles: list[str], radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """Morgan (ECFP4 for radius 2) bit vectors, ``N x n_bits`` uint8."""
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    out = np.zeros((len(smiles), n_bits), dtype=np.uint8)
    for i, smi in enumerate(smiles):
        mol = Chem.MolFromSmiles(smi)
        if mol is not None:
            out[i] = gen.GetFingerprintAsNumPy(mol)
    return out


def _feature_config(feature: str) -> dict[str, Any]:
    """What a feature matrix depends on besides the SMILES (the disk-cache key, :mod:`sciptm.features.cache`)."""
    import rdkit

    config: dict[str, Any] = {"feature": feature, "rdkit": rdkit.__version__}
    if feature == "ecfp":
        config.update(radius=2, n_bits=2048)
    return config


class FeatureRF:
    """Random forest (500 trees) on a per-task feature matrix, cached on disk by SMILES and featurizer
    (:func:`sciptm.features.cache.cached_rows`: a resumed run or another model on the same rows reads it)."""

    def __init__(self, name: str, featurize, options: dict[str, Any], feature: str | None = None):
        self.name = name
        self.featurize = featurize
        self.options = options
        self.feature = feature or name.removesuffix("-rf")

    def fit_predict(self, data: TaskData, seed: int) -> np.ndarray:
        if self.name not in data.cache:
            from sciptm.features.cache import cached_rows

            data.cache[self.name] = cached_rows(
                self.feature, _feature_config(self.feature), data.texts,
                lambda texts: np.asarray(self.featurize(texts), dtype=np.float32))
        make = random_forest(int(self.options.get("n_estimators", 500)), int(self.options.get("n_jobs", -1)))
        return per_target_fit_predict(data, data.cache[self.name], make, seed)


MODELS.add("ecfp-rf", lambda options: FeatureRF("ecfp-rf", ecfp, options))
MODELS.add("rdkit2d-rf", lambda options: FeatureRF("rdkit2d-rf", FEATURES["rdkit2d"], options))


class Chemprop:
    """Chemprop v2 (``pip install sciptm[peers]``) driven through its CLI on the same split indices.

    Options: ``epochs`` (default 50), ``extra_args`` (list of CLI arguments). The ``peers`` extra pins
    ``chemprop==2.2.4``: Chemprop 2.3 imports the native ``cuik_molmaker`` wheel, whose pin package requires
    RDKit 2026.03.6 exactly and fails to load against the RDKit sciptm otherwise installs.
    """

    name = "chemprop"

    def __init__(self, options: dict[str, Any]):
        self.options = options
        if importlib.util.find_spec("chemprop") is None:
            raise RuntimeError("chemprop is not installed: pip install 'sciptm[peers]' (Chemprop v2)")
        self.exe = [sys.executable, "-c", "from chemprop.cli.main import main; main()"]

    def fit_predict(self, data: TaskData, seed: int) -> np.ndarray:
        if isinstance(data.task, MulticlassTask):
            raise ValueError(f"chemprop baseline does not handle task type {data.task_type!r}")
        task = "classification" if data.task.is_classifier else "regression"  # chemprop's --task-type
        targets = [f"t{i}" for i in range(data.y.shape[1])]
        with tempfile.TemporaryDirectory() as tmp:
            tmpd = Path(tmp)
            frame = pd.DataFrame(data.y, columns=targets)
            frame.insert(0, "smiles", data.texts)
            frame.to_csv(tmpd / "data.csv", index=False)
            frame.iloc[data.test][["smiles"]].to_csv(tmpd / "test.csv", index=False)
            splits = [{"train": data.train.tolist(), "val": data.valid.tolist(), "test": data.test.tolist()}]
            (tmpd / "splits.json").write_text(json.dumps(splits))
            train_cmd = [*self.exe, "train", "--data-path", str(tmpd / "data.csv"), "--smiles-columns", "smiles",
                         "--target-columns", *targets, "--task-type", task, "--splits-file", str(tmpd / "splits.json"),
                         "--epochs", str(self.options.get("epochs", 50)), "--pytorch-seed", str(seed),
                         "--data-seed", str(seed), "--save-dir", str(tmpd / "model"), "--num-workers", "0",
                         # Chemprop's 2 warm-up epochs refuse a run of 1-2 epochs (a smoke test): no warm-up then
                         *(["--warmup-epochs", "0"] if int(self.options.get("epochs", 50)) <= 2 else []),
                         *map(str, self.options.get("extra_args", []))]
            _run(train_cmd)
            model_file = next((tmpd / "model").rglob("best*.pt"))
            _run([*self.exe, "predict", "--test-path", str(tmpd / "test.csv"), "--smiles-columns", "smiles",
                  "--model-paths", str(model_file), "--preds-path", str(tmpd / "preds.csv"), "--num-workers", "0"])
            preds = pd.read_csv(tmpd / "preds.csv")
        pred = preds[targets].to_numpy(dtype=float)
        return pred[:, 0] if data.single else pred


def _run(cmd: list[str]) -> None:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"chemprop {cmd[3]} failed:\n{proc.stderr[-3000:]}")


MODELS.add("chemprop", Chemprop)
