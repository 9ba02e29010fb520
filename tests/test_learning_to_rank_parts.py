"""Caser and ranking-distillation building blocks of DC-AI-C16 (the end-to-end session is tested elsewhere)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from aibench.benchmarks.learning_to_rank.caser import Caser
from aibench.benchmarks.learning_to_rank.distillation import (
    NegativeSampler,
    discrepancy_weights,
    distillation_loss,
    position_weights,
    teacher_topk,
)


def test_caser_matches_reference_conv2d_layers() -> None:
    torch.manual_seed(0)
    m = Caser(num_users=6, num_items=20, d=8, L=5, nh=4, nv=2, ac_conv="relu").eval()
    seq, user = torch.randint(0, 21, (7, 5)), torch.randint(0, 6, (7,))
    # the reference's forward, written with the Conv2d modules themselves
    embs = m.item_embeddings(seq).unsqueeze(1)
    out_v = m.conv_v(embs).view(7, -1)
    out_h = [F.max_pool1d(c, c.size(2)).squeeze(2) for c in (F.relu(conv(embs).squeeze(3)) for conv in m.conv_h)]
    z = torch.sigmoid(m.fc1(torch.cat([out_v, *out_h], 1)))
    x = torch.cat([z, m.user_embeddings(user)], 1)
    torch.testing.assert_close(m.query(seq, user), x)
    items = torch.randint(0, 20, (7, 3))
    expected = (m.W2(items) * x.unsqueeze(1)).sum(2) + m.b2(items).squeeze(2)
    torch.testing.assert_close(m(seq, user, items), expected)
    torch.testing.assert_close(m.score_all(seq, user).gather(1, items), expected)


def test_negative_sampler_draws_only_unseen_items_uniformly() -> None:
    users = torch.tensor([0, 0, 0, 1, 2] + [3] * 9)
    items = torch.tensor([0, 4, 9, 3, 7] + list(range(1, 10)))
    sampler = NegativeSampler(users, items, num_items=10, num_users=4)
    gen = torch.Generator().manual_seed(0)
    seen = {0: {0, 4, 9}, 1: {3}, 2: {7}, 3: set(range(1, 10))}
    draws = sampler.sample(torch.tensor([0, 1, 2, 3]), 3000, gen)
    for u in range(4):
        unseen = set(range(10)) - seen[u]
        assert set(draws[u].tolist()) == unseen
        counts = torch.bincount(draws[u], minlength=10)[sorted(unseen)].float()
        assert counts.min() > 0.8 * 3000 / len(unseen)


def test_position_and_discrepancy_weights() -> None:
    w = position_weights(3, 1.0, torch.device("cpu"))
    e = torch.tensor([math.exp(-1), math.exp(-2), math.exp(-3)])
    torch.testing.assert_close(w, (e / e.sum()).unsqueeze(0))
    # candidate 0 beats every sample (student rank 0): weight 0; candidate 1 is beaten by half of them:
    # estimated rank floor(100 * 0.5) = 50 against teacher rank 1 -> tanh(0.1 * 49)
    cand = torch.tensor([[10.0, 0.0]])
    samples = torch.tensor([[1.0, 1.0, -1.0, -1.0]])
    got = discrepancy_weights(cand, samples, num_items=100, mu=0.1)
    torch.testing.assert_close(got, torch.tensor([[0.0, math.tanh(4.9)]]))


def test_distillation_loss_is_reference_bce() -> None:
    pos, neg, cand = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.5]]), torch.tensor([[3.0, -1.0]])
    weight = torch.tensor([[0.7, 0.3]])
    sig = torch.sigmoid
    expected = -torch.log(sig(pos)).sum() - torch.log(1 - sig(neg)).sum() - 0.5 * (weight * torch.log(sig(cand))).sum()
    torch.testing.assert_close(distillation_loss(pos, neg, cand, weight, alpha=0.5), expected)


def test_teacher_topk_skips_the_instance_targets() -> None:
    torch.manual_seed(0)
    teacher = Caser(num_users=3, num_items=12, d=4, L=2)
    users, seqs = torch.tensor([0, 1, 2]), torch.randint(0, 13, (3, 2))
    full = teacher.eval().score_all(seqs, users).argsort(1, descending=True)
    targets = full[:, :2]  # make each instance's two best items its targets
    top = teacher_topk(teacher, users, seqs, targets, K=4)
    torch.testing.assert_close(top, full[:, 2:6])
