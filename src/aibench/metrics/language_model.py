"""Word-level perplexity for DC-AI-C17: exp(total negative log-likelihood / total predicted tokens), natural log.

Every sentence's words (<unk> included) and its closing <eos> are predicted tokens, as in Mikolov's PTB
evaluation; a test cross-checks against a hand-computed case and torchmetrics' Perplexity.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np


def perplexity(total_nll: float, tokens: int) -> float:
    """exp(mean negative log-likelihood per token)."""
    if tokens <= 0:
        raise ValueError("perplexity needs at least one predicted token")
    return math.exp(total_nll / tokens)


def corpus_perplexity(outputs: Iterable[np.ndarray]) -> float:
    """Perplexity over samples, each an array [sum of token NLLs, token count]."""
    rows = np.array([np.asarray(o, np.float64)[:2] for o in outputs])
    return perplexity(float(rows[:, 0].sum()), int(round(rows[:, 1].sum())))
