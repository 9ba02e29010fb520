"""ImageNet (ILSVRC-2012) in its class-folder layout: ROOT/imagenet/{train,val}/<wnid>/*.JPEG.

The reader is torchvision's ImageFolder with a loader that names the file when an image is corrupt.
The generator writes learnable class-folder JPEGs cut from real photographs (skimage.data), one class per
photograph.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError
from torchvision import datasets

from aibench.datasets.embedded import DataLayoutError, DatasetSpec


def load_rgb(path: str) -> Image.Image:
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataLayoutError(f"corrupt or unreadable image {path}: {exc}") from exc


def image_folder(root: Path, split: str, transform: Callable | None = None) -> datasets.ImageFolder:
    """One split (`train` or `val`) of ROOT/imagenet as an ImageFolder (classes sorted by wnid)."""
    folder = root / "imagenet" / split
    try:
        return datasets.ImageFolder(str(folder), transform=transform, loader=load_rgb)
    except (FileNotFoundError, RuntimeError) as exc:  # missing folder, or a class folder with no images
        raise DataLayoutError(f"cannot read ImageNet split at {folder}: {exc}") from exc


# --- embedded data -------------------------------------------------------------------------------------

# One class per real photograph of skimage.data (all ship with scikit-image; nothing is downloaded).
# A sample is a random crop of its photograph at a random scale, flipped, rotated and re-lit, so the network
# must learn each scene's textures and structures, not memorise pixels.
_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
           "camera", "brick", "gravel", "coins", "moon")


def _photo(name: str) -> np.ndarray:
    from skimage import data as skdata

    img = np.asarray(getattr(skdata, name)())
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return img[..., :3].astype(np.uint8)


def _sample(photo: np.ndarray, size: int, rng: np.random.Generator) -> Image.Image:
    h, w = photo.shape[:2]
    crop = int(min(h, w) * rng.uniform(0.2, 0.5))
    y, x = int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))
    patch = photo[y:y + crop, x:x + crop].astype(np.float32)
    patch = patch * rng.uniform(0.7, 1.3) + rng.uniform(-25, 25)  # contrast and brightness
    patch = np.rot90(patch, k=int(rng.integers(4)))
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
    img = Image.fromarray(np.clip(patch, 0, 255).astype(np.uint8))
    return img.resize((size, size), Image.BILINEAR)


@dataclass(frozen=True)
class ImageNetParams:
    """Size of an embedded ImageNet-format data set."""

    classes: int = 10
    train_per_class: int = 100
    val_per_class: int = 30
    image_size: int = 40

    def __post_init__(self) -> None:
        if not 2 <= self.classes <= len(_PHOTOS):
            raise ValueError(f"embedded ImageNet supports 2..{len(_PHOTOS)} classes, got {self.classes}")
        if min(self.train_per_class, self.val_per_class, self.image_size) < 1:
            raise ValueError("embedded ImageNet needs at least one image per class and split, of at least 1 px")


def generate_imagenet(root: Path, params: ImageNetParams, seed: int) -> None:
    """Write ROOT/imagenet/{train,val}/<wnid>/*.JPEG."""
    size = params.image_size
    rng = np.random.default_rng(seed)
    for c, name in enumerate(_PHOTOS[:params.classes]):
        photo = _photo(name)
        wnid = f"n{c:08d}"  # ImageNet-style WordNet ids, one folder per class
        for split, count in (("train", params.train_per_class), ("val", params.val_per_class)):
            folder = root / "imagenet" / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for k in range(count):
                _sample(photo, size, rng).save(folder / f"{wnid}_{k:05d}.JPEG", quality=90)


IMAGENET = DatasetSpec(
    name="imagenet",
    required=("imagenet/train", "imagenet/val"),
    generate=generate_imagenet,
    params=ImageNetParams,
    layout_hint="DATA_ROOT/imagenet/{train,val}/<wnid>/*.JPEG",
)
