"""Fine-tuning: the library Trainer and its batch builder."""
from sciptm.training.data import Collator, TrainData
from sciptm.training.trainer import Trainer, TrainerConfig

__all__ = ["Collator", "TrainData", "Trainer", "TrainerConfig"]
