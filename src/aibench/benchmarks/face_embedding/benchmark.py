"""DC-AI-C7: face embedding with FaceNet's recipe -- an Inception network, a 128-d L2-normalised embedding and
the triplet loss with online semi-hard negatives (Schroff et al. 2015) -- trained on VGGFace2's identity folders
and judged by LFW's 10-fold verification accuracy.

The network is torchvision's Inception v3 (no auxiliary head) with a 128-unit last layer: 22.0 M parameters,
the "Inception-style, about 24 M" of the paper (FaceNet's own NN1/NN2 and the BenchCouncil code's
Inception-ResNet-v1 are not in torchvision). Its valid convolutions need inputs of at least 75x75, so the
embedded faces are rendered at 80x80; full reads VGGFace2's aligned crops at 160x160, as FaceNet's public code.

Batches follow FaceNet: P identities x K images (`images_per_identity`) so every image has positives in its batch;
for each anchor-positive pair the negative is the nearest one farther than the positive (semi-hard), or the
farthest negative when none is (the rule of TensorFlow's `triplet_semihard_loss`), with squared L2 distances.
Quality: LFW's verification accuracy, the threshold on L2 distance chosen on nine folds and applied to the tenth.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from torchvision import models

from aibench.baselines.faces import colour_histograms, lfw_verification, raw_pixels
from aibench.benchmarks.base import Baseline, Benchmark, ModelProbe, ProfileSettings, StepOutput
from aibench.benchmarks.quality import AtLeast
from aibench.datasets.faces import (
    VGGFACE2_LFW,
    FaceFolders,
    FaceParams,
    load_face_images,
    read_lfw_pairs,
    read_vggface2,
)
from aibench.metrics.verification import fold_accuracies
from aibench.registry import register


@dataclass(frozen=True)
class FaceNetOptions:
    image_size: int = 160  # faces are resized to image_size x image_size on reading (>= 75 for Inception v3)
    embedding: int = 128
    margin: float = 0.5  # alpha of the triplet loss, on squared distances
    images_per_identity: int = 4  # K of the P x K batches; P = batch_size // K
    dropout: float = 0.2  # before the embedding layer (FaceNet's code keeps 0.8)
    preload: bool = False  # hold every training image in memory (embedded data) instead of reading per batch
    loader_workers: int = 4  # processes decoding JPEGs when not preloaded

    def __post_init__(self) -> None:
        if self.image_size < 75:
            raise ValueError(f"image_size must be >= 75 (Inception v3's valid convolutions), got {self.image_size}")
        if self.embedding < 2 or self.margin <= 0 or self.images_per_identity < 2 or not 0 <= self.dropout < 1:
            raise ValueError("embedding must be >= 2, margin > 0, images_per_identity >= 2 and dropout in [0, 1)")


class FaceNet(nn.Module):
    """torchvision's Inception v3 whose last layer gives the embedding, L2-normalised."""

    def __init__(self, embedding: int = 128, dropout: float = 0.2) -> None:
        super().__init__()
        self.net = models.inception_v3(
            weights=None,
            aux_logits=False,
            init_weights=True,
            transform_input=False,
            num_classes=embedding,
            dropout=dropout,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.net(x).float(), dim=1)


def face_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, S, S) RGB -> float in [-1, 1] (FaceNet's code standardises the pixels similarly)."""
    return images.float() / 127.5 - 1.0


def semihard_triplet_loss(embeddings: torch.Tensor, labels: torch.Tensor, margin: float) -> torch.Tensor:
    """Mean over every anchor-positive pair of max(0, d(a, p) - d(a, n) + margin), squared L2 distances, with n the
    semi-hard negative: the nearest negative farther than the positive, or the farthest negative when none is.

    Hand-written rather than taken from a metric-learning library, whose semi-hard miners return every
    semi-hard triplet instead of one negative per pair, which is FaceNet's rule.
    """
    dist = torch.cdist(embeddings, embeddings).pow(2)
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    anchor, positive = torch.nonzero(same & ~eye, as_tuple=True)
    has_negative = (~same[anchor]).any(1)
    anchor, positive = anchor[has_negative], positive[has_negative]
    if len(anchor) == 0:
        # A batch with no triplet (a rank's last batch of one identity) contributes nothing, but stays in the graph
        # so that every parameter still gets a (zero) gradient and DDP's all-reduce sees every rank.
        return embeddings.sum() * 0.0
    d_ap = dist[anchor, positive]
    d_an = dist[anchor]  # (pairs, N)
    negative = ~same[anchor]
    inf = torch.finfo(dist.dtype).max
    farther = negative & (d_an > d_ap[:, None])
    semihard = torch.where(farther, d_an, inf).min(1).values
    hardest_far = torch.where(negative, d_an, -inf).max(1).values
    chosen = torch.where(farther.any(1), semihard, hardest_far)
    return F.relu(d_ap - chosen + margin).mean()


class _Groups(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """K images of one identity per item (decoded here, in the loader's workers, unless preloaded); the loader's
    batches of P items are FaceNet's P x K batches."""

    def __init__(self, faces: FaceFolders, groups: np.ndarray, size: int, preloaded: torch.Tensor | None) -> None:
        self.faces, self.groups, self.size, self.preloaded = faces, groups, size, preloaded

    def __len__(self) -> int:
        return len(self.groups)

    def __getitem__(self, g: int) -> tuple[torch.Tensor, torch.Tensor]:
        rows = self.groups[g]
        if self.preloaded is not None:
            images = self.preloaded[torch.from_numpy(rows)]
        else:
            images = load_face_images([self.faces.paths[r] for r in rows], self.size)
        return images, torch.from_numpy(self.faces.labels[rows])


def _pixels(bench: FaceEmbedding) -> Mapping[int, np.ndarray]:
    return dict(enumerate(raw_pixels(bench.lfw_images, 32)))


def _histograms(bench: FaceEmbedding) -> Mapping[int, np.ndarray]:
    return dict(enumerate(colour_histograms(bench.lfw_images)))


@register("DC-AI-C7")
class FaceEmbedding(Benchmark):
    dataset = VGGFACE2_LFW
    quality_metric = "accuracy"
    channels_last = True
    baselines = (
        Baseline("raw pixels, L2 distance", _pixels, "32x32 RGB in [0, 1]; threshold chosen on nine folds"),
        Baseline("colour histogram distance", _histograms, "8x8x8 RGB histogram, Hellinger distance"),
    )
    profiles = {
        "full": ProfileSettings(
            batch_size=64,
            learning_rate=1e-3,
            max_epochs=100,
            target=AtLeast("accuracy", 0.9897),
            convergent=AtLeast("accuracy", 0.89),
            time_limit_s=7 * 24 * 3600,
            options=FaceNetOptions(),
        ),
        "small": ProfileSettings(
            batch_size=64,
            learning_rate=1e-3,
            max_epochs=25,
            target=AtLeast("accuracy", 0.68),
            convergent=AtLeast("accuracy", 0.66),
            time_limit_s=900,
            data=FaceParams(rgbd_identities=0, image_size=80),
            options=FaceNetOptions(image_size=80, preload=True),
        ),
        "tiny": ProfileSettings(
            batch_size=8,
            learning_rate=1e-3,
            max_epochs=2,
            target=AtLeast("accuracy", 1.01),
            time_limit_s=120,
            data=FaceParams(
                vggface2_identities=4,
                lfw_identities=20,
                rgbd_identities=0,
                samples_per_identity=4,
                lfw_images_per_identity=2,
                pairs_per_fold=1,
                image_size=80,
            ),
            # K = 2, so that a 2-rank tiny session's per-rank batch of 4 still holds two identities.
            options=FaceNetOptions(image_size=80, images_per_identity=2, preload=True),
        ),
    }

    def build(self) -> None:
        opts: FaceNetOptions = self.settings.options
        if self.settings.batch_size < 2 * opts.images_per_identity:
            raise ValueError(
                f"batch_size {self.settings.batch_size} holds fewer than two identities of "
                f"images_per_identity={opts.images_per_identity} images: triplets need a negative identity"
            )
        model = FaceNet(opts.embedding, opts.dropout).to(self.device)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=self.settings.learning_rate)
        self.model = self.add_trained("model", model, self.optimizer)
        self.net = model
        self.flip_rng = torch.Generator().manual_seed(self.ctx.seed * 7919 + self.ctx.rank)

    def load_data(self) -> None:
        opts: FaceNetOptions = self.settings.options
        root = self.ctx.data_root
        self.faces = read_vggface2(root)
        self.pairs = read_lfw_pairs(root)
        self.preloaded = load_face_images(self.faces.paths, opts.image_size) if opts.preload else None
        self.lfw_images = load_face_images(self.pairs.images, opts.image_size)
        self.by_identity = [np.flatnonzero(self.faces.labels == k) for k in range(len(self.faces.identities))]

    def groups(self, epoch: int) -> np.ndarray:
        """(groups, K) rows of one epoch: each identity's images shuffled and cut into groups of K (the rest
        wait for another epoch), the same on every rank (seeded by session and epoch); the loader shards them."""
        k = self.settings.options.images_per_identity
        rng = np.random.default_rng([self.ctx.seed, epoch])
        groups = [
            chunk
            for rows in self.by_identity
            for chunk in np.array_split(rng.permutation(rows)[: len(rows) // k * k], len(rows) // k)
            if len(rows) >= k
        ]
        if len(groups) < 2:
            raise ValueError(f"fewer than two identities have images_per_identity={k} images: no triplets")
        return np.stack(groups)

    def train_batches(self, epoch: int) -> Iterable[Any]:
        opts: FaceNetOptions = self.settings.options
        per_batch = self.settings.batch_size // opts.images_per_identity
        workers = 0 if opts.preload else opts.loader_workers
        groups = _Groups(self.faces, self.groups(epoch), opts.image_size, self.preloaded)
        return self.ctx.train_loader(groups, per_batch, epoch, num_workers=workers)

    def train_step(self, batch: Any) -> StepOutput:
        images, labels = batch[0].flatten(0, 1), batch[1].flatten()
        x = face_input(images)
        flip = torch.rand(len(x), generator=self.flip_rng) < 0.5
        x[flip] = x[flip].flip(-1)
        x, labels = x.to(self.device), labels.to(self.device)
        self.model.train()
        with self.ctx.autocast():
            embeddings = self.model(self.ctx.to_memory_format(x))
        loss = semihard_triplet_loss(embeddings.float(), labels, self.settings.options.margin)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return StepOutput(loss=loss.detach(), samples=len(x))

    @torch.no_grad()
    def infer(self, indices: Sequence[int]) -> list[np.ndarray]:
        """The embedding of each LFW image (in pairs.txt's order of first mention)."""
        x = face_input(self.lfw_images[torch.tensor(list(indices))]).to(self.device)
        self.net.eval()
        with self.ctx.autocast():
            return list(self.net(self.ctx.to_memory_format(x)).float().cpu().numpy())

    def score(self, outputs: Mapping[int, np.ndarray]) -> dict[str, float]:
        embeddings = np.stack([outputs[i] for i in range(len(self.pairs.images))])
        accuracy = lfw_verification(embeddings, self.pairs)
        a, b = embeddings[self.pairs.left], embeddings[self.pairs.right]
        folds, thresholds = fold_accuracies(np.linalg.norm(a - b, axis=1), self.pairs.same, self.pairs.folds)
        return {"accuracy": accuracy, "accuracy_std": float(folds.std()), "threshold": float(thresholds.mean())}

    def inference_batch_size(self) -> int:
        return 64

    @classmethod
    def model_probe(cls, settings: ProfileSettings[Any], device: torch.device) -> ModelProbe:
        opts: FaceNetOptions = settings.options
        model = FaceNet(opts.embedding, opts.dropout).to(device)
        n = 2 * opts.images_per_identity
        x = torch.randn(n, 3, opts.image_size, opts.image_size, device=device)
        labels = torch.arange(n, device=device) // opts.images_per_identity

        def inference() -> torch.Tensor:
            return model.eval()(x)

        def training_loss() -> torch.Tensor:
            return semihard_triplet_loss(model.train()(x), labels, opts.margin)

        size = opts.image_size
        return ModelProbe(
            model,
            inference,
            training_loss,
            samples=n,
            sample_shape=f"3x{size}x{size} face",
            meta_ok=False,
            notes="the loss mines negatives by value (data-dependent), so the probe runs on the CPU",
        )

    def train_samples(self) -> int:
        k = self.settings.options.images_per_identity
        return sum(len(rows) // k * k for rows in self.by_identity if len(rows) >= k)

    def eval_samples(self) -> int:
        return len(self.pairs.images)
