"""Zero-shot variant-effect scoring with a masked protein language model (needs an encoder, so it sits above
:mod:`sciptm.encoders` in the layers).

>>> from sciptm.zeroshot import SCORING_METHODS
>>> SCORING_METHODS
('masked-marginal', 'wt-marginal')
"""
from sciptm.zeroshot.mutations import METHODS, SCORING_METHODS, score_mutations, site_log_probs

__all__ = ["METHODS", "SCORING_METHODS", "score_mutations", "site_log_probs"]
