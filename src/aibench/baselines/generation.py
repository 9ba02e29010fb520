"""Image generation without a model: per-pixel Gaussian samples with the training images' mean and variance, and
the mean training image itself. Both return, for every evaluation query, an image in the format of the WGAN
benchmark's `infer` (3 x S x S floats in [-1, 1])."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch


def pixel_moments(images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel mean and standard deviation of uint8 N x 3 x S x S images, in the [-1, 1] scale."""
    x = images.double() / 127.5 - 1.0
    return x.mean(0).numpy().astype(np.float32), x.std(0).numpy().astype(np.float32)


def gaussian_pixels(images: torch.Tensor, count: int, seed: int = 0) -> Mapping[int, np.ndarray]:
    """Each query an independent per-pixel Gaussian sample with the training set's mean and variance."""
    mean, std = pixel_moments(images)
    rng = np.random.default_rng(seed)
    return {i: np.clip(mean + std * rng.standard_normal(mean.shape), -1, 1).astype(np.float32) for i in range(count)}


def mean_image(images: torch.Tensor, count: int) -> Mapping[int, np.ndarray]:
    """Every query the mean training image."""
    mean, _ = pixel_moments(images)
    return dict.fromkeys(range(count), mean)
