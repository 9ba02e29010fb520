"""The face data shared by C7 and C8: the generator (deterministic, identities disjoint between VGGFace2 and LFW,
RGB-D test poses outside the training ones, depth in millimetres), the readers of the three layouts with their
errors naming the line or file, LFW's 10-fold verification accuracy against a hand-computed case, and the
baselines on a tiny generated set."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aibench.baselines.faces import (
    colour_histograms,
    lfw_verification,
    nearest_identity,
    raw_pixels,
    rgbd_pixels,
)
from aibench.datasets.embedded import DataLayoutError, check_layout
from aibench.datasets.faces import (
    _TEST_PHOTOS,
    _TRAIN_PHOTOS,
    FACES,
    FOLDS,
    PAIRS,
    RGBD,
    RGBD_FACES,
    SPLIT,
    TEST_POSES,
    TRAIN_POSES,
    VGGFACE2,
    VGGFACE2_LFW,
    FaceParams,
    FaceRenderer,
    face_identities,
    generate_faces,
    lfw_image,
    load_depth,
    load_face_image,
    load_face_images,
    read_lfw_pairs,
    read_rgbd_faces,
    read_rgbd_split,
    read_vggface2,
    rgbd_samples,
)
from aibench.metrics.verification import best_threshold, fold_accuracies, verification_accuracy

# The smallest data every layout allows: LFW's ten folds of two people each, one pair of each kind per fold.
TINY = FaceParams(
    vggface2_identities=3,
    lfw_identities=20,
    rgbd_identities=3,
    samples_per_identity=4,
    lfw_images_per_identity=2,
    pairs_per_fold=1,
    rgbd_test_fraction=0.5,
    image_size=32,
)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("faces")
    generate_faces(root, TINY, seed=0)
    return root


@pytest.fixture
def root_copy(tiny_root: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny data, for tests that damage it."""
    return Path(shutil.copytree(tiny_root, tmp_path / "faces"))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_generation_is_deterministic_per_seed(tiny_root: Path, tmp_path: Path) -> None:
    generate_faces(tmp_path / "same", TINY, seed=0)
    generate_faces(tmp_path / "other", TINY, seed=1)
    reference = _files(tiny_root)
    assert _files(tmp_path / "same") == reference
    other = _files(tmp_path / "other")
    assert other.keys() - reference.keys() or any(other[k] != v for k, v in reference.items() if k in other)


def test_generated_data_has_the_three_layouts(tiny_root: Path) -> None:
    for spec in (VGGFACE2_LFW, RGBD_FACES, FACES):
        check_layout(spec, tiny_root)
    faces = read_vggface2(tiny_root)
    assert faces.identities == ["n000001", "n000002", "n000003"]
    assert [p.name for p in faces.paths[:4]] == ["0001_01.jpg", "0002_01.jpg", "0003_01.jpg", "0004_01.jpg"]
    assert faces.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    images = load_face_images(faces.paths, 16)
    assert images.shape == (12, 3, 16, 16) and images.dtype == torch.uint8
    assert load_face_image(faces.paths[0]).shape == (32, 32, 3)


def test_identities_and_backgrounds_are_disjoint_between_training_and_evaluation(tiny_root: Path) -> None:
    people = face_identities(TINY, seed=0)
    train = {p.vector().tobytes() for p in people["vggface2"]}
    assert len(people["lfw"]) == 20 and not any(p.vector().tobytes() in train for p in people["lfw"])
    assert not set(_TRAIN_PHOTOS) & set(_TEST_PHOTOS)
    names = {p.name for p in (tiny_root / "lfw").iterdir() if p.is_dir()}
    assert len(names) == 20 and not names & set(read_vggface2(tiny_root).identities)
    # The same identity is drawn whatever the other layouts' sizes (so a picture of the first few is the data's).
    assert (
        face_identities(FaceParams(vggface2_identities=0, lfw_identities=0, rgbd_identities=1), 0)["rgbd"][0]
        == (people["rgbd"][0])
    )


def test_generated_pairs_follow_the_ten_fold_protocol(tiny_root: Path) -> None:
    lines = (tiny_root / PAIRS).read_text().splitlines()
    assert lines[0].split() == [str(FOLDS), "1"] and len(lines) == 1 + FOLDS * 2
    pairs = read_lfw_pairs(tiny_root)
    assert pairs.same.tolist() == [True, False] * FOLDS
    assert pairs.folds.tolist() == [f for f in range(FOLDS) for _ in range(2)]
    people = [{i.parent.name for i in (pairs.images[pairs.left[k]], pairs.images[pairs.right[k]])} for k in range(20)]
    assert all(len(people[2 * f]) == 1 and len(people[2 * f + 1]) == 2 for f in range(FOLDS))
    folds = [people[2 * f] | people[2 * f + 1] for f in range(FOLDS)]
    assert all(not folds[a] & folds[b] for a in range(FOLDS) for b in range(a))  # folds are disjoint in people


def _lfw_root(root: Path, pairs: str) -> Path:
    for name, count in (("Ann_Lee", 2), ("Bo_Chan", 2)):
        for i in range(1, count + 1):
            path = lfw_image(root, name, i)
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(path)
    (root / PAIRS).write_text(pairs)
    return root


def test_pairs_file_round_trip_and_malformed_lines(tmp_path: Path) -> None:
    root = _lfw_root(tmp_path, "2\t1\nAnn_Lee\t1\t2\nAnn_Lee 1 Bo_Chan 1\n\nBo_Chan\t1\t2\nBo_Chan\t2\tAnn_Lee\t2\n")
    pairs = read_lfw_pairs(root)
    assert [p.name for p in pairs.images] == [
        "Ann_Lee_0001.jpg",
        "Ann_Lee_0002.jpg",
        "Bo_Chan_0001.jpg",
        "Bo_Chan_0002.jpg",
    ]
    assert pairs.left.tolist() == [0, 0, 2, 3] and pairs.right.tolist() == [1, 2, 3, 1]
    assert pairs.same.tolist() == [True, False, True, False] and pairs.folds.tolist() == [0, 0, 1, 1]
    path = root / PAIRS
    for text, message in (
        ("2 1\nAnn_Lee 1 x\n", "line 2: expected a matched 'name i j' pair \\(fold 1\\)"),
        ("2 1\nAnn_Lee 1 2\nAnn_Lee 1 2\nBo_Chan 1 2\nBo_Chan 2 Ann_Lee 2\n", "line 3: expected a mismatched"),
        ("2 1\nAnn_Lee 1 2\nAnn_Lee 1 Bo_Chan 0\nBo_Chan 1 2\nBo_Chan 2 Ann_Lee 2\n", "line 3"),
        ("ten 300\n", "line 1: expected '<folds> <pairs per fold>'"),
        ("2 1\nAnn_Lee 1 2\n", "holds 1 pair lines after its header; '2 1' means 4"),
    ):
        path.write_text(text)
        with pytest.raises(DataLayoutError, match=f"{path}.*{message}"):
            read_lfw_pairs(root)
    path.write_text("1 1\nAnn_Lee 1 3\nAnn_Lee 1 Bo_Chan 1\n")
    with pytest.raises(DataLayoutError, match="names a missing image .*Ann_Lee_0003.jpg"):
        read_lfw_pairs(root)


def test_missing_and_corrupt_files_are_named(root_copy: Path) -> None:
    with pytest.raises(DataLayoutError, match="missing .*rgbd_faces/split.txt"):
        check_layout(RGBD_FACES, root_copy / "nowhere")
    jpeg = root_copy / VGGFACE2 / "n000002" / "0003_01.jpg"
    jpeg.write_bytes(jpeg.read_bytes()[: len(jpeg.read_bytes()) // 2])
    with pytest.raises(DataLayoutError, match=f"corrupt or unreadable image {jpeg}"):
        load_face_images(read_vggface2(root_copy).paths, 32)
    depth = root_copy / RGBD / "id0002" / "0001_depth.png"
    depth.write_bytes(depth.read_bytes()[:-20])  # the pixels still decode; the end chunk is gone
    with pytest.raises(DataLayoutError, match=f"truncated depth map {depth}"):
        read_rgbd_faces(root_copy, "train")
    Image.new("L", (32, 32)).save(depth)
    with pytest.raises(DataLayoutError, match=f"depth map {depth} is mode L; expected a 16-bit"):
        load_depth(depth)
    depth.unlink()
    with pytest.raises(DataLayoutError, match=f"lists id0002/0001, but {depth} is missing"):
        read_rgbd_split(root_copy)
    for image in (root_copy / VGGFACE2 / "n000003").iterdir():
        image.unlink()
    with pytest.raises(DataLayoutError, match="identity folder .*n000003 holds no .jpg images"):
        read_vggface2(root_copy)
    gone = read_lfw_pairs(root_copy).images[5]
    gone.unlink()
    with pytest.raises(DataLayoutError, match=f"names a missing image {gone}"):
        read_lfw_pairs(root_copy)


def test_split_file_lines_and_closed_set(root_copy: Path) -> None:
    split = root_copy / SPLIT
    lines = split.read_text().splitlines()
    split.write_text("\n".join([*lines[:3], "val id0001/0001", *lines[3:]]))
    with pytest.raises(DataLayoutError, match=f"{split}, line 4: expected 'train <id>/<n>'"):
        read_rgbd_split(root_copy)
    split.write_text("\n".join(line for line in lines if not line.startswith("train id0003")))
    with pytest.raises(DataLayoutError, match="test identity id0003 has no training samples"):
        read_rgbd_split(root_copy)


def test_rgbd_samples_read_back_with_millimetre_depth(tiny_root: Path) -> None:
    depth_png = Image.open(tiny_root / RGBD / "id0001" / "0001_depth.png")
    assert depth_png.mode == "I;16"
    train, test = read_rgbd_faces(tiny_root, "train"), read_rgbd_faces(tiny_root, "test")
    assert train.rgb.shape == (6, 3, 32, 32) and train.rgb.dtype == torch.uint8
    assert train.depth.shape == (6, 1, 32, 32) and train.depth.dtype == torch.uint16
    assert train.labels.tolist() == [0, 0, 1, 1, 2, 2] and test.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert train.identities == ["id0001", "id0002", "id0003"] and test.samples[0] == "id0001/0003"
    depth = torch.cat([train.depth, test.depth]).float()
    person = depth[depth < 1100]
    # The face's front at about 490-690 mm, the shoulders further, occluders nearer (250-420 mm), and a far
    # wall behind, 1.1-3.3 m.
    assert person.min() >= 240 and person.max() <= 1050 and depth.max() <= 3300
    assert ((person > 450) & (person < 720)).float().mean() > 0.5 and (depth >= 1100).float().mean() > 0.2
    small = read_rgbd_faces(tiny_root, "test", size=16)
    assert small.rgb.shape == (6, 3, 16, 16) and small.depth.shape == (6, 1, 16, 16)
    assert set(small.depth.flatten().tolist()) <= set(test.depth.flatten().tolist())  # nearest neighbour


def test_rgbd_test_poses_and_light_lie_outside_the_training_ones() -> None:
    params = FaceParams(
        vggface2_identities=0, lfw_identities=0, rgbd_identities=2, samples_per_identity=10, image_size=16
    )
    people = face_identities(params, 0)["rgbd"]
    train, test = FaceRenderer(_TRAIN_PHOTOS[:1], 16), FaceRenderer(_TEST_PHOTOS[:1], 16)
    seen: dict[str, list[tuple[float, float, float]]] = {"train": [], "test": []}
    for split, _, _, _, cond in rgbd_samples(people, params, 0, train, test):
        seen[split].append((abs(cond.yaw), abs(cond.pitch), np.degrees(np.arccos(cond.light[2]))))
    assert len(seen["train"]) == 14 and len(seen["test"]) == 6
    for split, poses in (("train", TRAIN_POSES), ("test", TEST_POSES)):
        yaw, pitch, light = np.array(seen[split]).T
        assert (yaw >= poses.yaw[0]).all() and (yaw <= poses.yaw[1]).all() and (pitch <= poses.pitch[1]).all()
        assert (light >= poses.light[0] - 1e-6).all() and (light <= poses.light[1] + 1e-6).all()
    assert max(y for y, _, _ in seen["train"]) <= 15 < min(y for y, _, _ in seen["test"])
    assert max(lt for _, _, lt in seen["train"]) <= 35 <= min(lt for _, _, lt in seen["test"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"vggface2_identities": 0, "lfw_identities": 0, "rgbd_identities": 0}, "at least one layout"),
        ({"lfw_identities": 19}, "lfw_identities must be >= 20"),
        ({"lfw_images_per_identity": 2, "pairs_per_fold": 30}, "fewer than pairs_per_fold=30"),
        ({"samples_per_identity": 1}, "samples_per_identity must be >= 2"),
        ({"samples_per_identity": 2, "rgbd_test_fraction": 0.1}, "at least one test and one training sample"),
        ({"image_size": 8}, "image_size must be >= 16"),
    ],
)
def test_params_are_validated(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaceParams(**kwargs)  # type: ignore[arg-type]


def test_verification_accuracy_matches_a_hand_computed_case() -> None:
    # Three folds of one matched (S) and one mismatched (D) pair; "same" iff distance < threshold. Held-out
    # fold 0: the others sort 0.2 D, 0.3 S, 0.4 D, 0.6 S; calling none, two or all "same" gets 2 of 4 right,
    # and the smallest of these ties, t = 0.2, gets fold 0's 0.1 S and 0.5 D right. Fold 1: 0.1 S, 0.2 D,
    # 0.5 D, 0.6 S are best cut between 0.1 and 0.2 (3 right), t = 0.15: its 0.3 S is wrong, 0.4 D right.
    # Fold 2: 0.1 S, 0.3 S, 0.4 D, 0.5 D cut at t = 0.35 (4 right): its 0.6 S and 0.2 D are both wrong.
    distances = np.array([0.1, 0.5, 0.3, 0.4, 0.6, 0.2])
    same = np.array([True, False, True, False, True, False])
    folds = np.array([0, 0, 1, 1, 2, 2])
    accuracies, thresholds = fold_accuracies(distances, same, folds)
    assert accuracies.tolist() == [1.0, 0.5, 0.0] and thresholds == pytest.approx([0.2, 0.15, 0.35])
    assert verification_accuracy(distances, same, folds) == pytest.approx(0.5)
    assert best_threshold(np.array([0.5, 0.5]), np.array([True, True])) > 0.5  # all same: above every distance
    with pytest.raises(ValueError, match=">= 2 folds"):
        verification_accuracy(distances, same, np.zeros(6))


def test_exact_threshold_search_beats_facenets_grid() -> None:
    rng = np.random.default_rng(0)
    same = rng.random(400) < 0.5
    distances = np.where(same, rng.normal(0.8, 0.3, 400), rng.normal(1.3, 0.3, 400)).clip(0, 4)
    grid = np.arange(0, 4, 0.01)  # davidsandberg/facenet's lfw evaluation
    grid_best = max(((distances < t) == same).mean() for t in grid)
    assert ((distances < best_threshold(distances, same)) == same).mean() >= grid_best


def test_baselines_run_on_the_tiny_set(tiny_root: Path) -> None:
    pairs = read_lfw_pairs(tiny_root)
    images = load_face_images(pairs.images, 32)
    for features in (raw_pixels(images), raw_pixels(images, 16), colour_histograms(images)):
        assert len(features) == len(pairs.images)
        assert 0.0 <= lfw_verification(features, pairs) <= 1.0
    hist = colour_histograms(images[:2])
    assert hist.shape == (2, 512) and (hist**2).sum(1) == pytest.approx([1.0, 1.0])
    train, test = read_rgbd_faces(tiny_root, "train"), read_rgbd_faces(tiny_root, "test")
    pixels = rgbd_pixels(train.rgb, train.depth)
    assert pixels.shape == (6, 4 * 32 * 32) and pixels.min() >= 0 and pixels.max() <= 1
    guess = nearest_identity(pixels, train.labels.numpy(), rgbd_pixels(test.rgb, test.depth))
    assert guess.shape == (6,) and set(guess.tolist()) <= {0, 1, 2}


@pytest.mark.parametrize(("margin", "expected"), [(0.5, 0.125), (2.0, 0.75)])
def test_semihard_triplet_loss_matches_a_hand_computed_case(margin: float, expected: float) -> None:
    """Points 0, 1 (identity A) and 1.5, 3 (identity B) on a line, squared distances: pair (0, 1) takes the
    negative at 1.5 (nearest farther than 1), (1, 0) the one at 3, (1.5, 3) has no negative farther than 2.25 so
    takes the farthest (0, also 2.25), (3, 1.5) the one at 1."""
    from aibench.benchmarks.face_embedding.benchmark import semihard_triplet_loss

    points = torch.tensor([[0.0], [1.0], [1.5], [3.0]])
    loss = semihard_triplet_loss(points, torch.tensor([0, 0, 1, 1]), margin)
    assert loss.item() == pytest.approx(expected)
    # A batch without a triplet (one identity, or no identity twice) gives a zero loss that still has a gradient.
    for labels in (torch.zeros(4, dtype=torch.long), torch.arange(4)):
        leaf = points.clone().requires_grad_()
        empty = semihard_triplet_loss(leaf, labels, margin)
        empty.backward()
        assert empty.item() == 0.0 and leaf.grad is not None and not leaf.grad.any()


def test_facenet_batches_are_p_identities_of_k_images(tiny_root: Path) -> None:
    """C7's epoch is cut into groups of K images of one identity, the same on every rank for a seed and epoch
    (the loader then shards them), reshuffled between epochs; a batch is P such groups."""
    from aibench.benchmarks.base import BenchmarkContext
    from aibench.benchmarks.face_embedding.benchmark import FaceEmbedding

    settings = FaceEmbedding.profiles["tiny"]
    k = settings.options.images_per_identity

    def bench(seed: int, rank: int = 0) -> FaceEmbedding:
        ctx = BenchmarkContext("tiny", settings, tiny_root, torch.device("cpu"), seed=seed, rank=rank)
        b = FaceEmbedding(ctx)
        b.load_data()  # groups need no model
        return b

    first = bench(1)
    groups = first.groups(1)
    assert groups.shape == (TINY.vggface2_identities * TINY.samples_per_identity // k, k)
    assert all(len(set(first.faces.labels[row])) == 1 for row in groups)
    assert sorted(groups.ravel()) == list(range(first.train_samples()))
    np.testing.assert_array_equal(bench(1, rank=1).groups(1), groups)
    assert not np.array_equal(first.groups(2), groups) or not np.array_equal(bench(2).groups(1), groups)
    images, labels = next(iter(first.train_batches(1)))
    assert images.shape == (settings.batch_size // k, k, 3, 80, 80) and labels.shape == (settings.batch_size // k, k)
