"""The Cityscapes reader (C5's data) on generated frames, its errors naming the file, and C5's FCN-score metric."""

from pathlib import Path

import numpy as np
import pytest
import torch

from aibench.datasets.cityscapes import (
    IGNORE,
    NUM_CLASSES,
    CityscapesParams,
    check_cityscapes,
    generate_cityscapes,
    label_to_train_ids,
    list_frames,
    read_frame,
    train_id_colours,
)
from aibench.datasets.embedded import DataLayoutError
from aibench.metrics.segmentation import fcn_scores


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cityscapes")
    generate_cityscapes(out, CityscapesParams(train_count=4, val_count=2, width=32, height=16), seed=0)
    return out


def test_generated_frames_read_back_in_the_release_layout(root: Path) -> None:
    check_cityscapes(root)
    train, val = list_frames(root, "train"), list_frames(root, "val")
    assert len(train) == 4 and len(val) == 2
    assert train[0].photo.parts[-4:-2] == ("leftImg8bit", "train")
    photo, colour, ids = read_frame(train[0])
    assert photo.shape == colour.shape == (16, 32, 3) and ids.shape == (16, 32)
    assert set(np.unique(ids)) <= set(range(NUM_CLASSES))
    # The colour label map is the trainIds painted in Cityscapes' palette.
    assert np.array_equal(train_id_colours()[ids], colour)
    half_photo, _, half_ids = read_frame(train[0], size=(16, 8))
    assert half_photo.shape == (8, 16, 3) and half_ids.shape == (8, 16)


def test_label_ids_map_to_the_19_train_ids() -> None:
    table = label_to_train_ids()
    assert table[7] == 0 and table[26] == 13 and table[33] == 18  # road, car, bicycle
    assert table[0] == IGNORE and table[6] == IGNORE and table[34] == IGNORE


def test_missing_and_corrupt_files_are_named(root: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    frame = list_frames(copy, "train")[0]
    frame.label_ids.unlink()
    with pytest.raises(DataLayoutError, match=frame.label_ids.name):
        list_frames(copy, "train")
    frame = list_frames(copy, "val")[0]
    frame.photo.write_bytes(b"\x89PNG not really")
    with pytest.raises(DataLayoutError, match=frame.photo.name):
        read_frame(frame)
    with pytest.raises(DataLayoutError, match="leftImg8bit"):
        list_frames(tmp_path, "train")


def test_a_label_id_beyond_cityscapes_is_named(root: Path, tmp_path: Path) -> None:
    import shutil

    from PIL import Image

    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    frame = list_frames(copy, "train")[1]
    Image.fromarray(np.full((16, 32), 200, np.uint8)).save(frame.label_ids)
    with pytest.raises(DataLayoutError, match="labelId 200"):
        read_frame(frame)


def test_fcn_scores_match_a_hand_computed_case() -> None:
    """Three counted pixels (the fourth is ignored); class 2 never occurs, so the class means are over 0 and 1."""
    pred, target = torch.tensor([[0, 0], [1, 1]]), torch.tensor([[0, 1], [1, IGNORE]])
    scores = fcn_scores([(pred, target)], num_classes=3, ignore=IGNORE)
    assert scores["pixel_accuracy"] == pytest.approx(2 / 3)
    assert scores["class_accuracy"] == pytest.approx((1 + 1 / 2) / 2)  # class 0: 1 of 1, class 1: 1 of 2
    assert scores["class_iou"] == pytest.approx((1 / 2 + 1 / 2) / 2)  # class 0: 1/(1+1 fp), class 1: 1/(1+1 fn)
