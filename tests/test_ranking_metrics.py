"""Ranking metrics against hand-computed values and a loop port of the reference's evaluation semantics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aibench.metrics.ranking import (
    average_precision,
    ndcg_at_k,
    precision_at_k,
    rank_targets,
    ranking_metrics,
    recall_at_k,
)

INF = math.inf


def _hand_case() -> tuple[torch.Tensor, torch.Tensor]:
    # 12 items scored -id (item 0 best). User 0 saw item 1 in training and has test items {2, 5, 7};
    # user 1 has test item {0}; user 2's only test item (3) is a training item, so it cannot be ranked.
    scores = -torch.arange(12, dtype=torch.float32).repeat(3, 1)
    scores[0, 1] = -INF
    scores[2, 3] = -INF
    targets = torch.tensor([[2, 5, 7], [0, -1, -1], [3, -1, -1]])
    return scores, targets


def test_rank_targets_positions_padding_and_unranked() -> None:
    scores, targets = _hand_case()
    ranks = rank_targets(scores, targets).numpy()
    # user 0's filtered ranking is 0,2,3,4,5,6,...: item 2 at 1, 5 at 4, 7 at 6
    np.testing.assert_array_equal(ranks, [[1, 4, 6], [0, INF, INF], [INF, INF, INF]])


def test_hand_computed_metrics() -> None:
    ranks = np.array([[1, 4, 6], [0, INF, INF]])
    n = np.array([3, 1])
    np.testing.assert_allclose(precision_at_k(ranks, 3), [1 / 3, 1 / 3])
    np.testing.assert_allclose(precision_at_k(ranks, 5), [2 / 5, 1 / 5])
    np.testing.assert_allclose(precision_at_k(ranks, 10), [3 / 10, 1 / 10])
    np.testing.assert_allclose(recall_at_k(ranks, n, 3), [1 / 3, 1])
    np.testing.assert_allclose(recall_at_k(ranks, n, 5), [2 / 3, 1])
    np.testing.assert_allclose(recall_at_k(ranks, n, 10), [1, 1])
    # nDCG: the reference cuts the ranking at min(|test|, k) = 3 for user 0, so hits at 4 and 6 never count
    idcg3 = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    for k in (3, 5, 10):
        np.testing.assert_allclose(ndcg_at_k(ranks, n, k), [(1 / math.log2(3)) / idcg3, 1.0])
    # AP over the full ranking: hits at ranks 2, 5, 7 (1-based) -> (1/2 + 2/5 + 3/7) / 3
    np.testing.assert_allclose(average_precision(ranks, n), [(1 / 2 + 2 / 5 + 3 / 7) / 3, 1.0])


def test_unranked_test_item_counts_in_denominators() -> None:
    ranks = np.array([[0, INF]])  # two test items, one of them was excluded from the ranking
    n = np.array([2])
    assert recall_at_k(ranks, n, 3)[0] == pytest.approx(0.5)
    assert average_precision(ranks, n)[0] == pytest.approx(0.5)
    assert ndcg_at_k(ranks, n, 3)[0] == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_ranking_metrics_keys_and_means() -> None:
    scores, targets = _hand_case()
    ranks = rank_targets(scores, targets).numpy()
    out = ranking_metrics(ranks, np.array([3, 1, 1]))
    assert list(out) == [
        "prec@3",
        "prec@5",
        "prec@10",
        "recall@3",
        "recall@5",
        "recall@10",
        "ndcg@3",
        "ndcg@5",
        "ndcg@10",
        "map",
    ]
    assert out["prec@3"] == pytest.approx((1 / 3 + 1 / 3 + 0) / 3)
    assert out["recall@5"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert out["map"] == pytest.approx(((1 / 2 + 2 / 5 + 3 / 7) / 3 + 1 + 0) / 3)


# -- a loop port of the reference semantics (Caser / rank_distill evaluation.py), for random cross-checks


def _loop_metrics(ranking: list[int], targets: list[int], k: int) -> tuple[float, float, float]:
    top = ranking[:k]
    hit = len(set(top) & set(targets))
    kk = min(len(targets), k)
    dcg = sum(1 / math.log2(i + 2) for i, p in enumerate(ranking[:kk]) if p in targets)
    idcg = sum(1 / math.log2(i + 2) for i in range(kk))
    return hit / len(top), hit / len(targets), dcg / idcg


def _loop_ap(ranking: list[int], targets: list[int]) -> float:
    score, hits = 0.0, 0
    for i, p in enumerate(ranking):
        if p in targets:
            hits += 1
            score += hits / (i + 1)
    return score / len(targets)


def test_matches_loop_reference_on_random_cases() -> None:
    rng = np.random.default_rng(0)
    n_users, n_items = 40, 60
    scores = torch.from_numpy(rng.normal(size=(n_users, n_items))).float()
    seen = [set(rng.choice(n_items, rng.integers(0, 10), replace=False).tolist()) for _ in range(n_users)]
    tests = [rng.choice(sorted(set(range(n_items)) - s), rng.integers(1, 8), replace=False).tolist() for s in seen]
    for u, s in enumerate(seen):
        scores[u, list(s)] = -INF
    width = max(map(len, tests))
    targets = torch.tensor([t + [-1] * (width - len(t)) for t in tests])
    n = np.array([len(t) for t in tests])
    ranks = rank_targets(scores, targets).numpy()
    for u in range(n_users):
        order = torch.argsort(-scores[u], stable=True).tolist()
        ranking = [p for p in order if p not in seen[u]]
        for k in (3, 5, 10):
            p, r, g = _loop_metrics(ranking, tests[u], k)
            assert precision_at_k(ranks[u : u + 1], k)[0] == pytest.approx(p)
            assert recall_at_k(ranks[u : u + 1], n[u : u + 1], k)[0] == pytest.approx(r)
            assert ndcg_at_k(ranks[u : u + 1], n[u : u + 1], k)[0] == pytest.approx(g)
        assert average_precision(ranks[u : u + 1], n[u : u + 1])[0] == pytest.approx(_loop_ap(ranking, tests[u]))
