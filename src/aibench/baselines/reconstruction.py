"""Volume prediction without a model: what a single-view 3D reconstructor must beat.

Both return, for every evaluation input, one 32^3 occupancy grid in the format of the reconstruction benchmark's
`infer`. The mean training grid ignores the image altogether; the category mean is an oracle that is told the
object's category, so it shows how much of the target a classifier alone would reach.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def mean_grid(train_voxels: np.ndarray, evaluations: int) -> Mapping[int, np.ndarray]:
    """The mean occupancy of every training grid, for every evaluation input."""
    mean = train_voxels.reshape(len(train_voxels), -1).mean(0).reshape(train_voxels.shape[1:]).astype(np.float32)
    return dict.fromkeys(range(evaluations), mean)


def category_mean_grid(
    train_voxels: np.ndarray, train_categories: Sequence[str], eval_categories: Sequence[str]
) -> Mapping[int, np.ndarray]:
    """The mean training grid of the input's own category (the category is given, as an oracle)."""
    cats = np.asarray(train_categories)
    means = {c: train_voxels[cats == c].mean(0).astype(np.float32) for c in set(train_categories)}
    return {i: means[c] for i, c in enumerate(eval_categories)}
