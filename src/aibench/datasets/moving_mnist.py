"""Moving MNIST in the layout of Srivastava et al.'s release: ROOT/moving_mnist/mnist_test_seq.npy.

The file is one uint8 NumPy array of shape (frames, sequences, height, width), 20 x 10000 x 64 x 64 as released
(the layout the BenchCouncil code read for DC-AI-C11): two handwritten digits bouncing inside a 64x64 frame. The
reader checks the array's type, rank and that frames are square and at least as many as a sample needs; a
missing, truncated or non-NumPy file is a DataLayoutError naming it. The last `test_count` sequences are the test
split (the release has no split of its own; the generator writes its test sequences last).

The generator writes an embedded stand-in in the same file, made the way the release was: each sequence moves
two digits, each from a random position with a random direction and a speed of 2-5 pixels a frame, bouncing off
the frame's edges, and composes the frame as the pixel-wise maximum of the digits. The digits are scikit-learn's
1,797 real 8x8 scans upscaled to 28x28 (as for DC-AI-C15's MNIST); each digit's scans are split into training and
test sources before any sequence is drawn, so a test sequence never shows a digit seen in training.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aibench.datasets.embedded import DataLayoutError, DatasetSpec
from aibench.datasets.mnist import digit_scans, upscaled_digit

MOVING_MNIST_LAYOUT = "DATA_ROOT/moving_mnist/mnist_test_seq.npy (uint8, frames x sequences x 64 x 64)"
FILE = Path("moving_mnist") / "mnist_test_seq.npy"


def read_moving_mnist(root: Path, min_frames: int = 2) -> np.ndarray:
    """The (sequences, frames, H, W) uint8 array of ROOT/moving_mnist/mnist_test_seq.npy (memory-mapped)."""
    path = root / FILE
    if not path.is_file():
        raise DataLayoutError(f"missing {path}; expected {MOVING_MNIST_LAYOUT}")
    try:
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataLayoutError(f"corrupt or unreadable NumPy file {path}: {exc}") from exc
    if data.dtype != np.uint8 or data.ndim != 4 or data.shape[2] != data.shape[3]:
        raise DataLayoutError(
            f"{path} holds a {data.dtype} array of shape {data.shape}; expected uint8 frames x sequences x H x W "
            "with square frames (the release: 20 x 10000 x 64 x 64)"
        )
    if data.shape[0] < min_frames or data.shape[1] < 2:
        raise DataLayoutError(
            f"{path} holds {data.shape[1]} sequence(s) of {data.shape[0]} frames; at least 2 sequences of "
            f"{min_frames} frames are needed"
        )
    return data.transpose(1, 0, 2, 3)


def check_moving_mnist(root: Path) -> None:
    read_moving_mnist(root)


@dataclass(frozen=True)
class MovingMnistParams:
    """Size of an embedded Moving MNIST file; the test sequences are the last `test_sequences`."""

    train_sequences: int = 2000
    test_sequences: int = 200
    frames: int = 20
    size: int = 64  # frames are size x size; a digit is 28x28 as in the release
    digits: int = 2
    speed: tuple[float, float] = (2.0, 5.0)  # pixels per frame

    def __post_init__(self) -> None:
        if min(self.train_sequences, self.test_sequences) < 1 or self.frames < 2 or self.digits < 1:
            raise ValueError("embedded Moving MNIST needs >= 1 training and test sequence, >= 2 frames, >= 1 digit")
        if self.size < 28:
            raise ValueError(f"a frame must hold a 28x28 digit, got {self.size}")
        if not 0 <= self.speed[0] <= self.speed[1]:
            raise ValueError(f"speed must be 0 <= low <= high, got {self.speed}")


def _sequence(glyphs: list[np.ndarray], params: MovingMnistParams, rng: np.random.Generator) -> np.ndarray:
    """frames x size x size uint8: the glyphs bouncing inside the frame, composed by their maximum."""
    room = params.size - 28
    frames = np.zeros((params.frames, params.size, params.size), np.float32)
    for glyph in glyphs:
        pos = rng.uniform(0, room, 2)
        angle = rng.uniform(0, 2 * np.pi)
        vel = rng.uniform(*params.speed) * np.array([np.sin(angle), np.cos(angle)])
        for t in range(params.frames):
            y, x = (round(v) for v in pos)
            region = frames[t, y : y + 28, x : x + 28]
            np.maximum(region, glyph, out=region)
            pos = pos + vel
            for k in range(2):  # bounce: reflect the position and reverse the velocity at an edge
                if pos[k] < 0 or pos[k] > room:
                    pos[k] = -pos[k] if pos[k] < 0 else 2 * room - pos[k]
                    vel[k] = -vel[k]
    return np.clip(np.rint(frames * 255), 0, 255).astype(np.uint8)


def generate_moving_mnist(root: Path, params: MovingMnistParams | Mapping[str, Any], seed: int) -> None:
    """Write ROOT/moving_mnist/mnist_test_seq.npy: training sequences, then test sequences of unseen digits."""
    if isinstance(params, Mapping):
        params = MovingMnistParams(**params)
    sources = digit_scans(seed)
    parts = []
    for split, count in (("train", params.train_sequences), ("test", params.test_sequences)):
        scans, _ = sources[split]
        glyphs = [np.asarray(upscaled_digit(s), np.float32) for s in scans]
        rng = np.random.default_rng([seed, 1 if split == "train" else 2])
        picks = rng.integers(len(glyphs), size=(count, params.digits))
        parts.append(np.stack([_sequence([glyphs[i] for i in row], params, rng) for row in picks]))
    data = np.concatenate(parts).transpose(1, 0, 2, 3)  # the release's order: frames first
    (root / FILE.parent).mkdir(parents=True, exist_ok=True)
    np.save(root / FILE, np.ascontiguousarray(data))


MOVING_MNIST = DatasetSpec(
    name="moving_mnist",
    required=(str(FILE),),
    generate=generate_moving_mnist,
    params=MovingMnistParams,
    validate=check_moving_mnist,
    version=1,
    layout_hint=MOVING_MNIST_LAYOUT,
)
