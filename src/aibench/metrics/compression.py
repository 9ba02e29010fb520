"""Image-compression quality: MS-SSIM (torchmetrics) at a size that fits 32x32 patches, and bits per pixel.

MS-SSIM's standard setting (Wang et al. 2003: an 11x11 Gaussian window, sigma 1.5, five scales) needs images of
at least 176 pixels a side; a 32x32 patch has room for three scales (32, 16 and 8 pixels) with a 5x5 Gaussian
window of sigma 1.0 (the standard window shrunk with the image: it still spans about +-2 sigma, and leaves a 4x4
valid region at the coarsest scale). The three scales weigh contrast-structure at 32 and 16 pixels and full SSIM at
8 pixels with the first three of the standard exponents (0.0448, 0.2856, 0.3001), normalised to sum to one.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

KERNEL_SIZE = 5
SIGMA = 1.0
_STANDARD_BETAS = (0.0448, 0.2856, 0.3001)
BETAS = tuple(b / sum(_STANDARD_BETAS) for b in _STANDARD_BETAS)


def ms_ssim(preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MS-SSIM of each image of a batch (N,C,H,W in [0, 1]): a tensor of N values in [0, 1]."""
    return multiscale_structural_similarity_index_measure(
        preds.float().clamp(0, 1),
        target.float(),
        kernel_size=KERNEL_SIZE,
        sigma=SIGMA,
        betas=BETAS,
        data_range=1.0,
        reduction="none",
    )


def bits_per_pixel(bits: float, pixels: int) -> float:
    return bits / pixels
