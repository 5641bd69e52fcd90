"""Deprecated: moved to :mod:`sciptm.domains.smiles.features` (this alias goes away in the next release)."""
from sciptm._util.deprecation import moved

moved(__name__, "sciptm.domains.smiles.features")
