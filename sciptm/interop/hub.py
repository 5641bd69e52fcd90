"""Hugging Face Hub-ready model cards for sciptm's ``save_pretrained`` folders.

``Encoder.save_pretrained(folder)`` and ``PropertyPredictor.save_pretrained(folder, card={...})`` write a
``README.md`` whose YAML front matter holds the Hub's metadata (``library_name``, ``pipeline_tag``, ``tags``,
``license``, ``datasets``, ``metrics``, and ``model-index`` with the validation score of a fitted predictor), so
the folder can be uploaded as it is::

    from huggingface_hub import upload_folder
    upload_folder(repo_id="me/esol-model", folder_path="out/esol")

``card`` overrides or adds keys, e.g. ``{"license": "cc-by-4.0", "datasets": ["esol"], "base_model": "..."}``.
"""
from sciptm._util.modelcard import DEFAULT_LICENSE, encoder_card, front_matter, predictor_card, write_card

__all__ = ["DEFAULT_LICENSE", "encoder_card", "front_matter", "predictor_card", "write_card"]
