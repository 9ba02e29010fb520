"""Frame prediction without a model: what a video predictor must beat on bouncing digits.

Each function takes the context frames of every test sequence, (N, T, ...) float in [0, 1] with T context frames of
any shape (H x W, or C x H x W), and returns the predicted frames in the format of the video-prediction benchmark's
`infer` (P frames of that shape per sequence). Copying the last frame and extrapolating the last two linearly are
the obvious motion-free and motion-naive predictors; on Moving MNIST both score worse than an all-black frame,
because a sharp digit in the wrong place costs twice what a missing one does, so the black frame is declared too: a
model must predict where the digits go to beat all three.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def copy_last(context: np.ndarray, predicted: int) -> Mapping[int, np.ndarray]:
    return {i: np.repeat(seq[-1:], predicted, axis=0) for i, seq in enumerate(context)}


def linear_extrapolation(context: np.ndarray, predicted: int) -> Mapping[int, np.ndarray]:
    """x_{t+k} = x_t + k (x_t - x_{t-1}), clipped to [0, 1]."""
    steps = np.arange(1, predicted + 1, dtype=np.float32).reshape(-1, *[1] * (context.ndim - 2))
    return {i: np.clip(seq[-1] + steps * (seq[-1] - seq[-2]), 0, 1) for i, seq in enumerate(context)}


def black_frames(context: np.ndarray, predicted: int) -> Mapping[int, np.ndarray]:
    return {i: np.zeros((predicted, *seq.shape[1:]), np.float32) for i, seq in enumerate(context)}
