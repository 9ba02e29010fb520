"""Next-item ranking without learning: item popularity and first-order item-transition counts.

Input is each user's training sequence in time order (CSR: user u owns items[offsets[u]:offsets[u+1]]); output,
per user, the top-k items the user has not interacted with in training, best first: the format of a ranking
benchmark's `infer`.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse


def _top_unseen(scores: np.ndarray, offsets: np.ndarray, items: np.ndarray, k: int) -> dict[int, np.ndarray]:
    """Per user the k best-scoring unseen items; ties keep item order (a stable sort), as the model's ranking."""
    out: dict[int, np.ndarray] = {}
    for u in range(len(offsets) - 1):
        row = (scores[u] if scores.ndim == 2 else scores).astype(np.float64, copy=True)
        row[items[offsets[u] : offsets[u + 1]]] = -np.inf
        out[u] = np.argsort(-row, kind="stable")[:k]
    return out


def popularity(offsets: np.ndarray, items: np.ndarray, num_items: int, k: int = 10) -> dict[int, np.ndarray]:
    """Every user gets the most visited items (over all training sequences) that they have not visited."""
    counts = np.bincount(items, minlength=num_items).astype(np.float64)
    return _top_unseen(counts, offsets, items, k)


def item_transitions(offsets: np.ndarray, items: np.ndarray, num_items: int, k: int = 10) -> dict[int, np.ndarray]:
    """A first-order Markov chain: items ranked by how often they followed the user's last item in training
    (over every user's sequence), ties broken by popularity."""
    users = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    same_user = users[1:] == users[:-1]
    src, dst = items[:-1][same_user], items[1:][same_user]
    transitions = sparse.coo_matrix((np.ones(len(src)), (src, dst)), shape=(num_items, num_items)).tocsr()
    popular = np.bincount(items, minlength=num_items) / max(len(items), 1)  # < 1: only breaks ties
    last = items[offsets[1:] - 1]
    scores = transitions[last].toarray() + popular[None, :]
    return _top_unseen(scores, offsets, items, k)
