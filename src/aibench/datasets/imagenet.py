"""ImageNet (ILSVRC-2012) in its class-folder layout: ROOT/imagenet/{train,val}/<wnid>/*.JPEG.

The reader is torchvision's ImageFolder with a loader that names the file when an image is corrupt.

The generator writes an embedded stand-in whose classes are defined by content, not by colour or by a source
image: class c is the handwritten digit c. The digits are the 1,797 real 8x8 scans of scikit-learn's
`load_digits` (43 writers); a third of each digit's scans is set aside for validation, so no validation digit
was ever seen in training. Each sample draws one scan, upscaled, at a random stroke width and a small random
offset, as a light stroke that brightens whatever lies under it (an achromatic increment, like chalk or a
projected mark) on an out-of-focus crop of a real photograph (skimage.data) that is tinted, overlaid with a
random colour gradient and uneven lighting (a smooth random field), and stretched to a wide range. Training
and validation backgrounds come from disjoint photographs.

Why this design: colour and position carry nothing about the class, and the background's colour and lighting
fields outweigh the digit in pixel space, so a colour histogram, raw RGB pixels or standardised grey pixels
with 5-NN stay far below the target (`aibench baselines C1`); edges are what separate the classes, and a
network that learns the stroke shapes reaches the target. Content that ResNet-50 at 32x32 can learn from
1,000 images in a few minutes of CPU is narrow: with digits in random colours, or smaller, rotated and
shifted digits, it stayed at top-1 0.1-0.4 for 7-12 epochs, and slightly fainter strokes (`stroke_gain`)
slow it markedly (docs/calibration.md).

An earlier version cut each class from a single photograph, with training and validation crops of the same
photograph: a colour histogram with 5-NN scored top-1 0.92 on it, above the quality target.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter, UnidentifiedImageError
from torchvision import datasets

from aibench.datasets.embedded import DataLayoutError, DatasetSpec
from aibench.datasets.photos import load_photos

IMAGENET_LAYOUT = "DATA_ROOT/imagenet/{train,val}/<wnid>/*.JPEG"


def load_rgb(path: str) -> Image.Image:
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataLayoutError(f"corrupt or unreadable image {path}: {exc}") from exc


def check_imagenet(root: Path) -> None:
    """The class-folder layout holds together: train and val are folders, with the same two or more classes."""
    classes = {}
    for split in ("train", "val"):
        folder = root / "imagenet" / split
        if not folder.is_dir():
            raise DataLayoutError(f"{folder} is not a folder (expected {IMAGENET_LAYOUT})")
        classes[split] = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if len(classes["train"]) < 2:
        raise DataLayoutError(
            f"{root / 'imagenet' / 'train'} holds {len(classes['train'])} class folder(s); "
            "classification needs at least 2 (one folder per class, named by its wnid)"
        )
    if classes["train"] != classes["val"]:
        only_train = sorted(set(classes["train"]) - set(classes["val"]))
        only_val = sorted(set(classes["val"]) - set(classes["train"]))
        raise DataLayoutError(
            f"{root / 'imagenet'}: train and val have different class folders (only in train: "
            f"{', '.join(only_train[:5]) or '-'}{' ...' if len(only_train) > 5 else ''}; only in val: "
            f"{', '.join(only_val[:5]) or '-'}{' ...' if len(only_val) > 5 else ''}); ImageNet's validation images "
            "must be sorted into the same class folders (valprep.sh)"
        )


def image_folder(root: Path, split: str, transform: Callable | None = None) -> datasets.ImageFolder:
    """One split (`train` or `val`) of ROOT/imagenet as an ImageFolder (classes sorted by wnid)."""
    folder = root / "imagenet" / split
    try:
        return datasets.ImageFolder(str(folder), transform=transform, loader=load_rgb)
    except (FileNotFoundError, RuntimeError) as exc:  # missing folder, or a class folder with no images
        raise DataLayoutError(f"cannot read ImageNet split at {folder}: {exc}") from exc


# --- embedded data -------------------------------------------------------------------------------------

# Disjoint background photographs for the two splits (skimage.data, bundled with scikit-image: nothing is
# downloaded), each with colour photographs and grey ones (which are tinted). skimage's `cat` is the same
# photograph as `chelsea`, so it is not used.
_TRAIN_PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "hubble_deep_field",
    "brick",
    "camera",
    "grass",
    "coins",
    "page",
    "logo",
)
_VAL_PHOTOS = ("retina", "immunohistochemistry", "gravel", "moon", "clock", "text", "colorwheel", "cell")
_VAL_FRACTION = 1 / 3  # of each digit's scans, held out for validation
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _photos(names: Sequence[str]) -> list[tuple[np.ndarray, bool]]:
    """Each photograph as float RGB, with whether it is grey."""
    return [(np.asarray(photo.image, np.float32), photo.grey) for photo in load_photos(names)]


def _digit_scans(classes: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training scans, validation scans) of each digit 0..classes-1, as 8x8 arrays in [0, 1]."""
    from sklearn.datasets import load_digits  # the 1,797 scans ship with scikit-learn

    digits = load_digits()
    rng = np.random.default_rng([seed, 0])
    pools = []
    for c in range(classes):
        idx = rng.permutation(np.flatnonzero(digits.target == c))
        n_val = round(len(idx) * _VAL_FRACTION)
        scans = digits.images.astype(np.float32) / 16.0
        pools.append((scans[idx[n_val:]], scans[idx[:n_val]]))
    return pools


def _background(
    photos: Sequence[tuple[np.ndarray, bool]], size: int, top: float, rng: np.random.Generator
) -> np.ndarray:
    """An out-of-focus crop of a random photograph under a random colour gradient and uneven lighting,
    stretched to [0, top]."""
    photo, grey = photos[int(rng.integers(len(photos)))]
    h, w = photo.shape[:2]
    side = max(8, int(min(h, w) * rng.uniform(0.1, 0.5)))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = np.rot90(photo[y : y + side, x : x + side], k=int(rng.integers(4)))
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    img = Image.fromarray(np.ascontiguousarray(crop).astype(np.uint8)).resize((size, size), Image.Resampling.BILINEAR)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(1.5, 3.0) * size / 40))
    bg = np.asarray(img, np.float32)
    if grey:
        bg = bg * rng.uniform(0.2, 1.0, 3).astype(np.float32)
    ramp = np.linspace(-0.5, 0.5, size, dtype=np.float32)
    slope = rng.uniform(-200, 200, (2, 3)).astype(np.float32)
    bg = bg + ramp[:, None, None] * slope[0] + ramp[None, :, None] * slope[1]
    # Uneven lighting: a smooth random field (a bicubic 3x3 grid), the same in every channel, so that grey
    # pixels are no cleaner than colour ones.
    field = Image.fromarray(rng.uniform(-1, 1, (3, 3)).astype(np.float32), mode="F")
    bg = bg + np.asarray(field.resize((size, size), Image.Resampling.BICUBIC))[..., None] * 300
    lo, hi = float(bg.min()), float(bg.max())
    return (bg - lo) / max(hi - lo, 1.0) * top


def _stroke(scan: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Soft mask (size x size, in [0, 1]) of one digit scan: upscaled, at a random stroke width and offset."""
    side = round(size * 0.8)
    glyph = Image.fromarray(np.pad(scan, 2), mode="F").resize((side, side), Image.Resampling.BICUBIC)
    mask = np.clip((np.asarray(glyph) - rng.uniform(0.25, 0.5)) / 0.15 + 0.5, 0.0, 1.0)
    canvas = np.zeros((size, size), np.float32)
    jitter = max(1, round(size / 20))
    oy, ox = ((size - side) // 2 + int(rng.integers(-jitter, jitter + 1)) for _ in range(2))
    y0, x0, y1, x1 = max(oy, 0), max(ox, 0), min(oy + side, size), min(ox + side, size)
    canvas[y0:y1, x0:x1] = mask[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
    return canvas


def _sample(
    scan: np.ndarray, photos: Sequence[tuple[np.ndarray, bool]], params: ImageNetParams, rng: np.random.Generator
) -> Image.Image:
    lo, hi = params.stroke_gain
    bg = _background(photos, params.image_size, 255.0 - hi, rng)
    img = bg + rng.uniform(lo, hi) * _stroke(scan, params.image_size, rng)[..., None]
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8))


@dataclass(frozen=True)
class ImageNetParams:
    """Size of an embedded ImageNet-format data set, and how faint its digits are."""

    classes: int = 10  # the digits 0..classes-1
    train_per_class: int = 100
    val_per_class: int = 30
    image_size: int = 40
    # Brightness (0-255) a digit's stroke adds, uniform in this range; the background spans 0..255-max.
    # Fainter strokes make the task harder for every method, the network included.
    stroke_gain: tuple[float, float] = (80.0, 120.0)

    def __post_init__(self) -> None:
        if not 2 <= self.classes <= 10:
            raise ValueError(f"embedded ImageNet has the ten digits as classes: 2..10 classes, got {self.classes}")
        if min(self.train_per_class, self.val_per_class) < 1 or self.image_size < 8:
            raise ValueError("embedded ImageNet needs at least one image per class and split, of at least 8 px")
        lo, hi = self.stroke_gain
        if not 0 < lo <= hi < 255:
            raise ValueError(f"stroke_gain must satisfy 0 < low <= high < 255, got {self.stroke_gain}")


def generate_imagenet(root: Path, params: ImageNetParams | Mapping[str, Any], seed: int) -> None:
    """Write ROOT/imagenet/{train,val}/<wnid>/*.JPEG: digit c in class folder n0000000c."""
    if isinstance(params, Mapping):
        params = ImageNetParams(**params)
    scans = _digit_scans(params.classes, seed)
    for split, count, names in (
        ("train", params.train_per_class, _TRAIN_PHOTOS),
        ("val", params.val_per_class, _VAL_PHOTOS),
    ):
        photos = _photos(names)
        for c in range(params.classes):
            pool = scans[c][0 if split == "train" else 1]
            rng = np.random.default_rng([seed, 1 if split == "train" else 2, c])
            wnid = f"n{c:08d}"  # ImageNet-style WordNet ids, one folder per class
            folder = root / "imagenet" / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            order = rng.permutation(len(pool))
            for k in range(count):  # every scan of the pool once before any repeats
                scan = pool[order[k % len(pool)]]
                _sample(scan, photos, params, rng).save(folder / f"{wnid}_{k:05d}.JPEG", quality=90)


IMAGENET = DatasetSpec(
    name="imagenet",
    required=("imagenet/train", "imagenet/val"),
    generate=generate_imagenet,
    params=ImageNetParams,
    validate=check_imagenet,
    version=3,
    layout_hint=IMAGENET_LAYOUT,
)
