"""Test sequences of Moving MNIST beside a trained CDNA's predictions, as one picture.

    python scripts/plot_video_prediction.py WEIGHTS OUT.png [--data-root ROOT] [--profile small] [--count 4]

WEIGHTS is the weights.pt of an `aibench run DC-AI-C11` session; the sequences are the first test sequences of
--data-root, or of the profile's embedded data. For each sequence, the top row is the ground truth (context
frames, then the frames to predict) and the row below it the model's free-running predictions after the context.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aibench.benchmarks.video_prediction.benchmark import CDNA, VideoPrediction, _resized
from aibench.datasets.embedded import ensure_embedded
from aibench.datasets.moving_mnist import read_moving_mnist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--count", type=int, default=4)
    parser.add_argument("--zoom", type=int, default=2)
    args = parser.parse_args()

    settings = VideoPrediction.profiles[args.profile]
    opts = settings.options
    root = args.data_root or ensure_embedded(VideoPrediction.dataset, settings.data)
    sequences = read_moving_mnist(root, min_frames=opts.frames)
    test = sequences[len(sequences) - opts.test_sequences :][: args.count, : opts.frames]
    frames = _resized(test, opts.frame_size).float() / 255.0
    model = CDNA(1, opts.frame_size, opts.width, opts.num_masks, opts.kernel_size)
    model.load_state_dict(torch.load(args.weights, map_location="cpu", weights_only=True)["model"])
    with torch.no_grad():
        predicted = model.eval()(frames, opts.context_frames)[0][:, opts.context_frames - 1 :].clamp(0, 1)

    s, gap = opts.frame_size, 2
    rows = []
    for truth, pred in zip(frames[:, :, 0], predicted[:, :, 0], strict=True):
        blank = torch.ones(opts.context_frames, s, s) * 0.25  # grey where the model is given the truth
        for row in (truth, torch.cat([blank, pred])):
            tiles = [np.pad(f.numpy(), ((0, 0), (0, gap)), constant_values=1.0) for f in row]
            rows.append(np.concatenate(tiles, axis=1))
            rows.append(np.full((gap, rows[-1].shape[1]), 0.6))  # a thin line between truth and prediction
        rows.append(np.ones((gap * 3, rows[-1].shape[1])))
    pixels = np.rint(np.concatenate(rows) * 255).astype(np.uint8)
    picture = Image.fromarray(pixels)
    picture = picture.resize((picture.width * args.zoom, picture.height * args.zoom), Image.Resampling.NEAREST)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(args.out)
    print(f"written: {args.out} ({len(frames)} test sequences: ground truth above, predictions below)")


if __name__ == "__main__":
    main()
