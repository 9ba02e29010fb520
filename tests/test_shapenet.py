"""ShapeNet in 3D-R2N2's layout (C13's data): binvox files, the reader's split and errors, the generator's cameras
agreeing with the perspective transformer, and the voxel IoU metric against a hand-computed case."""

from pathlib import Path

import numpy as np
import pytest
import torch

from aibench.benchmarks.object_reconstruction_3d.benchmark import project
from aibench.datasets.embedded import DataLayoutError
from aibench.datasets.shapenet import (
    CATEGORIES,
    METADATA,
    RENDERING,
    VOXELS,
    ShapeNetParams,
    check_shapenet,
    generate_shapenet,
    read_binvox,
    read_shapenet,
    shapenet_models,
    write_binvox,
)
from aibench.metrics.voxel import mean_voxel_iou

TINY = ShapeNetParams(train_per_category=2, test_per_category=1, views=4, image_size=32)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shapenet")
    generate_shapenet(path, TINY, seed=3)
    return path


def test_binvox_round_trip_in_its_x_z_y_order_and_malformed_files_are_named(tmp_path: Path) -> None:
    grid = np.random.default_rng(0).random((4, 5, 6)) < 0.4
    grid[:, :2] = True  # a run longer than 255 voxels is impossible here; the next grid has one
    path = tmp_path / "m.binvox"
    write_binvox(path, grid)
    assert np.array_equal(read_binvox(path), grid)
    single = np.zeros((32, 32, 32), bool)
    single[1, 2, 3] = True  # x=1, y=2, z=3: binvox stores index x*32*32 + z*32 + y
    write_binvox(path, single)
    runs = np.frombuffer(path.read_bytes().split(b"data\n", 1)[1], np.uint8)
    flat = np.repeat(runs[0::2], runs[1::2])
    assert flat.size == 32**3 and np.flatnonzero(flat).tolist() == [1 * 1024 + 3 * 32 + 2]
    assert np.array_equal(read_binvox(path), single)

    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DataLayoutError, match=f"{path}: truncated binvox data"):
        read_binvox(path)
    path.write_bytes(b"#binvox 1\ndim 2 2 2\ndata\n" + bytes((1, 7)))
    with pytest.raises(DataLayoutError, match="holds 7 voxels, its header says"):
        read_binvox(path)
    path.write_bytes(b"\x89PNG not a voxel file")
    with pytest.raises(DataLayoutError, match="is not a binvox file"):
        read_binvox(path)


def test_generated_objects_split_80_20_and_their_silhouettes_match_the_projected_voxels(root: Path) -> None:
    splits = shapenet_models(root)
    assert len(splits["train"]) == 2 * len(CATEGORIES) and len(splits["test"]) == len(CATEGORIES)
    assert not set(splits["train"]) & set(splits["test"])
    train = read_shapenet(root, "train", image_size=32, mask_size=32)
    assert train.images.shape == (12, 4, 3, 32, 32) and train.masks.shape == (12, 4, 32, 32)
    assert train.voxels.shape == (12, 32, 32, 32) and train.cameras.shape == (12, 4, 4)
    assert sorted(set(train.categories)) == sorted(CATEGORIES.values())
    # The projection loss compares projected volumes with the renderings' silhouettes: the generator's cameras,
    # the binvox axis order and the perspective transformer must agree, view by view.
    projected = project(train.voxels[:, None].float(), train.cameras) > 0.5
    masks = train.masks > 127
    iou = (projected & masks).sum((2, 3)).float() / (projected | masks).sum((2, 3)).clamp(min=1)
    assert iou.min() > 0.7, iou
    # An object's silhouette from another object's camera does not match: the test would catch a wrong camera.
    shuffled = project(train.voxels[:, None].float(), train.cameras.roll(1, 0)) > 0.5
    assert ((shuffled & masks).sum() / (shuffled | masks).sum()) < iou.mean()
    test = read_shapenet(root, "test", image_size=16, mask_size=32, views=2)
    assert test.images.shape == (6, 2, 3, 16, 16)


def test_missing_trees_and_corrupt_files_are_named(root: Path, tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError, match="missing .*ShapeNetRendering"):
        check_shapenet(tmp_path)
    synset, model_id = shapenet_models(root)["train"][0]
    copy = tmp_path / "copy"
    for tree in (RENDERING, VOXELS):
        src = root / tree / synset / model_id
        for file in src.rglob("*"):
            if file.is_file():
                dst = copy / tree / synset / model_id / file.relative_to(src)
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes(file.read_bytes())
    with pytest.raises(DataLayoutError, match="1 training and 0 test models"):
        check_shapenet(copy)  # one model of a synset is training; a test model is needed as well
    folder = root / RENDERING / synset / model_id / "rendering"
    png = folder / "01.png"
    good = png.read_bytes()
    try:
        png.write_bytes(good[: len(good) // 2])
        with pytest.raises(DataLayoutError, match=f"unreadable rendering {png}"):
            read_shapenet(root, "train", 32, 32)
    finally:
        png.write_bytes(good)
    meta = folder / METADATA
    lines = meta.read_text()
    try:
        meta.write_text("30 20 0 1.0\n")
        with pytest.raises(DataLayoutError, match=f"{meta}: each line must hold"):
            read_shapenet(root, "train", 32, 32)
        meta.write_text("30 20 0 one 36\n")
        with pytest.raises(DataLayoutError, match=f"unreadable camera metadata {meta}"):
            read_shapenet(root, "train", 32, 32)
    finally:
        meta.write_text(lines)


def test_embedded_parameters_keep_generated_test_objects_out_of_training() -> None:
    with pytest.raises(ValueError, match="would put generated test objects in training"):
        ShapeNetParams(train_per_category=40, test_per_category=5)


def test_voxel_iou_is_the_mean_of_each_shapes_intersection_over_union() -> None:
    truth = torch.zeros(2, 4, 4, 4, dtype=torch.bool)
    truth[0, :2] = True  # 32 voxels
    truth[1, 0, 0, :2] = True  # 2 voxels
    predicted = torch.zeros(2, 4, 4, 4)
    predicted[0, :1] = 0.9  # 16 of the 32, none outside: IoU 0.5
    predicted[0, 3, 3, 3] = 0.4  # below the 0.5 threshold: not occupied
    predicted[1, 0, 0, :3] = 0.7  # 2 of 2 plus one more: IoU 2/3
    assert mean_voxel_iou(predicted, truth) == pytest.approx((0.5 + 2 / 3) / 2)
    assert mean_voxel_iou(truth.float(), truth) == 1.0
    with pytest.raises(ValueError, match="differ"):
        mean_voxel_iou(predicted[:1], truth)
