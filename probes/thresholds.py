"""Every flag threshold and noise criterion the findings, reports and tests use — in one place.

A head or a transition is *flagged* only by a number here, so a reader can see (and change) what "is an induction
head" or "a phase change happened" means without hunting through modules.
"""
from __future__ import annotations

# ---- head scores (content-controlled: raw score − the same head's score on non-repeating sequences) --------------
INDUCTION_THRESHOLD = 0.5  # an "induction head": controlled induction score ≥ this on held-out periods
PREVIOUS_TOKEN_THRESHOLD = 0.4  # a "previous-token head": previous-token score ≥ this on training text
