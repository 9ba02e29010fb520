"""Inputs before and after a trained STN's transformer: a grid of test images, each beside its transformed view.

    python scripts/plot_stn.py WEIGHTS OUT.png [--data-root ROOT] [--profile small] [--count 16]

WEIGHTS is the weights.pt of an `aibench run DC-AI-C15` session; the test images come from --data-root, or the
embedded data of the profile (generated once, like a session's). Top row of each pair: the input canvas; below
it, the 28x28 image the sampler hands the classifier (scaled to the canvas size).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aibench.benchmarks.spatial_transformer.benchmark import STN, SpatialTransformer, normalise
from aibench.datasets.embedded import ensure_embedded
from aibench.datasets.mnist import read_mnist


def _grey(x: torch.Tensor, size: int) -> Image.Image:
    """A standardised (1, H, W) image back to 8-bit grey, resized to size x size."""
    pixels = (x[0].numpy() * 0.3081 + 0.1307).clip(0, 1) * 255
    return Image.fromarray(np.rint(pixels).astype(np.uint8)).resize((size, size), Image.Resampling.NEAREST)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--zoom", type=int, default=3)
    args = parser.parse_args()

    root = args.data_root or ensure_embedded(SpatialTransformer.dataset, SpatialTransformer.profiles[args.profile].data)
    images, _ = read_mnist(root, "test")
    inputs = normalise(images[: args.count])
    model = STN()
    model.load_state_dict(torch.load(args.weights, map_location="cpu", weights_only=True)["model"])
    with torch.no_grad():
        transformed = model.eval().transform(inputs)

    side = images.shape[1] * args.zoom
    cols, gap = 8, 4
    rows = -(-len(inputs) // cols)
    sheet = Image.new("L", (cols * (side + gap) + gap, rows * (2 * side + 3 * gap)), 128)
    for i in range(len(inputs)):
        x = gap + (i % cols) * (side + gap)
        y = gap + (i // cols) * (2 * side + 3 * gap)
        sheet.paste(_grey(inputs[i], side), (x, y))
        sheet.paste(_grey(transformed[i], side), (x, y + side + gap))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"written: {args.out} ({len(inputs)} test inputs above their transformed versions)")


if __name__ == "__main__":
    main()
