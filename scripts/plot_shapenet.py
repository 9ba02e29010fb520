"""Embedded ShapeNet objects as one picture: for each category, a few test objects' input views and, with WEIGHTS,
the silhouette of the volume a trained PTN predicts from that view beside the silhouette of the true voxels.

    python scripts/plot_shapenet.py OUT.png [--weights WEIGHTS] [--data-root ROOT] [--profile small] [--count 3]

WEIGHTS is the weights.pt of an `aibench run DC-AI-C13` session. Silhouettes are seen from another of the object's
cameras (the next view), so a volume that only copies the input's outline does not look right.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from aibench.benchmarks.object_reconstruction_3d.benchmark import PTN, VOXELS, ObjectReconstruction3D, project
from aibench.datasets.embedded import ensure_embedded
from aibench.datasets.shapenet import read_shapenet


def _grey(mask: torch.Tensor, size: int) -> np.ndarray:
    image = Image.fromarray((mask.clamp(0, 1).numpy() * 255).astype(np.uint8)).resize((size, size))
    return np.repeat(np.asarray(image)[..., None], 3, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--weights", type=Path)
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--profile", default="small")
    parser.add_argument("--count", type=int, default=3)
    args = parser.parse_args()
    settings = ObjectReconstruction3D.profiles[args.profile]
    opts = settings.options
    root = args.data_root or ensure_embedded(ObjectReconstruction3D.dataset, settings.data)
    test = read_shapenet(root, "test", opts.image_size, VOXELS, views=2)
    model = None
    if args.weights:
        model = PTN(opts.image_size, opts.f_dim, opts.fc_dim, opts.z_dim)
        state = torch.load(args.weights, map_location="cpu")
        model.load_state_dict(state.get("model", state))
        model.eval()
    rows = []
    for category in sorted(set(test.categories)):
        picks = [i for i, c in enumerate(test.categories) if c == category][: args.count]
        tiles = []
        for i in picks:
            size = opts.image_size
            tiles.append(test.images[i, 0].permute(1, 2, 0).numpy())
            camera = test.cameras[i, 1][None, None]
            tiles.append(_grey(project(test.voxels[i][None, None].float(), camera)[0, 0], size))
            if model is not None:
                with torch.no_grad():
                    volume = model(test.images[i, :1].float() / 255)
                tiles.append(_grey(project(volume, camera)[0, 0], size))
            tiles.append(np.full((size, 4, 3), 255, np.uint8))
        rows.append(np.concatenate(tiles, 1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(rows, 0)).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
