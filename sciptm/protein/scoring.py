"""Deprecated: moved to :mod:`sciptm.zeroshot.mutations` (this alias goes away in the next release)."""
from sciptm._util.deprecation import moved

moved(__name__, "sciptm.zeroshot.mutations")
