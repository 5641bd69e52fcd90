"""Dataset layer: YAML cards -> verified files (cache, mirror, download) -> DataFrames.

The public face is :mod:`sciptm.datasets`; see ``datasets/`` for the cards.

>>> from sciptm.data import CARDS
>>> "esol" in CARDS
True
"""
from sciptm.data.cards import CARDS, Card, FileSpec, add_card, read_card
from sciptm.data.dataset import Dataset, from_csv, info, list_datasets, load
from sciptm.data.download import DataUnavailableError

__all__ = ["CARDS", "Card", "DataUnavailableError", "Dataset", "FileSpec", "add_card", "from_csv", "info",
           "list_datasets", "load", "read_card"]
