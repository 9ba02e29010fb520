"""Image compression without learning: a patch's mean colour, 4x down/up-sampling, and JPEG (Pillow).

Each returns, for every evaluation patch, the format of C12's `infer`: the reconstruction (3 x P x P floats in
[0, 1], flattened) followed by the number of bits the method spends on the patch.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F


def pack(reconstruction: torch.Tensor, bits: float) -> np.ndarray:
    """One inference output: the flattened reconstruction, then the bit count."""
    flat = reconstruction.detach().float().clamp(0, 1).reshape(-1).cpu().numpy()
    return np.append(flat, np.float32(bits)).astype(np.float32)


def mean_colour(patch: torch.Tensor) -> np.ndarray:
    """Every pixel the patch's mean colour (3 x 8 bits)."""
    return pack(patch.mean(dim=(1, 2), keepdim=True).expand_as(patch), 24)


def down_up(patch: torch.Tensor, factor: int = 4) -> np.ndarray:
    """Area-averaged down-sampling by `factor`, bilinear up-sampling back (8 bits per colour of each kept pixel)."""
    small = F.interpolate(patch[None], scale_factor=1 / factor, mode="area")
    up = F.interpolate(small, size=patch.shape[1:], mode="bilinear", align_corners=False)[0]
    return pack(up, small.numel() * 8)


def _scan_bits(data: bytes) -> int:
    """Bits of a baseline JPEG's entropy-coded scan: the file less its headers and tables (up to the end of the
    start-of-scan segment) and the 2-byte end-of-image marker."""
    sos = data.index(b"\xff\xda")
    header_end = sos + 2 + int.from_bytes(data[sos + 2 : sos + 4], "big")
    return (len(data) - header_end - 2) * 8


def _jpeg(img: Image.Image, quality: int) -> tuple[Image.Image, int]:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality, optimize=True)
    bits = _scan_bits(buf.getvalue())
    buf.seek(0)
    with Image.open(buf) as out:
        return out.convert("RGB"), bits


def jpeg_at(patch: torch.Tensor, max_bits: float) -> np.ndarray:
    """Pillow JPEG (optimised Huffman tables) at the highest quality (1..95) whose entropy-coded scan fits in
    `max_bits` (quality 1 if none fits), for information beside the model at the same bits per pixel.

    Only the scan is counted: a 32x32 JPEG file spends hundreds of bytes on headers and tables (more than
    2 bpp by themselves), which a codec with fixed tables would not transmit per patch."""
    array = (patch.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    img = Image.fromarray(array)
    best = _jpeg(img, 1)
    lo, hi = 2, 95
    while lo <= hi:
        q = (lo + hi) // 2
        out = _jpeg(img, q)
        if out[1] <= max_bits:
            best, lo = out, q + 1
        else:
            hi = q - 1
    rec = torch.from_numpy(np.asarray(best[0], np.float32) / 255).permute(2, 0, 1)
    return pack(rec, best[1])
