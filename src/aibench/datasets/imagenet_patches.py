"""32x32 patches of ImageNet for image compression (DC-AI-C12), read from ImageNet's class-folder layout:
ROOT/imagenet/{train,val}/<wnid>/*.JPEG. Classes are ignored.

The reader is C1's (`aibench.datasets.imagenet.image_folder`, whose loader names a corrupt file): training takes
one random patch of each image per epoch, evaluation one fixed patch per validation image (its centre).

The generator writes an embedded stand-in in the same layout: small crops of real photographs (skimage.data),
each drawn at a random scale (a 1x to 6x larger square of the photograph, shrunk with antialiasing), a random
quarter turn and mirror, and saved as high-quality JPEG. Training and validation crops come from disjoint
photographs, so no evaluation patch is a crop of a training source. The photographs are chosen for detail
(textures, hair, foliage, printed text, gravel) because a codec must code detail: a patch's mean colour and a 4x
down/up-sampling (`aibench baselines C12`) lose it and score far below the target. The crops are written into
two class folders only because C1's layout check wants at least two classes; the compression benchmark never
reads the class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from aibench.datasets.embedded import DatasetSpec
from aibench.datasets.imagenet import IMAGENET_LAYOUT, check_imagenet
from aibench.datasets.photos import load_photos

# Colour and grey photographs with fine detail; the two splits share none (skimage's `cat` is `chelsea`).
_TRAIN_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "brick",
    "grass",
    "camera",
    "coins",
    "immunohistochemistry",
    "hubble_deep_field",
)
_VAL_PHOTOS = ("gravel", "page", "text")
_CLASSES = ("n00000000", "n00000001")  # C1's layout check needs two or more class folders


@dataclass(frozen=True)
class PatchParams:
    """Size of an embedded ImageNet-format set of small images (patches are cut from them by the reader)."""

    train_images: int = 2000
    val_images: int = 300
    image_size: int = 40  # side of each written image; the reader cuts patch-sized squares from it
    max_zoom: float = 6.0  # each crop covers 1x to max_zoom x image_size pixels of the photograph

    def __post_init__(self) -> None:
        if min(self.train_images, self.val_images) < len(_CLASSES):
            raise ValueError(f"need at least {len(_CLASSES)} images per split")
        if self.image_size < 16 or self.max_zoom < 1:
            raise ValueError(f"image_size must be >= 16 and max_zoom >= 1, got {self.image_size}/{self.max_zoom}")


def _crop(photo: Image.Image, params: PatchParams, rng: np.random.Generator) -> Image.Image:
    w, h = photo.size
    side = min(int(params.image_size * rng.uniform(1.0, params.max_zoom)), w, h)
    x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    img = photo.crop((x, y, x + side, y + side)).resize(
        (params.image_size, params.image_size), Image.Resampling.LANCZOS
    )
    img = img.rotate(90 * int(rng.integers(4)))
    return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else img


def _write_split(root: Path, split: str, names: Sequence[str], count: int, params: PatchParams, seed: int) -> None:
    photos = [p.image for p in load_photos(names)]
    rng = np.random.default_rng([seed, 1 if split == "train" else 2])
    for wnid in _CLASSES:
        (root / "imagenet" / split / wnid).mkdir(parents=True, exist_ok=True)
    for k in range(count):
        img = _crop(photos[k % len(photos)], params, rng)  # every photograph equally often
        wnid = _CLASSES[k % len(_CLASSES)]
        img.save(root / "imagenet" / split / wnid / f"{wnid}_{k:06d}.JPEG", quality=95)


def generate_imagenet_patches(root: Path, params: PatchParams | Mapping[str, Any], seed: int) -> None:
    """Write ROOT/imagenet/{train,val}/<wnid>/*.JPEG: crops of disjoint photographs for the two splits."""
    if isinstance(params, Mapping):
        params = PatchParams(**params)
    _write_split(root, "train", _TRAIN_PHOTOS, params.train_images, params, seed)
    _write_split(root, "val", _VAL_PHOTOS, params.val_images, params, seed)


IMAGENET_PATCHES = DatasetSpec(
    name="imagenet-patches",
    required=("imagenet/train", "imagenet/val"),
    generate=generate_imagenet_patches,
    params=PatchParams,
    validate=check_imagenet,
    version=1,
    layout_hint=IMAGENET_LAYOUT,
)
