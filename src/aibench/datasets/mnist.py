"""MNIST in its IDX layout: ROOT/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].

The reader parses LeCun's IDX format (big-endian magic 0x00000803 for 3-D uint8 images, 0x00000801 for 1-D
uint8 labels, then the dimensions, then the data), each file plain or gzip-compressed as distributed, and
checks magic numbers, sizes, that images and labels agree in count and that labels are digits; a missing,
truncated or corrupt file is a DataLayoutError naming it.

The generator writes an embedded stand-in in the same files: distorted handwritten digits in the manner of the
STN paper's distorted MNIST (rotation, scale and translation, "RTS", plus clutter). The digits are the 1,797
real 8x8 scans (16 grey levels) of scikit-learn's `load_digits`; a third of each digit's scans is set aside
first as the test sources, so no test digit was ever seen in training. Each sample upscales one scan to 28x28
(bicubic), then rotates it by up to +-45 degrees, scales it by 0.7-1.2 and places it at a random position in a
larger canvas (40x40 at the small profile), over clutter: a few random 6x6 crops of other scans of the same
split, as in the paper's cluttered MNIST.

Why this design: the digit's pose and position vary far more than the digits differ, so raw-pixel kNN and
logistic regression stay far below the small target (`aibench baselines DC-AI-C15`), while a network that
first undoes the pose (the spatial transformer) reaches it. The clutter keeps a fixed crop of the canvas from
being enough.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from aibench.datasets.embedded import DataLayoutError, DatasetSpec

MNIST_LAYOUT = "DATA_ROOT/mnist/{train,t10k}-images-idx3-ubyte and {train,t10k}-labels-idx1-ubyte, each optionally .gz"
SPLITS = {"train": "train", "test": "t10k"}  # split -> file prefix
_IMAGES_MAGIC, _LABELS_MAGIC = 0x00000803, 0x00000801  # uint8 data (0x08), 3 or 1 dimensions


def idx_path(root: Path, split: str, kind: str) -> Path:
    """The file of one split's images or labels under ROOT/mnist: the plain file if present, else the .gz."""
    base = root / "mnist" / f"{SPLITS[split]}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
    if base.is_file():
        return base
    gz = base.with_name(base.name + ".gz")
    if gz.is_file():
        return gz
    raise DataLayoutError(f"missing {base} (or {gz.name}); expected {MNIST_LAYOUT}")


def read_idx(path: Path, magic: int) -> np.ndarray:
    """The uint8 array of one IDX file (plain or .gz), after checking its magic number and size."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            data = path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:  # a truncated or corrupt gzip stream
        raise DataLayoutError(f"corrupt or unreadable IDX file {path}: {exc}") from exc
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataLayoutError(f"truncated IDX file {path}: {len(data)} bytes, shorter than its {header}-byte header")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataLayoutError(
            f"{path} is not an IDX file of uint8 with {ndim} dimension(s): magic {found:#010x}, expected {magic:#010x}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape))
    if len(data) != header + size:
        raise DataLayoutError(
            f"{'truncated' if len(data) < header + size else 'oversized'} IDX file {path}: "
            f"{len(data) - header} data bytes for shape {shape} ({size} expected)"
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def read_mnist(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, H, W) uint8, labels (N,) int64) of one split ('train' or 'test') under ROOT/mnist."""
    images_path, labels_path = idx_path(root, split, "images"), idx_path(root, split, "labels")
    images, labels = read_idx(images_path, _IMAGES_MAGIC), read_idx(labels_path, _LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataLayoutError(f"{images_path} holds {len(images)} images but {labels_path} {len(labels)} labels")
    if len(images) == 0:
        raise DataLayoutError(f"{images_path} holds no images")
    if labels.max() > 9:
        raise DataLayoutError(f"{labels_path} holds label {int(labels.max())}; MNIST labels are digits 0-9")
    return images, labels.astype(np.int64)


def check_mnist(root: Path) -> None:
    """All four files are present and readable, with matching counts and image sizes."""
    sizes = {split: read_mnist(root, split)[0].shape[1:] for split in SPLITS}
    if sizes["train"] != sizes["test"]:
        raise DataLayoutError(f"{root / 'mnist'}: training images are {sizes['train']}, test images {sizes['test']}")


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (gzip-compressed when the name ends in .gz)."""
    array = np.ascontiguousarray(array, np.uint8)
    blob = (0x0800 | array.ndim).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    blob += array.tobytes()
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(blob)
    else:
        path.write_bytes(blob)


# --- embedded data -------------------------------------------------------------------------------------

_TEST_FRACTION = 1 / 3  # of each digit's scans, held out as the sources of test samples


def digit_scans(seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Disjoint (scans (N, 8, 8) in [0, 1], labels) for 'train' and 'test': each scan belongs to one split."""
    from sklearn.datasets import load_digits  # the 1,797 scans ship with scikit-learn

    digits = load_digits()
    rng = np.random.default_rng([seed, 0])
    parts: dict[str, list[np.ndarray]] = {"train": [], "test": []}
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(digits.target == c))
        n_test = round(len(idx) * _TEST_FRACTION)
        parts["test"].append(idx[:n_test])
        parts["train"].append(idx[n_test:])
    scans = digits.images.astype(np.float32) / 16.0
    return {s: (scans[np.concatenate(p)], digits.target[np.concatenate(p)]) for s, p in parts.items()}


def upscaled_digit(scan: np.ndarray) -> Image.Image:
    """One 8x8 scan as a 28x28 MNIST-like digit (20x20 glyph box in a 28x28 frame), float 0..1."""
    glyph = Image.fromarray(np.pad(scan, 1), mode="F").resize((24, 24), Image.Resampling.BICUBIC)
    return Image.fromarray(np.pad(np.clip(np.asarray(glyph), 0, 1), 2), mode="F")


def _distorted(scan: np.ndarray, clutter_pool: np.ndarray, params: MnistParams, rng: np.random.Generator) -> np.ndarray:
    size = params.canvas
    canvas = np.zeros((size, size), np.float32)
    for _ in range(params.clutter):  # 6x6 fragments of other scans, upscaled like the digits
        other = np.asarray(upscaled_digit(clutter_pool[int(rng.integers(len(clutter_pool)))]))
        y, x = (int(v) for v in rng.integers(4, 28 - 4 - params.clutter_size + 1, 2))
        piece = other[y : y + params.clutter_size, x : x + params.clutter_size]
        cy, cx = (int(v) for v in rng.integers(0, size - params.clutter_size + 1, 2))
        region = canvas[cy : cy + params.clutter_size, cx : cx + params.clutter_size]
        np.maximum(region, piece, out=region)
    angle = rng.uniform(-params.rotation, params.rotation)
    scale = rng.uniform(*params.scale)
    digit = upscaled_digit(scan).rotate(angle, Image.Resampling.BILINEAR)
    side = max(4, round(28 * scale))
    digit_arr = np.asarray(digit.resize((side, side), Image.Resampling.BILINEAR))
    # The digit's 28x28 frame (its glyph box is ~70% of it) may reach past the canvas edge by its empty margin.
    margin = round(side * 0.15)
    y, x = (int(v) for v in rng.integers(-margin, size - side + margin + 1, 2))
    y0, x0, y1, x1 = max(y, 0), max(x, 0), min(y + side, size), min(x + side, size)
    region = canvas[y0:y1, x0:x1]
    np.maximum(region, digit_arr[y0 - y : y1 - y, x0 - x : x1 - x], out=region)
    return np.clip(np.rint(canvas * 255), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class MnistParams:
    """Size of an embedded distorted-MNIST data set and its distortions."""

    train_samples: int = 12000
    test_samples: int = 1000
    canvas: int = 40  # images are canvas x canvas
    rotation: float = 45.0  # degrees, uniform in +-rotation
    scale: tuple[float, float] = (0.7, 1.2)
    clutter: int = 2  # fragments of other digits per image
    clutter_size: int = 6

    def __post_init__(self) -> None:
        if min(self.train_samples, self.test_samples) < 1:
            raise ValueError("embedded MNIST needs at least one training and one test sample")
        if self.canvas < 28:
            raise ValueError(f"the canvas must hold a 28x28 digit, got {self.canvas}")
        lo, hi = self.scale
        if not 0 < lo <= hi or not 0 <= self.rotation <= 180 or self.clutter < 0 or not 1 <= self.clutter_size <= 20:
            raise ValueError("scale must be 0 < low <= high, rotation in [0, 180], clutter >= 0, clutter_size 1..20")


def generate_mnist(root: Path, params: MnistParams | Mapping[str, Any], seed: int) -> None:
    """Write ROOT/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte: distorted, cluttered scans."""
    if isinstance(params, Mapping):
        params = MnistParams(**params)
    folder = root / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    sources = digit_scans(seed)
    for split, count in (("train", params.train_samples), ("test", params.test_samples)):
        scans, labels = sources[split]
        rng = np.random.default_rng([seed, 1 if split == "train" else 2])
        # Every source scan once before any repeats, in a random order.
        order = np.concatenate([rng.permutation(len(scans)) for _ in range(-(-count // len(scans)))])[:count]
        images = np.stack([_distorted(scans[i], scans, params, rng) for i in order])
        write_idx(folder / f"{SPLITS[split]}-images-idx3-ubyte", images)
        write_idx(folder / f"{SPLITS[split]}-labels-idx1-ubyte", labels[order].astype(np.uint8))


MNIST = DatasetSpec(
    name="mnist",
    required=("mnist",),
    generate=generate_mnist,
    params=MnistParams,
    validate=check_mnist,
    version=1,
    layout_hint=MNIST_LAYOUT,
)
