"""Ranking distillation (Tang & Wang, KDD 2018) as rank_distill's `distill_caser.py` / `losses.py` do it.

The student is trained on each instance's T targets (positives) and sampled negatives, plus the teacher's
top-K items for that instance as extra positives weighted by

- position importance  w_r = exp(-r / lambda), r = 1..K, normalised to sum 1 (paper eq. 8, the reference's
  `weight_static`);
- ranking discrepancy  w_r' = max(tanh(mu * (r_hat - r)), 0), where r_hat = floor(num_items * (share of
  `dynamic_samples` random unseen items that the student scores above the candidate)) estimates the student's
  rank of the candidate, and r is the 0-based teacher rank (paper eq. 9, the reference's loop over columns);
- after `dynamic_start_epoch` epochs the weight is their product (the reference's "hybrid", not
  renormalised); before that it is w_r alone. Weights carry no gradient.

Loss per instance = sum over targets of -log s(y+) + sum over negatives of -log(1 - s(y-)) + alpha * sum over
candidates of w * -log s(y_c), averaged over the batch (point-wise BCE of `weighted_sigmoid_log_loss`).
log(sigmoid) is computed as logsigmoid, which is the same quantity without overflow.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from aibench.benchmarks.learning_to_rank.caser import Caser


def position_weights(K: int, lamda: float, device: torch.device) -> torch.Tensor:
    w = torch.exp(-torch.arange(1, K + 1, dtype=torch.float32, device=device) / lamda)
    return (w / w.sum()).unsqueeze(0)


def discrepancy_weights(
    candidate_scores: torch.Tensor, sample_scores: torch.Tensor, num_items: int, mu: float
) -> torch.Tensor:
    """(B, K) ranking-discrepancy weights from the student's scores of candidates (B, K) and samples (B, S)."""
    above = (candidate_scores.unsqueeze(2) < sample_scores.unsqueeze(1)).sum(2).float()
    predicted_rank = torch.floor(num_items * above / sample_scores.shape[1])
    teacher_rank = torch.arange(candidate_scores.shape[1], device=candidate_scores.device).float()
    return torch.tanh(mu * (predicted_rank - teacher_rank)).clamp(min=0.0)


def ranking_loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Caser's point-wise BCE over T positives and sampled negatives, summed per instance, batch mean."""
    return (-F.logsigmoid(pos).sum(1) - F.logsigmoid(-neg).sum(1)).mean()


def distillation_loss(
    pos: torch.Tensor, neg: torch.Tensor, cand: torch.Tensor, weight: torch.Tensor, alpha: float
) -> torch.Tensor:
    return ranking_loss(pos, neg) + alpha * (-F.logsigmoid(cand) * weight).sum(1).mean()


@torch.no_grad()
def teacher_topk(
    teacher: Caser, users: torch.Tensor, sequences: torch.Tensor, targets: torch.Tensor, K: int, batch_size: int = 1024
) -> torch.Tensor:
    """(N, K) teacher's top-K items for every training instance, its own targets excluded (`with_targets=False`)."""
    teacher.eval()
    out = torch.empty((len(users), K), dtype=torch.long, device=users.device)
    for i in range(0, len(users), batch_size):
        scores = teacher.score_all(sequences[i : i + batch_size], users[i : i + batch_size]).float()
        scores.scatter_(1, targets[i : i + batch_size], float("-inf"))
        out[i : i + batch_size] = scores.topk(K, dim=1).indices
    return out


class NegativeSampler:
    """Uniform samples among the items a user has not interacted with in training (the reference's candidates).

    Exact and loop-free: with a user's seen items sorted as s_0 < s_1 < ..., the r-th unseen item is
    r + #{j : s_j - j <= r}, found by one binary search over all users' (s_j - j) at once.
    """

    def __init__(self, users: torch.Tensor, items: torch.Tensor, num_items: int, num_users: int) -> None:
        self.num_items = num_items
        keys = torch.sort(users * num_items + items).values
        users_sorted = keys // num_items
        counts = torch.bincount(users_sorted, minlength=num_users)
        self.starts = torch.cumsum(counts, 0) - counts
        self.available = num_items - counts  # how many items each user has not seen
        rank_in_user = torch.arange(len(keys), device=keys.device) - self.starts[users_sorted]
        self.adjusted = keys - rank_in_user  # u*N + (s_j - j), non-decreasing

    def sample(self, users: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
        u = users.unsqueeze(1).expand(-1, n)
        uniform = torch.rand(u.shape, generator=generator, device=users.device, dtype=torch.float64)
        r = (uniform * self.available[u]).long().clamp(max=self.num_items - 1)
        below = torch.searchsorted(self.adjusted, u * self.num_items + r, right=True) - self.starts[u]
        return r + below
