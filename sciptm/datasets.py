"""Public dataset API: ``load``, ``from_csv``, ``list_datasets``, ``info``.

>>> import sciptm.datasets as sd
>>> sd.info("esol")["metric"]
'rmse'
>>> ds = sd.load("esol")  # doctest: +SKIP
>>> ds.inputs.iloc[0], ds.targets.shape  # doctest: +SKIP
('OCC3OC(OCC2OC(OC(C#N)c1ccccc1)C(O)C(O)C2O)C(O)C(O)C3O ', (1128, 1))
"""
from sciptm.data import CARDS, Card, DataUnavailableError, Dataset, add_card, from_csv, info, list_datasets, load

__all__ = ["CARDS", "Card", "DataUnavailableError", "Dataset", "add_card", "from_csv", "info", "list_datasets",
           "load"]
