"""Hit rate and nDCG at k of one held-out item ranked among sampled negatives (NCF / MLPerf's protocol).

Each user has one relevant item (the held-out, latest interaction) ranked among `n` negatives. With `rank` the
0-based position of the held-out item in the user's descending ranking of those candidates:

- HR@k   = 1 if rank < k else 0
- nDCG@k = 1 / log2(rank + 2) if rank < k else 0 (the ideal DCG of one relevant item is 1)

both averaged over users, as He et al.'s `evaluate.py` and MLPerf's `ncf.py` compute them. Ties are resolved
against the held-out item (a negative scored equal to it ranks above it), so constant scores earn nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

K = 10


def ranks_against_negatives(scores: np.ndarray) -> np.ndarray:
    """(U, n+1) scores with the held-out item in the LAST column -> its 0-based rank among the n+1 candidates.

    A negative scoring >= the held-out item ranks above it (ties against the held-out item).
    """
    scores = np.asarray(scores, dtype=np.float64)
    return (scores[:, :-1] >= scores[:, -1:]).sum(axis=1)


def ranks_in_lists(top: Mapping[int, np.ndarray], held_out: np.ndarray) -> np.ndarray:
    """Rank of each user's held-out item in the user's top list (`top[u]`, best first); len(list) when absent."""
    ranks = np.empty(len(held_out), np.int64)
    for user, item in enumerate(held_out):
        listed = np.asarray(top[user])
        where = np.flatnonzero(listed == item)
        ranks[user] = where[0] if len(where) else len(listed)
    return ranks


def hit_rate_at_k(ranks: np.ndarray, k: int = K) -> float:
    return float((np.asarray(ranks) < k).mean())


def ndcg_at_k(ranks: np.ndarray, k: int = K) -> float:
    ranks = np.asarray(ranks, dtype=np.float64)
    gains = np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)
    return float(gains.mean())


def recommendation_metrics(ranks: np.ndarray, k: int = K) -> dict[str, float]:
    """{"hr@k", "ndcg@k"} averaged over users."""
    return {f"hr@{k}": hit_rate_at_k(ranks, k), f"ndcg@{k}": ndcg_at_k(ranks, k)}
