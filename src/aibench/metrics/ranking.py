"""Top-k ranking quality as Caser / rank_distill evaluate it (their `evaluation.py`), vectorised over users.

For each user the model scores every item; items the user interacted with in training are removed from the
ranking; the remaining ranking is compared with the user's test items (all of them relevant, unordered):

- Prec@k   = |top-k ∩ test| / k
- Recall@k = |top-k ∩ test| / |test|
- nDCG@k   = DCG over the first k' = min(|test|, k) ranked items / IDCG of k' hits, both with 1/log2(rank+1)
             gains. The reference truncates the ranking to k' (not k), so a user with one test item is only
             credited for a hit at rank 1; we keep that.
- MAP      = mean over users of the average precision over the FULL ranking (the reference calls
             `_compute_apk(..., k=inf)`): sum over test items of (hits so far / rank) divided by |test|.

Inputs are `target_ranks`: for each user the 0-based position of each test item in that user's filtered
ranking, `inf` for padding or for a test item that is not ranked; and `n_targets`, the number of test items.
`rank_targets` computes them from a score matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

KS = (3, 5, 10)


def rank_targets(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """0-based rank of each target in each row's descending ranking; `inf` for padding (-1) or unranked (-inf score).

    scores: (U, I) with -inf for items removed from the ranking (e.g. training items); targets: (U, M) item ids.
    """
    order = torch.argsort(scores, dim=1, descending=True, stable=True)
    positions = torch.empty_like(order)
    positions.scatter_(1, order, torch.arange(scores.shape[1], device=scores.device).expand_as(order))
    safe = targets.clamp(min=0)
    ranked = (targets >= 0) & torch.isfinite(scores.gather(1, safe))
    unranked = torch.full(safe.shape, float("inf"), dtype=torch.float64, device=scores.device)
    return torch.where(ranked, positions.gather(1, safe).to(torch.float64), unranked)


def hits_matrix(target_ranks: np.ndarray, k: int) -> np.ndarray:
    """(U, k) booleans: is the item at rank r (0-based) a test item of the user."""
    hits = np.zeros((target_ranks.shape[0], k), bool)
    rows, cols = np.nonzero(target_ranks < k)
    hits[rows, target_ranks[rows, cols].astype(np.int64)] = True
    return hits


def precision_at_k(target_ranks: np.ndarray, k: int) -> np.ndarray:
    return (target_ranks < k).sum(axis=1) / k


def recall_at_k(target_ranks: np.ndarray, n_targets: np.ndarray, k: int) -> np.ndarray:
    return (target_ranks < k).sum(axis=1) / np.maximum(n_targets, 1)


def ndcg_at_k(target_ranks: np.ndarray, n_targets: np.ndarray, k: int) -> np.ndarray:
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    cutoff = np.minimum(n_targets, k)[:, None]
    within = np.arange(k)[None, :] < cutoff
    dcg = (hits_matrix(target_ranks, k) * within * discount).sum(axis=1)
    idcg = (within * discount).sum(axis=1)
    return np.divide(dcg, idcg, out=np.zeros_like(dcg), where=idcg > 0)


def average_precision(target_ranks: np.ndarray, n_targets: np.ndarray) -> np.ndarray:
    """Average precision of each user over the full ranking (the reference's `_compute_apk(k=inf)`)."""
    ranks = np.sort(target_ranks, axis=1)
    hits_so_far = np.arange(1, ranks.shape[1] + 1)[None, :]
    terms = np.where(np.isfinite(ranks), hits_so_far / (ranks + 1.0), 0.0)
    return terms.sum(axis=1) / np.maximum(n_targets, 1)


def ranking_metrics(target_ranks: np.ndarray, n_targets: np.ndarray, ks: Sequence[int] = KS) -> dict[str, float]:
    """Means over users of prec@k, recall@k, ndcg@k for each k, and map."""
    n_targets = np.asarray(n_targets)
    out: dict[str, float] = {}
    for k in ks:
        out[f"prec@{k}"] = float(precision_at_k(target_ranks, k).mean())
    for k in ks:
        out[f"recall@{k}"] = float(recall_at_k(target_ranks, n_targets, k).mean())
    for k in ks:
        out[f"ndcg@{k}"] = float(ndcg_at_k(target_ranks, n_targets, k).mean())
    out["map"] = float(average_precision(target_ranks, n_targets).mean())
    return out
