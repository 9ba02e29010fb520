"""Embedded RGB-D faces (the generator C7 and C8 share) as one picture.

    python scripts/plot_faces.py [OUT.png] [--data-root ROOT] [--identities 4] [--train 5] [--test 3]

For each of the first identities of ROOT/rgbd_faces (or of an embedded copy with FaceParams' defaults, whose first
identities are those of the full embedded data: identity k and its samples do not depend on how many are drawn),
the top row shows colour images, training samples first and then, after a gap, test samples (poses and light
outside the training ones); the row below shows their depth maps, nearer brighter, the far wall black.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from aibench.datasets.embedded import ensure_embedded
from aibench.datasets.faces import RGBD_FACES, FaceParams, read_rgbd_faces

NEAR_MM, FAR_MM = 420.0, 900.0  # the depth shown: the face's front bright, the shoulders dark


def _depth_tile(depth: np.ndarray) -> np.ndarray:
    grey = np.clip((FAR_MM - depth.astype(np.float32)) / (FAR_MM - NEAR_MM), 0, 1)
    return np.repeat((grey * 255).astype(np.uint8)[..., None], 3, axis=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, nargs="?", default=Path("docs/face-samples.png"))
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--identities", type=int, default=4)
    parser.add_argument("--train", type=int, default=5, help="training samples shown per identity")
    parser.add_argument("--test", type=int, default=3, help="test samples shown per identity")
    parser.add_argument("--zoom", type=int, default=2)
    args = parser.parse_args()

    # Only RGB-D, with the default samples per identity: the same images as the default data's first identities.
    params = FaceParams(vggface2_identities=0, lfw_identities=0, rgbd_identities=max(args.identities, 1))
    root = args.data_root or ensure_embedded(RGBD_FACES, params)
    splits = {split: read_rgbd_faces(root, split) for split in ("train", "test")}
    size, gap = splits["train"].rgb.shape[-1], 2
    rows = []
    for label in range(min(args.identities, len(splits["train"].identities))):
        rgb_tiles, depth_tiles = [], []
        for split, count in (("train", args.train), ("test", args.test)):
            data = splits[split]
            picked = (data.labels == label).nonzero().flatten()[:count]
            for i in picked.tolist():
                rgb_tiles.append(
                    np.pad(data.rgb[i].permute(1, 2, 0).numpy(), ((0, 0), (0, gap), (0, 0)), constant_values=255)
                )
                depth_tiles.append(
                    np.pad(_depth_tile(data.depth[i, 0].numpy()), ((0, 0), (0, gap), (0, 0)), constant_values=255)
                )
            if split == "train":  # a wider white gap between training and test samples
                for tiles in (rgb_tiles, depth_tiles):
                    tiles.append(np.full((size, 3 * gap, 3), 255, np.uint8))
        rows += [np.concatenate(rgb_tiles, 1), np.full((gap, sum(t.shape[1] for t in rgb_tiles), 3), 255, np.uint8)]
        rows += [np.concatenate(depth_tiles, 1), np.full((4 * gap, rows[-1].shape[1], 3), 255, np.uint8)]
    width = max(r.shape[1] for r in rows)
    pixels = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows])
    picture = Image.fromarray(pixels)
    picture = picture.resize((picture.width * args.zoom, picture.height * args.zoom), Image.Resampling.NEAREST)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    picture.save(args.out)
    print(f"written: {args.out} ({args.identities} identities: colour above depth; training, then test samples)")


if __name__ == "__main__":
    main()
