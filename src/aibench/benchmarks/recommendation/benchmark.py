"""DC-AI-C10 recommendation: Neural Collaborative Filtering's NeuMF (He et al., WWW 2017) on MovieLens, with
MLPerf's protocol (mlcommons/training recommendation/pytorch, the NCF reference).

Model: NeuMF = GMF + MLP. GMF: user and item embeddings of `mf_dim`, multiplied elementwise. MLP: user and item
embeddings of layers[0]/2 each, concatenated and passed through Linear+ReLU layers to layers[-1]. The GMF product
and the MLP output are concatenated into one linear output unit (a logit). MLPerf's initialisation: embeddings
N(0, 0.01), MLP layers Glorot-uniform, the output layer LeCun-uniform, biases zero.

Training: implicit feedback; every training interaction is a positive and `train_negatives` (MLPerf: 4) items the
user has not interacted with in training are sampled per positive, afresh each epoch; binary cross-entropy with
logits; Adam. Evaluation: each user's latest interaction is held out and ranked among `eval_negatives` items the
user never interacted with, sampled once from the data (datasets/movielens.py), so every session and
`aibench infer` rank the same candidates; HR@10 (the quality metric) and nDCG@10.

Deviations, documented where they happen:
- Evaluation negatives are 100 at every profile (He et al.'s protocol, the issue's); MLPerf's ml-20m reference
  ranks against 999, which makes its 63.5% target harder than the same number here. `eval_negatives` selects.
- Training negatives are rejected against the user's training positives only (MLPerf's sampler): the held-out
  item may be drawn as a negative, as in the reference, so nothing about it leaks into training.
- The model is created in `load_data()`: its embedding tables are sized by the numbers of users and items.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from aibench.baselines.recommendation import item_knn, popularity
from aibench.benchmarks.base import Baseline, Benchmark, ModelProbe, ProfileSettings, StepOutput
from aibench.benchmarks.quality import AtLeast
from aibench.datasets.movielens import MOVIELENS_DATASET, MovieLensParams, load_movielens
from aibench.metrics.recommendation import K, ranks_in_lists, recommendation_metrics
from aibench.registry import register


@dataclass(frozen=True)
class NcfOptions:
    """MLPerf's NCF reference settings (ml-20m): factors 64, MLP 256-256-128-64, 4 negatives, Adam(0.25, 0.5)."""

    mf_dim: int = 64
    layers: tuple[int, ...] = (256, 256, 128, 64)
    train_negatives: int = 4
    eval_negatives: int = 100
    beta1: float = 0.25
    beta2: float = 0.5
    eps: float = 1e-8
    eval_batch: int = 1024  # users per inference batch

    def __post_init__(self) -> None:
        if min(self.mf_dim, self.train_negatives, self.eval_negatives, self.eval_batch) < 1:
            raise ValueError("DC-AI-C10 options: mf_dim, negatives and eval_batch must be >= 1")
        if len(self.layers) < 2 or min(self.layers) < 1 or self.layers[0] % 2:
            raise ValueError(f"DC-AI-C10 layers need >= 2 sizes and an even first one, got {self.layers}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError("Adam betas must be in [0, 1)")


# MLPerf's ml-20m after its filtering (users with >= 20 ratings: all of them): only the probe uses these, to size
# the embedding tables at the full profile without reading the data.
_FULL_USERS, _FULL_ITEMS = 138_493, 26_744


class NeuMF(nn.Module):
    """GMF and MLP towers over separate embeddings, fused by one output unit (He et al. 2017, fig. 3)."""

    def __init__(self, num_users: int, num_items: int, mf_dim: int, layers: Sequence[int]) -> None:
        super().__init__()
        half = layers[0] // 2
        self.mf_user = nn.Embedding(num_users, mf_dim)
        self.mf_item = nn.Embedding(num_items, mf_dim)
        self.mlp_user = nn.Embedding(num_users, half)
        self.mlp_item = nn.Embedding(num_items, half)
        self.mlp = nn.ModuleList(nn.Linear(a, b) for a, b in zip(layers[:-1], layers[1:]))
        self.final = nn.Linear(layers[-1] + mf_dim, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for emb in (self.mf_user, self.mf_item, self.mlp_user, self.mlp_item):
            nn.init.normal_(emb.weight, 0.0, 0.01)
        for layer in self.mlp:
            assert isinstance(layer, nn.Linear)
            nn.init.xavier_uniform_(layer.weight)  # Glorot uniform, as the reference
            nn.init.zeros_(layer.bias)
        bound = math.sqrt(3.0 / self.final.in_features)  # LeCun uniform
        nn.init.uniform_(self.final.weight, -bound, bound)
        nn.init.zeros_(self.final.bias)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Logits of same-shape `users` and `items` index tensors."""
        gmf = self.mf_user(users) * self.mf_item(items)
        x = torch.cat([self.mlp_user(users), self.mlp_item(items)], dim=-1)
        for layer in self.mlp:
            x = torch.relu(layer(x))
        return self.final(torch.cat([gmf, x], dim=-1)).squeeze(-1)


def _candidates(bench: Recommendation) -> np.ndarray:
    return bench.candidates_np


def _popularity(bench: Recommendation) -> Mapping[int, np.ndarray]:
    d = bench.data
    return popularity(d.train_users, d.train_items, _candidates(bench), d.num_items, k=K)


def _item_knn(bench: Recommendation) -> Mapping[int, np.ndarray]:
    d = bench.data
    return item_knn(d.train_users, d.train_items, _candidates(bench), d.num_users, d.num_items, k=K)


@register("DC-AI-C10")
class Recommendation(Benchmark):
    dataset = MOVIELENS_DATASET
    quality_metric = "hr@10"
    baselines = (
        Baseline("popularity", _popularity, "candidates ranked by training interactions"),
        Baseline(
            "item-kNN",
            _item_knn,
            "co-occurrence cosine to the user's items (Sarwar et al.); the field's classical method, reported beside "
            "popularity: it must miss the target, not by 20%",
            oracle=True,
        ),
    )
    profiles = {
        # MLPerf's NCF on ml-20m, target 63.5% HR@10, with the large-batch settings of its v0.5 submissions
        # (batch 1,048,576, lr 0.0045, Adam(0.25, 0.5, 1e-8)); the reference's run_and_time.sh uses batch 2048 and
        # lr 5e-4 with Adam's default betas (--batch-size/--lr select those). Not checked against a run here.
        "full": ProfileSettings(
            batch_size=1_048_576,
            learning_rate=0.0045,
            max_epochs=20,
            target=AtLeast("hr@10", 0.635),
            convergent=AtLeast("hr@10", 0.60),
            time_limit_s=24 * 3600,
            options=NcfOptions(),
        ),
        # small: embedded MovieLens 100K (943 users, 1,682 items, 98k training positives; tastes of 8 factors at
        # taste_scale 2), MLPerf's layer sizes, batch 2048, lr 1e-3, Adam's default betas. At taste_scale 3 (batch
        # 1024, lr 2e-3) every seed met 0.76 in epoch 2 and item-kNN scored 0.770, above any target the model
        # could be given: the data was too easy for a neighbourhood method. At taste_scale 2: popularity HR@10
        # 0.234, item-kNN 0.569 (declared as an oracle: it must miss 0.60); seeds 1-3 reach 0.60 at epoch 4
        # (0.586-0.598 after epoch 3), a peak of about 0.64 at epoch 7 (seed 1), about 4.5 s an epoch.
        "small": ProfileSettings(
            batch_size=2048,
            learning_rate=1e-3,
            max_epochs=12,
            target=AtLeast("hr@10", 0.60),
            convergent=AtLeast("hr@10", 0.57),
            time_limit_s=600,
            data=MovieLensParams(factors=8, taste_scale=2.0),
            options=NcfOptions(beta1=0.9, beta2=0.999),
        ),
        "tiny": ProfileSettings(
            batch_size=256,
            learning_rate=1e-3,
            max_epochs=2,
            target=AtLeast("hr@10", 0.99),
            time_limit_s=120,
            data=MovieLensParams(users=60, items=300, ratings=60 * 30, max_ratings=60, factors=4),
            options=NcfOptions(mf_dim=8, layers=(32, 32, 16, 8), eval_negatives=50, eval_batch=16),
        ),
    }

    def build(self) -> None:
        # NeuMF is created in load_data(): its tables are sized by the data.
        self.opts: NcfOptions = self.settings.options

    def load_data(self) -> None:
        o, dev = self.opts, self.device
        self.data = d = load_movielens(self.ctx.data_root, o.eval_negatives)
        self.candidates_np = d.candidates()  # (users, eval_negatives + 1): negatives, then the held-out item
        self.candidates = torch.from_numpy(self.candidates_np).to(dev)
        self.train_users = torch.from_numpy(d.train_users).to(dev)
        self.train_items = torch.from_numpy(d.train_items).to(dev)
        # Sorted user * num_items + item keys: a sampled negative is rejected by one searchsorted.
        self.train_keys = torch.sort(self.train_users * d.num_items + self.train_items).values
        model = NeuMF(d.num_users, d.num_items, o.mf_dim, o.layers).to(dev)
        self.model = model
        self.optimizer = torch.optim.Adam(
            model.parameters(), lr=self.settings.learning_rate, betas=(o.beta1, o.beta2), eps=o.eps
        )
        # The raw module for evaluation; the returned one (DDP in a data-parallel session) for training.
        self.net = self.add_trained("neumf", model, self.optimizer)

    def _negatives(self, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """`train_negatives` per positive: uniform items, redrawn while the user has them in training."""
        n_items = self.data.num_items
        users = self.train_users.repeat_interleave(self.opts.train_negatives)
        items = torch.randint(0, n_items, users.shape, generator=gen, device=self.device)
        keys = self.train_keys
        while True:
            k = users * n_items + items
            pos = torch.searchsorted(keys, k).clamp(max=len(keys) - 1)
            hit = keys[pos] == k
            if not bool(hit.any()):
                return users, items
            items[hit] = torch.randint(0, n_items, (int(hit.sum()),), generator=gen, device=self.device)

    def train_batches(self, epoch: int) -> Iterable[Any]:
        return self._batches(epoch)

    def _batches(self, epoch: int) -> Iterator[dict[str, torch.Tensor]]:
        # Every rank draws the same negatives and order from the same stream, then takes its own shard.
        gen = torch.Generator(device=self.device).manual_seed(self.ctx.seed * 1_000_003 + epoch)
        neg_users, neg_items = self._negatives(gen)
        users = torch.cat([self.train_users, neg_users])
        items = torch.cat([self.train_items, neg_items])
        labels = torch.cat([torch.ones(len(self.train_users)), torch.zeros(len(neg_users))]).to(self.device)
        order = torch.randperm(len(users), generator=gen, device=self.device)
        order = order[self.ctx.shard(len(order))]  # this rank's examples (all of them in one process)
        for i in range(0, len(order), self.settings.batch_size):
            idx = order[i : i + self.settings.batch_size]
            yield {"users": users[idx], "items": items[idx], "labels": labels[idx]}

    def train_step(self, batch: Any) -> StepOutput:
        self.model.train()
        with self.ctx.autocast():
            logits = self.net(batch["users"], batch["items"])
        loss = nn.functional.binary_cross_entropy_with_logits(logits.float(), batch["labels"])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return StepOutput(loss=loss.detach(), samples=len(batch["labels"]))

    # evaluate(): the default, the score of infer() over every user, exactly what AccuracyOnly computes.

    def inference_batch_size(self) -> int:
        return self.opts.eval_batch

    @torch.no_grad()
    def infer(self, indices: Sequence[int]) -> list[np.ndarray]:
        """Per user (an evaluation sample) the top-10 of its candidates, best first; ties keep candidate order.

        Scores are fp32 even in a bf16 session: bf16 scores tie often, and ties would decide the metric.
        """
        self.model.eval()
        users = torch.as_tensor(list(indices), dtype=torch.long, device=self.device)
        cand = self.candidates[users]
        scores = self.model(users[:, None].expand_as(cand), cand).float()
        order = torch.argsort(scores, dim=1, descending=True, stable=True)[:, :K]
        top = torch.gather(cand, 1, order).cpu().numpy()
        return list(top)

    def score(self, outputs: Mapping[int, np.ndarray]) -> dict[str, float]:
        return recommendation_metrics(ranks_in_lists(outputs, self.data.test_items), K)

    @classmethod
    def model_probe(cls, settings: ProfileSettings[Any], device: torch.device) -> ModelProbe:
        o: NcfOptions = settings.options
        data: MovieLensParams | None = settings.data
        users, items = (data.users, data.items) if data is not None else (_FULL_USERS, _FULL_ITEMS)
        model = NeuMF(users, items, o.mf_dim, o.layers).to(device)
        user = torch.zeros(1, dtype=torch.long, device=device)
        item = torch.zeros(1, dtype=torch.long, device=device)
        label = torch.ones(1, device=device)

        def inference() -> torch.Tensor:
            return model.eval()(user, item)

        def training_loss() -> torch.Tensor:
            return nn.functional.binary_cross_entropy_with_logits(model.train()(user, item), label)

        return ModelProbe(
            model,
            inference,
            training_loss,
            samples=1,
            sample_shape=f"one (user, item) pair; {users} users x {items} items",
            notes=f"NeuMF mf_dim={o.mf_dim}, MLP {'-'.join(map(str, o.layers))}; ranking one user's candidates "
            f"is {o.eval_negatives + 1} pairs; an epoch is (1 + {o.train_negatives}) x the training positives",
        )

    def train_samples(self) -> int:
        return len(self.train_users) * (1 + self.opts.train_negatives)

    def eval_samples(self) -> int:
        return self.data.num_users
