"""The three blinding levels of the analysis data set (outcomes.dataset builds them). Kept apart
from the data set so that pages and the API name a level without importing pandas."""

BLINDED, NO_SEQUENCE, UNBLINDED = "blinded", "no_sequence", "unblinded"
