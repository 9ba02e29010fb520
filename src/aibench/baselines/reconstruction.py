"""Volume prediction without a model: what a single-view 3D reconstructor must beat.

Both return, for every evaluation input, one 32^3 occupancy grid in the format of the reconstruction benchmark's
`infer`. The mean training grid ignores the image altogether; the category mean is an oracle that is told the
object's category, so it shows how much of the target a classifier alone would reach. Each mean is cut at the
occupancy threshold that maximises its IoU on the training grids (a mean grid cut at 0.5 keeps almost nothing,
which would make the baseline a straw man), and returned as a 0/1 grid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from aibench.metrics.voxel import mean_voxel_iou

THRESHOLDS = np.linspace(0.05, 0.95, 19)


def _fitted(guesses: np.ndarray, truth: np.ndarray) -> float:
    """The threshold of (N, ...) mean-occupancy guesses with the best mean IoU against the (N, ...) truth."""
    guess_t, truth_t = torch.from_numpy(guesses.astype(np.float32)), torch.from_numpy(truth.astype(bool))
    scores = [mean_voxel_iou(guess_t, truth_t, float(t)) for t in THRESHOLDS]
    return float(THRESHOLDS[int(np.argmax(scores))])


def mean_grid(train_voxels: np.ndarray, evaluations: int) -> Mapping[int, np.ndarray]:
    """The mean occupancy of every training grid, cut at its best training threshold, for every evaluation."""
    mean = train_voxels.astype(np.float32).mean(0)
    cut = _fitted(np.broadcast_to(mean, train_voxels.shape), train_voxels)
    return dict.fromkeys(range(evaluations), (mean > cut).astype(np.float32))


def category_mean_grid(
    train_voxels: np.ndarray, train_categories: Sequence[str], eval_categories: Sequence[str]
) -> Mapping[int, np.ndarray]:
    """The mean training grid of the input's own category (the category is given, as an oracle), cut at the
    threshold that fits the training grids best."""
    cats = np.asarray(train_categories)
    means = {c: train_voxels[cats == c].astype(np.float32).mean(0) for c in set(train_categories)}
    cut = _fitted(np.stack([means[c] for c in train_categories]), train_voxels)
    grids = {c: (m > cut).astype(np.float32) for c, m in means.items()}
    return {i: grids[c] for i, c in enumerate(eval_categories)}
