"""Recommendation without learning, in NCF's evaluation protocol: each user's held-out item and its sampled
negatives (the candidates) ranked by item popularity, or by item-kNN (cosine similarity of items' co-occurrence
in users' training histories, summed over the user's training items: Sarwar et al. 2001's item-based CF).

Output, per user, the top-k candidates best first: the format of the recommendation benchmark's `infer`.
Ties keep the candidates' order (negatives first, the held-out item last), as the model's ranking does.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse


def top_candidates(scores: np.ndarray, candidates: np.ndarray, k: int = 10) -> dict[int, np.ndarray]:
    """scores, candidates: (U, C) -> per user the k best-scoring candidate items, best first (stable)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), axis=1, kind="stable")[:, :k]
    top = np.take_along_axis(candidates, order, axis=1)
    return {u: top[u] for u in range(len(top))}


def popularity(
    train_users: np.ndarray, train_items: np.ndarray, candidates: np.ndarray, num_items: int, k: int = 10
) -> dict[int, np.ndarray]:
    """Every user's candidates ranked by their number of training interactions (over all users)."""
    counts = np.bincount(train_items, minlength=num_items).astype(np.float64)
    return top_candidates(counts[candidates], candidates, k)


def item_knn(
    train_users: np.ndarray,
    train_items: np.ndarray,
    candidates: np.ndarray,
    num_users: int,
    num_items: int,
    k: int = 10,
    chunk: int = 1024,
) -> dict[int, np.ndarray]:
    """A candidate's score: the sum of its cosine similarities (co-occurrence over users) to the user's items."""
    x = sparse.csr_matrix(
        (np.ones(len(train_users)), (train_users, train_items)), shape=(num_users, num_items), dtype=np.float64
    )
    x.data[:] = 1.0  # a repeated pair counts once
    co = (x.T @ x).tocsr()
    norm = np.sqrt(co.diagonal()) + 1e-12
    inv = sparse.diags(1.0 / norm)
    sim = (inv @ co @ inv).tolil()
    sim.setdiag(0.0)  # an item is not its own neighbour
    sim_csr = sim.tocsr()
    scores = np.empty(candidates.shape, np.float64)
    for a in range(0, num_users, chunk):  # dense rows for `chunk` users at a time (ml-20m: 26,744 items)
        b = min(a + chunk, num_users)
        rows = (x[a:b] @ sim_csr).toarray()
        scores[a:b] = np.take_along_axis(rows, candidates[a:b], axis=1)
    return top_candidates(scores, candidates, k)
