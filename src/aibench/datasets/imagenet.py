"""ImageNet (ILSVRC-2012) in its class-folder layout: ROOT/imagenet/{train,val}/<wnid>/*.JPEG.

The reader is torchvision's ImageFolder with a loader that names the file when an image is corrupt.
The generator writes learnable class-folder JPEGs: each class is a distinct drawn motif (shape, colour,
texture) composited on crops of real photographs from skimage.data, so the network must separate
objects from real-image clutter rather than read off a flat colour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, UnidentifiedImageError
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

_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "immunohistochemistry",
           "motorcycle_left", "colorwheel", "retina", "cat")
_MOTIFS = ("disc", "square", "triangle", "ring", "cross", "hstripes", "vstripes", "checker", "diamond", "dots",
           "star", "bars")


def _photo_bank() -> list[np.ndarray]:
    from skimage import data as skdata

    bank = []
    for name in _PHOTOS:
        loader = getattr(skdata, name, None)
        if loader is None:
            continue
        try:
            img = np.asarray(loader())
        except Exception:  # some skimage images need an optional download (pooch): skip those
            continue
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        bank.append(img[..., :3].astype(np.uint8))
    if not bank:
        raise RuntimeError("skimage.data provided no photographs")
    return bank


def _background(bank: list[np.ndarray], size: int, rng: np.random.Generator) -> Image.Image:
    photo = bank[rng.integers(len(bank))]
    h, w = photo.shape[:2]
    crop = int(rng.integers(min(h, w) // 4, min(h, w) // 2 + 1))
    y, x = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
    return Image.fromarray(photo[y:y + crop, x:x + crop]).resize((size, size), Image.BILINEAR)


def _draw_motif(img: Image.Image, motif: str, colour: tuple[int, int, int], rng: np.random.Generator) -> None:
    size = img.size[0]
    draw = ImageDraw.Draw(img)
    r = size * rng.uniform(0.28, 0.42)
    cx, cy = size / 2 + rng.uniform(-0.12, 0.12) * size, size / 2 + rng.uniform(-0.12, 0.12) * size
    box = (cx - r, cy - r, cx + r, cy + r)
    width = max(1, int(r / 4))
    if motif == "disc":
        draw.ellipse(box, fill=colour)
    elif motif == "square":
        draw.rectangle(box, fill=colour)
    elif motif == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    elif motif == "ring":
        draw.ellipse(box, outline=colour, width=width)
    elif motif == "cross":
        draw.line((cx - r, cy, cx + r, cy), fill=colour, width=width)
        draw.line((cx, cy - r, cx, cy + r), fill=colour, width=width)
    elif motif == "hstripes":
        for k in range(4):
            y = cy - r + k * r / 1.5
            draw.rectangle((cx - r, y, cx + r, y + r / 4), fill=colour)
    elif motif == "vstripes":
        for k in range(4):
            x = cx - r + k * r / 1.5
            draw.rectangle((x, cy - r, x + r / 4, cy + r), fill=colour)
    elif motif == "checker":
        step = r / 2
        for i in range(4):
            for j in range(4):
                if (i + j) % 2 == 0:
                    x, y = cx - r + i * step, cy - r + j * step
                    draw.rectangle((x, y, x + step, y + step), fill=colour)
    elif motif == "diamond":
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=colour)
    elif motif == "dots":
        for i in range(3):
            for j in range(3):
                x, y = cx - r + i * r, cy - r + j * r
                draw.ellipse((x - r / 5, y - r / 5, x + r / 5, y + r / 5), fill=colour)
    elif motif == "star":
        pts = []
        for k in range(10):
            rad = r if k % 2 == 0 else r / 2.5
            ang = np.pi / 2 + k * np.pi / 5
            pts.append((cx + rad * np.cos(ang), cy - rad * np.sin(ang)))
        draw.polygon(pts, fill=colour)
    else:  # bars
        draw.rectangle((cx - r, cy - r / 5, cx + r, cy + r / 5), fill=colour)
        draw.rectangle((cx - r, cy + r / 2, cx + r, cy + r / 2 + r / 5), fill=colour)


def generate_imagenet(root: Path, params: Mapping[str, Any], seed: int) -> None:
    """Write ROOT/imagenet/{train,val}/<wnid>/*.JPEG.

    params: classes (<= 12), train_per_class, val_per_class, image_size.
    """
    classes = int(params.get("classes", 10))
    if not 2 <= classes <= len(_MOTIFS):
        raise ValueError(f"embedded ImageNet supports 2..{len(_MOTIFS)} classes, got {classes}")
    size = int(params.get("image_size", 40))
    rng = np.random.default_rng(seed)
    bank = _photo_bank()
    for split, count in (("train", int(params.get("train_per_class", 100))),
                         ("val", int(params.get("val_per_class", 30)))):
        for c in range(classes):
            wnid = f"n{c:08d}"  # ImageNet-style WordNet ids, one folder per class
            folder = root / "imagenet" / split / wnid
            folder.mkdir(parents=True, exist_ok=True)
            for k in range(count):
                img = _background(bank, size, rng)
                # A random colour per image: the motif's shape, not its colour, carries the class.
                hsv = (rng.uniform(), rng.uniform(0.5, 1.0), rng.uniform(0.6, 1.0))
                colour = tuple(int(v * 255) for v in _hsv_to_rgb(*hsv))
                _draw_motif(img, _MOTIFS[c], colour, rng)
                img.save(folder / f"{wnid}_{k:05d}.JPEG", quality=90)


def _hsv_to_rgb(h: float, s: float, v: float) -> tuple[float, float, float]:
    import colorsys

    return colorsys.hsv_to_rgb(h, s, v)


IMAGENET = DatasetSpec(
    name="imagenet",
    required=("imagenet/train", "imagenet/val"),
    generate=generate_imagenet,
    layout_hint="DATA_ROOT/imagenet/{train,val}/<wnid>/*.JPEG",
)
