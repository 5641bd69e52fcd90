"""``save_pretrained`` folders carry a Hugging Face Hub model card (YAML front matter read back by
``huggingface_hub``), so they are ready for ``push_to_hub``/``upload_folder`` (issue 14, "also expected")."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from huggingface_hub import metadata_load


def test_encoder_and_predictor_folders_have_hub_front_matter(chem_dir: Path, tmp_path: Path) -> None:
    import sciptm

    enc = sciptm.Encoder.from_config(domain="smiles", size="tiny", seed=0)
    meta = metadata_load(enc.save_pretrained(tmp_path / "enc") / "README.md")
    assert meta["library_name"] == "transformers" and meta["license"] == "mit"
    assert {"sciptm", "smiles"} <= set(meta["tags"]) and meta["datasets"] == [] and meta["metrics"] == []

    df = pd.read_csv(chem_dir / "delaney-processed.csv").iloc[:60]
    X, y = df["smiles"].tolist(), df["measured log solubility in mols per litre"].to_numpy()
    model = sciptm.PropertyPredictor(enc, epochs=2, batch_size=16).fit(X[:48], y[:48], valid=(X[48:], y[48:]))
    folder = model.save_pretrained(tmp_path / "m", card={"datasets": ["esol"], "license": "cc-by-4.0",
                                                         "tags": ["solubility"]})
    meta = metadata_load(folder / "README.md")
    assert meta["library_name"] == "transformers" and meta["license"] == "cc-by-4.0"
    assert meta["datasets"] == ["esol"] and meta["metrics"] == ["rmse"]
    assert {"sciptm", "smiles", "property-prediction", "regression", "solubility"} <= set(meta["tags"])
    result = meta["model-index"][0]["results"][0]
    assert result["dataset"]["name"] == "esol" and result["metrics"][0]["type"] == "rmse"
    # the validation RMSE in the card is the one in the targets' units
    import numpy as np

    rmse = float(np.sqrt(np.mean((model.predict(X[48:]) - y[48:]) ** 2)))
    assert abs(result["metrics"][0]["value"] - rmse) < 1e-3 * max(1.0, rmse)
    assert sciptm.PropertyPredictor.from_pretrained(folder).predict(X[:2]).shape == (2,)
