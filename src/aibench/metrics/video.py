"""Video prediction quality: mean squared error per predicted frame.

`mse_per_frame` is torchmetrics' mean squared error over all predicted pixels (in [0, 1]) times the values of one
frame (its pixels, times 3 for RGB): the per-frame sum of squared errors, averaged over frames and sequences, the
scale Moving MNIST results are usually reported on (Srivastava et al. 2015). It depends on the frame size, so
results record it.
"""

from __future__ import annotations

import torch
from torchmetrics.functional import mean_squared_error


def mse_per_frame(predicted: torch.Tensor, truth: torch.Tensor) -> float:
    """Sum of squared errors per frame for (N, P, H, W) or (N, P, C, H, W) predictions and ground truth in [0, 1]."""
    if predicted.shape != truth.shape:
        raise ValueError(f"predictions {tuple(predicted.shape)} and ground truth {tuple(truth.shape)} differ")
    values = predicted[0, 0].numel()
    return float(mean_squared_error(predicted.float().contiguous(), truth.float().contiguous())) * values
