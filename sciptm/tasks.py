"""Deprecated: moved to :mod:`sciptm.heads.tasks` (this alias goes away in the next release)."""
from sciptm._util.deprecation import moved

moved(__name__, "sciptm.heads.tasks")
