"""The MNIST IDX reader (plain and .gz, truncated and corrupt files), the distorted-MNIST generator and the STN's
accuracy metric."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from aibench.datasets.embedded import DataLayoutError, check_layout
from aibench.datasets.mnist import MNIST, MnistParams, digit_scans, generate_mnist, read_mnist, write_idx


def _write_split(root: Path, prefix: str, n: int, gz: bool = False) -> np.ndarray:
    folder = root / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    images = np.arange(n * 28 * 28, dtype=np.uint8).reshape(n, 28, 28)
    ext = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{ext}", images)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{ext}", np.arange(n, dtype=np.uint8) % 10)
    return images


def test_reads_plain_and_gzipped_idx_files(tmp_path: Path):
    train = _write_split(tmp_path, "train", 12)
    test = _write_split(tmp_path, "t10k", 5, gz=True)
    # The real files' header, byte for byte: magic 0x00000803, then N, 28, 28 big-endian.
    head = (tmp_path / "mnist" / "train-images-idx3-ubyte").read_bytes()[:16]
    assert head == bytes.fromhex("00000803") + (12).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    check_layout(MNIST, tmp_path)
    images, labels = read_mnist(tmp_path, "train")
    assert np.array_equal(images, train) and labels.tolist() == [i % 10 for i in range(12)]
    images, labels = read_mnist(tmp_path, "test")
    assert np.array_equal(images, test) and labels.dtype == np.int64 and len(labels) == 5


def test_missing_file_is_named(tmp_path: Path):
    _write_split(tmp_path, "train", 3)
    with pytest.raises(DataLayoutError, match="t10k-images-idx3-ubyte"):
        check_layout(MNIST, tmp_path)


def test_truncated_file_is_named(tmp_path: Path):
    _write_split(tmp_path, "train", 3)
    _write_split(tmp_path, "t10k", 3)
    path = tmp_path / "mnist" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(DataLayoutError, match="truncated.*train-images-idx3-ubyte"):
        check_layout(MNIST, tmp_path)


def test_truncated_gzip_stream_is_named(tmp_path: Path):
    _write_split(tmp_path, "train", 3)
    _write_split(tmp_path, "t10k", 3, gz=True)
    path = tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-12])  # cut inside the compressed stream
    with pytest.raises(DataLayoutError, match="t10k-labels-idx1-ubyte.gz"):
        read_mnist(tmp_path, "test")


def test_wrong_magic_and_mismatched_counts_are_named(tmp_path: Path):
    _write_split(tmp_path, "train", 4)
    _write_split(tmp_path, "t10k", 4)
    labels = tmp_path / "mnist" / "train-labels-idx1-ubyte"
    images = tmp_path / "mnist" / "train-images-idx3-ubyte"
    labels.write_bytes(images.read_bytes())  # an images file where the labels belong
    with pytest.raises(DataLayoutError, match="train-labels-idx1-ubyte.*magic"):
        read_mnist(tmp_path, "train")
    write_idx(labels, np.zeros(3, np.uint8))
    with pytest.raises(DataLayoutError, match="4 images but .*3 labels"):
        read_mnist(tmp_path, "train")


def test_generator_writes_what_the_reader_reads_from_disjoint_scans(tmp_path: Path):
    params = MnistParams(train_samples=30, test_samples=10, canvas=32, clutter=1)
    generate_mnist(tmp_path, params, seed=3)
    check_layout(MNIST, tmp_path)
    images, labels = read_mnist(tmp_path, "train")
    assert images.shape == (30, 32, 32) and images.max() > 200 and set(labels) <= set(range(10))
    assert read_mnist(tmp_path, "test")[0].shape == (10, 32, 32)
    scans = digit_scans(3)
    train = {s.tobytes() for s in scans["train"][0]}
    assert not any(s.tobytes() in train for s in scans["test"][0])
    assert len(scans["train"][0]) + len(scans["test"][0]) == 1797


def test_accuracy_matches_scikit_learn_and_a_hand_count():
    from aibench.benchmarks.spatial_transformer.benchmark import SpatialTransformer

    bench = SpatialTransformer.__new__(SpatialTransformer)
    bench.test_labels = np.array([3, 1, 4, 1, 5])
    outputs = {i: np.array([p]) for i, p in enumerate([3, 1, 4, 0, 0])}
    metrics = bench.score(outputs)
    assert metrics["accuracy"] == pytest.approx(3 / 5)
    assert metrics["accuracy"] == accuracy_score(bench.test_labels, [3, 1, 4, 0, 0])
