"""Headline generation without a neural network: what the seq2seq model must beat.

- `lead`: the article's first N tokens, N the mean training headline length rounded (Rush et al. 2015's "prefix"
  baseline: on real Gigaword it scores about 21 ROUGE-L at N = 75 bytes). The declared baseline.
- `content_lead`: the first N content words of the article (tokens that are alphabetic, or '#', and not in a
  stop list of function and discourse words). A stronger heuristic, which knows what the embedded headlines'
  rule keeps (content words) but not where their clause starts and ends, nor the headline tense: reported in
  docs/calibration.md to show how much of the embedded data's quality a word filter alone reaches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def lead_length(titles: Iterable[Sequence[str]]) -> int:
    """The mean headline length of the training split, rounded (at least 1)."""
    lengths = [len(t) for t in titles]
    if not lengths:
        raise ValueError("no training headlines to take the mean length of")
    return max(1, int(np.round(np.mean(lengths))))


def lead(article: Sequence[str], n: int) -> list[str]:
    """The article's first n tokens."""
    return list(article[:n])


def content_lead(article: Sequence[str], n: int, stop_words: frozenset[str]) -> list[str]:
    """The article's first n content words: alphabetic tokens (or '#') outside `stop_words`."""
    words = [t for t in article if (t.isalpha() or t == "#") and t not in stop_words]
    return words[:n]
