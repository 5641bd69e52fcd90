"""Protein tools: substitution strings and zero-shot variant-effect scoring.

>>> from sciptm.protein import apply_mutations, parse_mutations
>>> apply_mutations("MKTAYIAK", "K2R:A4G")
'MRTGYIAK'
>>> [str(m) for m in parse_mutations("A23G:L40P")]
['A23G', 'L40P']
"""
from sciptm.protein.mutations import Mutation, apply_mutations, check_mutations, infer_wild_type, parse_mutations
from sciptm.protein.scoring import METHODS, score_mutations, site_log_probs

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
