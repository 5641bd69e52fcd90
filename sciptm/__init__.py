"""sciptm: pretrained sequence encoders for chemistry, proteins and materials.

>>> import sciptm
>>> enc = sciptm.Encoder.from_config(domain="smiles", size="tiny")
>>> enc.embed(["CCO", "c1ccccc1O"]).shape
(2, 128)
"""
from sciptm import errors
from sciptm.display import show_tokens
from sciptm.encoders import Encoder, EncoderOutput

__version__ = "0.1.0"

__all__ = ["Encoder", "EncoderOutput", "PropertyPredictor", "__version__", "errors", "show_tokens"]


def __getattr__(name: str):  # lazy: heavy modules load on first use
    if name == "PropertyPredictor":
        from sciptm.predictor import PropertyPredictor

        return PropertyPredictor
    if name == "interpret":  # attributions -> atoms, residues, crystal sites
        import sciptm.interpret as interpret

        return interpret
    raise AttributeError(f"module 'sciptm' has no attribute {name!r}")
