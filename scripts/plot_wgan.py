"""Held-out real images beside a trained WGAN's samples, to check by eye that the generator is not collapsed.

    python scripts/plot_wgan.py WEIGHTS OUT.png [--data-root ROOT] [--profile small] [--count 32]

WEIGHTS is the weights.pt of an `aibench run DC-AI-C2` session; the real images are the held-out ones (the last
keys of the LMDB) of --data-root, or of the profile's embedded data. Left block: real; right block: the
generator's outputs for the first `count` evaluation queries (the same noise vectors a session scores). Prints the
mean per-pixel standard deviation across each set: a collapsed generator's is near 0.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aibench.benchmarks.image_generation.benchmark import ImageGeneration, LsunImages, MLPGenerator, query_noise
from aibench.datasets.embedded import ensure_embedded
from aibench.datasets.lsun import LsunSource


def _sheet(images: torch.Tensor, cols: int, zoom: int) -> Image.Image:
    """(N, 3, S, S) images in [-1, 1] as one grid, each enlarged `zoom` times."""
    n, _, s, _ = images.shape
    rows = -(-n // cols)
    pixels = ((images.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    grid = np.full((rows * s, cols * s, 3), 128, np.uint8)
    for i in range(n):
        grid[(i // cols) * s : (i // cols + 1) * s, (i % cols) * s : (i % cols + 1) * s] = pixels[i]
    return Image.fromarray(grid).resize((cols * s * zoom, rows * s * zoom), Image.Resampling.NEAREST)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--zoom", type=int, default=3)
    args = parser.parse_args()

    settings = ImageGeneration.profiles[args.profile]
    opts = settings.options
    root = args.data_root or ensure_embedded(ImageGeneration.dataset, settings.data)
    _, eval_keys = LsunSource(root).split(opts.eval_count)
    real = LsunImages(LsunSource(root), eval_keys[: args.count], opts.image_size, preload=True).all()
    real = real.float() / 127.5 - 1.0
    generator = MLPGenerator(opts.image_size, opts.nz, opts.hidden, opts.tanh_output)
    generator.load_state_dict(torch.load(args.weights, map_location="cpu", weights_only=True)["generator"])
    with torch.no_grad():
        fake = generator.eval()(query_noise(range(args.count), opts.nz)).clamp(-1, 1)

    left, right = _sheet(real, 4, args.zoom), _sheet(fake, 4, args.zoom)
    sheet = Image.new("RGB", (left.width + right.width + 12, left.height), (255, 255, 255))
    sheet.paste(left, (0, 0))
    sheet.paste(right, (left.width + 12, 0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    spread = {name: float(x.std(0).mean()) for name, x in (("real", real), ("generated", fake))}
    print(f"written: {args.out} (left real held-out, right generated); per-pixel std across images: {spread}")


if __name__ == "__main__":
    main()
