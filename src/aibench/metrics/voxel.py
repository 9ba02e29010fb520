"""3D reconstruction quality: the average voxel IoU of predicted volumes against the ground truth.

Each shape's IoU (intersection over union of the voxels occupied in both) is tp / (tp + fp + fn) from
torchmetrics' per-sample binary statistics (the binary Jaccard index, for all shapes at once) with the prediction
thresholded at 0.5, the threshold of PTN's reference evaluation; the benchmark's quality is
the mean over test shapes (and input views), as Yan et al. report it.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.classification import binary_stat_scores

THRESHOLD = 0.5


def mean_voxel_iou(predicted: torch.Tensor, truth: torch.Tensor, threshold: float = THRESHOLD) -> float:
    """Mean over N shapes of the IoU of (N, ...) occupancy probabilities (or booleans) against (N, ...) booleans."""
    if predicted.shape != truth.shape:
        raise ValueError(f"predictions {tuple(predicted.shape)} and ground truth {tuple(truth.shape)} differ")
    stats = binary_stat_scores(
        predicted.flatten(1).float(),
        truth.flatten(1).long(),
        threshold=threshold,
        multidim_average="samplewise",
        validate_args=False,
    )  # (N, 5): tp, fp, tn, fn, support
    tp, fp, fn = stats[:, 0], stats[:, 1], stats[:, 3]
    return float((tp / (tp + fp + fn).clamp(min=1)).mean())
