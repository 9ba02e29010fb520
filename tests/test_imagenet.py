"""The ImageNet class-folder reader on real-format fixtures, and the top-k metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aibench.datasets.embedded import DataLayoutError, check_layout
from aibench.datasets.imagenet import IMAGENET, ImageNetParams, generate_imagenet, image_folder
from aibench.metrics.classification import topk_accuracy, topk_classes


def _jpeg(path: Path, colour: tuple[int, int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (20, 16), colour).save(path, "JPEG")


def test_reads_imagenet_class_folders_with_upper_case_extension(tmp_path: Path):
    for split in ("train", "val"):
        _jpeg(tmp_path / "imagenet" / split / "n01440764" / "n01440764_10026.JPEG", (255, 0, 0))
        _jpeg(tmp_path / "imagenet" / split / "n01443537" / "n01443537_1.JPEG", (0, 0, 255))
    check_layout(IMAGENET, tmp_path)
    ds = image_folder(tmp_path, "train")
    assert ds.classes == ["n01440764", "n01443537"]
    image, label = ds[1]
    assert image.size == (20, 16) and label == 1


def test_corrupt_image_error_names_the_file(tmp_path: Path):
    bad = tmp_path / "imagenet" / "train" / "n01440764" / "broken.JPEG"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DataLayoutError, match="broken.JPEG"):
        image_folder(tmp_path, "train")[0]


def _classes(root: Path, train: list[str], val: list[str]) -> None:
    for split, names in (("train", train), ("val", val)):
        for name in names:
            _jpeg(root / "imagenet" / split / name / f"{name}_1.JPEG", (9, 9, 9))


@pytest.mark.parametrize(
    "train, val, message",
    [
        (["n01"], ["n01"], "holds 1 class folder(s); classification needs at least 2"),
        (["n01", "n02", "n03"], ["n01", "n02", "n04"], "only in train: n03; only in val: n04"),
    ],
)
def test_class_folders_must_hold_together(tmp_path: Path, train, val, message):
    _classes(tmp_path, train, val)
    with pytest.raises(DataLayoutError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_layout(IMAGENET, tmp_path)


def test_a_file_where_the_train_folder_belongs(tmp_path: Path):
    (tmp_path / "imagenet").mkdir()
    (tmp_path / "imagenet" / "train").write_text("not a folder")
    (tmp_path / "imagenet" / "val").mkdir()
    with pytest.raises(DataLayoutError, match="train is not a folder"):
        check_layout(IMAGENET, tmp_path)


def test_missing_layout_names_the_path(tmp_path: Path):
    with pytest.raises(DataLayoutError, match=str(tmp_path / "imagenet" / "train")):
        check_layout(IMAGENET, tmp_path)


def test_generator_writes_what_the_reader_reads(tmp_path: Path):
    generate_imagenet(tmp_path, ImageNetParams(classes=3, train_per_class=2, val_per_class=1, image_size=24), 0)
    train, val = image_folder(tmp_path, "train"), image_folder(tmp_path, "val")
    assert len(train) == 6 and len(val) == 3 and train.classes == val.classes
    assert all(p.endswith(".JPEG") for p, _ in train.samples)


def test_topk_accuracy():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 3.0], [5.0, 0.0, 0.0], [0.0, 2.0, 1.0]])
    top = topk_classes(logits)
    assert top.shape == (4, 3) and top[1].tolist() == [2, 1, 0]
    assert topk_accuracy(top, np.array([0, 2, 1, 1])) == {"top1": 0.75, "top5": 1.0}
