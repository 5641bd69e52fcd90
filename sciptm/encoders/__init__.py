"""Shared encoder interface over stock ``transformers`` architectures."""
from sciptm.encoders.architectures import ARCHITECTURES, SIZES, Architecture
from sciptm.encoders.encoder import Encoder, EncoderOutput, pool

__all__ = ["ARCHITECTURES", "SIZES", "Architecture", "Encoder", "EncoderOutput", "pool"]
