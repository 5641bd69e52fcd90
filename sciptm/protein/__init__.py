"""Deprecated package: mutations and clustering moved to :mod:`sciptm.domains.protein`, zero-shot scoring to
:mod:`sciptm.zeroshot` (these re-exports go away in the next release).

>>> from sciptm.domains.protein.mutations import apply_mutations, parse_mutations
>>> apply_mutations("MKTAYIAK", "K2R:A4G")
'MRTGYIAK'
>>> [str(m) for m in parse_mutations("A23G:L40P")]
['A23G', 'L40P']
"""
import warnings

from sciptm.domains.protein.mutations import Mutation, apply_mutations, check_mutations, infer_wild_type, parse_mutations
from sciptm.zeroshot.mutations import METHODS, score_mutations, site_log_probs

warnings.warn("sciptm.protein moved: use sciptm.domains.protein.mutations and sciptm.zeroshot; the old import "
              "path will be removed in the next release", DeprecationWarning, stacklevel=2)

__all__ = [
    "METHODS",
    "Mutation",
    "apply_mutations",
    "check_mutations",
    "infer_wild_type",
    "parse_mutations",
    "score_mutations",
    "site_log_probs",
]
