"""Face verification (C7) and RGB-D face identification (C8) without deep learning: raw pixels and colour
histograms, compared by L2 distance.

Each feature is a fixed embedding of one image, so verification scores it exactly as the model's embeddings are
scored (LFW pairs by embedding distance, `metrics.verification`), and identification is the nearest training
sample (1-NN). On the embedded faces the background, light, pose and distance change from sample to sample, so
both stay near chance: they measure how much of the task a shortcut solves.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.neighbors import NearestNeighbors

from aibench.datasets.faces import LfwPairs
from aibench.metrics.verification import verification_accuracy

FAR_MM = 1500.0  # depth scale of the raw RGB-D pixels: 0..1500 mm -> 0..1 (the far wall saturates)


def _as_float(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    return images.float() if isinstance(images, torch.Tensor) else torch.from_numpy(np.asarray(images, np.float32))


def raw_pixels(images: torch.Tensor | np.ndarray, size: int | None = None) -> np.ndarray:
    """(N, 3 * size^2) RGB in [0, 1] of (N, 3, H, W) uint8 images (area-resized to size x size when given)."""
    x = _as_float(images) / 255.0
    if size is not None and x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="area")
    return x.reshape(len(x), -1).numpy()


def rgbd_pixels(
    rgb: torch.Tensor | np.ndarray, depth: torch.Tensor | np.ndarray, size: int | None = None
) -> np.ndarray:
    """(N, 4 * size^2): RGB in [0, 1] beside depth / FAR_MM clipped to [0, 1], of (N, 3, H, W) uint8 and
    (N, 1, H, W) millimetre maps."""
    x = torch.cat([_as_float(rgb) / 255.0, (_as_float(depth) / FAR_MM).clamp(0, 1)], 1)
    if size is not None and x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="area")
    return x.reshape(len(x), -1).numpy()


def colour_histograms(images: torch.Tensor | np.ndarray, bins: int = 8) -> np.ndarray:
    """(N, bins^3) square roots of each image's normalised joint RGB histogram: L2 between them is the Hellinger
    distance of the histograms (colour content, no layout)."""
    q = (_as_float(images).long() * bins // 256).reshape(len(images), 3, -1)
    cells = (q[:, 0] * bins + q[:, 1]) * bins + q[:, 2]
    hist = torch.zeros(len(images), bins**3).scatter_add_(1, cells, torch.ones_like(cells, dtype=torch.float32))
    return torch.sqrt(hist / hist.sum(1, keepdim=True)).numpy()


def pair_distances(embeddings: np.ndarray, pairs: LfwPairs) -> np.ndarray:
    """L2 distance of each LFW pair's two embeddings (rows of `embeddings` in the order of `pairs.images`)."""
    return np.linalg.norm(embeddings[pairs.left] - embeddings[pairs.right], axis=1)


def lfw_verification(embeddings: np.ndarray, pairs: LfwPairs) -> float:
    """LFW's 10-fold verification accuracy of these per-image embeddings."""
    return verification_accuracy(pair_distances(embeddings, pairs), pairs.same, pairs.folds)


def nearest_identities(train: np.ndarray, labels: np.ndarray, test: np.ndarray, k: int = 5) -> np.ndarray:
    """(N, k) identities of each test feature, ordered by the L2 distance to their nearest training feature: the
    first is the 1-NN prediction, the rest a real ranking for top-5 accuracy."""
    identities = np.unique(labels)
    distances = np.full((len(test), len(identities)), np.inf)
    for j, identity in enumerate(identities):
        nearest = NearestNeighbors(n_neighbors=1).fit(train[labels == identity])
        distances[:, j] = nearest.kneighbors(test)[0][:, 0]
    return identities[np.argsort(distances, axis=1, kind="stable")[:, :k]]


def nearest_identity(train: np.ndarray, labels: np.ndarray, test: np.ndarray) -> np.ndarray:
    """The label of each test feature's nearest training feature (1-NN, L2)."""
    return nearest_identities(train, labels, test, k=1)[:, 0]
