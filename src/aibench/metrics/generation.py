"""A model-independent distance between generated and real images: the sliced Wasserstein distance (SWD) between
their local image patches at several scales of a Laplacian pyramid, after Karras et al. 2018 ("Progressive
growing of GANs", section 5 and their `sliced_wasserstein.py`).

For each pyramid level (the Laplacian bands from the full resolution down to 16x16, and the 16x16 low-pass
image) it draws 7x7x3 patches at fixed random positions of every image, normalises the descriptors per channel
with the real set's mean and standard deviation (Karras normalise each set by its own statistics; using the real
set's for both keeps a difference of colour or contrast visible), and averages, over random unit directions,
the 1-D Wasserstein-1 distance of the projected descriptors (mean absolute difference of the sorted
projections). Everything random is seeded, so the same images always give the same distance. Lower is better;
no torchmetrics/torch-fidelity implementation exists (FID needs an Inception network's weights).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

_KERNEL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _blur(x: torch.Tensor) -> torch.Tensor:
    k = (_KERNEL[:, None] * _KERNEL[None, :]).to(x)[None, None].repeat(x.shape[1], 1, 1, 1)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=x.shape[1])


def laplacian_pyramid(images: torch.Tensor, min_size: int = 16) -> list[torch.Tensor]:
    """Band-pass levels from the full resolution down to `min_size`, then the low-pass image at `min_size`."""
    levels = []
    x = images
    while x.shape[-1] > min_size:
        down = _blur(x)[..., ::2, ::2]
        levels.append(x - F.interpolate(down, size=x.shape[-2:], mode="bilinear", align_corners=False))
        x = down
    levels.append(x)
    return levels


def patches(level: torch.Tensor, per_image: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """`per_image` size x size patches of every image at random (seeded) positions: (N * per_image, C*size*size)."""
    n, c, h, w = level.shape
    size = min(size, h, w)
    ys = rng.integers(0, h - size + 1, (n, per_image))
    xs = rng.integers(0, w - size + 1, (n, per_image))
    off = np.arange(size)
    rows = ys[..., None, None] + off[None, None, :, None]  # (n, per, size, 1)
    cols = xs[..., None, None] + off[None, None, None, :]  # (n, per, 1, size)
    arr = level.detach().float().cpu().numpy()
    out = arr[np.arange(n)[:, None, None, None], :, rows, cols]  # (n, per, size, size, c)
    return out.transpose(0, 1, 4, 2, 3).reshape(n * per_image, c * size * size)


def sliced_wasserstein(a: np.ndarray, b: np.ndarray, directions: np.ndarray) -> float:
    """Mean over unit `directions` (D, dim) of the 1-D Wasserstein-1 distance between the projections of two
    equally large point sets a and b (N, dim)."""
    if a.shape != b.shape:
        raise ValueError(f"sliced Wasserstein needs equally many points of equal dimension, got {a.shape}, {b.shape}")
    pa, pb = np.sort(a @ directions.T, axis=0), np.sort(b @ directions.T, axis=0)
    return float(np.mean(np.abs(pa - pb)))


def swd(
    fake: torch.Tensor,
    real: torch.Tensor,
    patches_per_image: int = 64,
    patch_size: int = 7,
    directions: int = 512,
    seed: int = 0,
) -> dict[str, float]:
    """SWD between two equally large image sets (N, 3, H, W), per pyramid level (`swd_<size>`) and their mean
    (`swd`), x 1000 as Karras et al. report it."""
    if fake.shape != real.shape:
        raise ValueError(f"SWD compares equally many images of one size, got {tuple(fake.shape)}, {tuple(real.shape)}")
    out: dict[str, float] = {}
    for lf, lr in zip(laplacian_pyramid(fake), laplacian_pyramid(real), strict=True):
        rng = np.random.default_rng([seed, lf.shape[-1]])
        pos_seed = int(rng.integers(1 << 31))
        df = patches(lf, patches_per_image, patch_size, np.random.default_rng(pos_seed))
        dr = patches(lr, patches_per_image, patch_size, np.random.default_rng(pos_seed))
        channels = lf.shape[1]
        mean = dr.reshape(len(dr), channels, -1).mean(axis=(0, 2))
        std = dr.reshape(len(dr), channels, -1).std(axis=(0, 2)) + 1e-8
        per_dim = dr.shape[1] // channels

        def norm(x: np.ndarray, mean: np.ndarray = mean, std: np.ndarray = std, per_dim: int = per_dim) -> np.ndarray:
            return (x - np.repeat(mean, per_dim)) / np.repeat(std, per_dim)

        dirs = rng.standard_normal((directions, dr.shape[1]))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        out[f"swd_{lf.shape[-1]}"] = 1e3 * sliced_wasserstein(norm(df), norm(dr), dirs)
    out["swd"] = float(np.mean(list(out.values())))
    return out
