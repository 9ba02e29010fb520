"""The Moving MNIST reader (C11's data) on generated and hand-made files, its errors naming the file, and C11's
per-frame squared-error metric."""

from pathlib import Path

import numpy as np
import pytest
import torch

from aibench.datasets.embedded import DataLayoutError
from aibench.datasets.mnist import digit_scans
from aibench.datasets.moving_mnist import FILE, MovingMnistParams, generate_moving_mnist, read_moving_mnist
from aibench.metrics.video import mse_per_frame


def test_generated_sequences_read_back_in_the_release_layout(tmp_path: Path) -> None:
    generate_moving_mnist(tmp_path, MovingMnistParams(train_sequences=3, test_sequences=2, frames=6), seed=0)
    raw = np.load(tmp_path / FILE)
    assert raw.shape == (6, 5, 64, 64) and raw.dtype == np.uint8  # frames first, as released
    seqs = read_moving_mnist(tmp_path)
    assert seqs.shape == (5, 6, 64, 64)
    assert np.array_equal(seqs[1, 2], raw[2, 1])
    # Digits move: consecutive frames differ, and every frame shows ink.
    assert all((seqs[:, t] != seqs[:, t + 1]).any() for t in range(5))
    assert (seqs.reshape(5, 6, -1).max(-1) > 200).all()


def test_training_and_test_digits_come_from_disjoint_scans() -> None:
    sources = digit_scans(0)
    train = {s.tobytes() for s in sources["train"][0]}
    assert not any(s.tobytes() in train for s in sources["test"][0])


def test_missing_corrupt_and_misshapen_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError, match="missing .*mnist_test_seq.npy"):
        read_moving_mnist(tmp_path)
    path = tmp_path / FILE
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a numpy file")
    with pytest.raises(DataLayoutError, match="corrupt or unreadable NumPy file .*mnist_test_seq.npy"):
        read_moving_mnist(tmp_path)
    np.save(path, np.zeros((20, 3, 64, 64), np.float32))
    with pytest.raises(DataLayoutError, match="float32 array of shape"):
        read_moving_mnist(tmp_path)
    np.save(path, np.zeros((4, 3, 64, 64), np.uint8))
    with pytest.raises(DataLayoutError, match="3 sequence\\(s\\) of 4 frames; at least 2 sequences of 20"):
        read_moving_mnist(tmp_path, min_frames=20)


def test_mse_per_frame_is_the_summed_squared_error_of_a_frame() -> None:
    truth = torch.zeros(1, 2, 2, 2)
    predicted = truth.clone()
    predicted[0, 0, 0, 0] = 1.0  # frame 1: one pixel off by 1; frame 2: two pixels off by 0.5
    predicted[0, 1, 0, :] = 0.5
    assert mse_per_frame(predicted, truth) == pytest.approx((1.0 + 0.5) / 2)
    with pytest.raises(ValueError, match="differ"):
        mse_per_frame(predicted, truth[:, :1])
