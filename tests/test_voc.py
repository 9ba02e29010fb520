"""The PASCAL VOC2007 reader on a hand-written real-format fixture, its errors, and the embedded generator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aibench.datasets.embedded import DataLayoutError, check_layout, missing_paths
from aibench.datasets.voc import (
    CLASS_TO_LABEL,
    VOC_CLASSES,
    VOC_DATASET,
    VOCDetection,
    VOCParams,
    generate_voc,
    read_voc,
    voc2007_dir,
)


def _xml(filename: str, objects: str, width: int = 40, height: int = 30) -> str:
    return f"""<annotation>
  <folder>VOC2007</folder>
  <filename>{filename}</filename>
  <size><width>{width}</width><height>{height}</height><depth>3</depth></size>
  <segmented>0</segmented>
  {objects}
</annotation>
"""


def _obj(name: str, box: tuple[int, int, int, int], difficult: str | None) -> str:
    flag = "" if difficult is None else f"<difficult>{difficult}</difficult>"
    xmin, ymin, xmax, ymax = box
    return (
        f"<object><name>{name}</name><pose>Left</pose><truncated>0</truncated>{flag}"
        f"<bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox>"
        "</object>"
    )


@pytest.fixture()
def voc_root(tmp_path: Path) -> Path:
    base = voc2007_dir(tmp_path)
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (base / sub).mkdir(parents=True)
    annotations = {
        # a difficult dog next to a normal person; the full-image box uses VOC's 1-based, inclusive corners
        "000005": _obj("person", (1, 1, 40, 30), "0") + _obj("dog", (5, 6, 14, 20), "1"),
        # no <difficult> tag at all: counts as not difficult
        "000007": _obj("car", (11, 3, 20, 12), None),
        # only a difficult object: skipped for training, kept for evaluation
        "000009": _obj("cat", (2, 2, 8, 8), "1"),
        "000012": _obj("tvmonitor", (3, 4, 30, 25), "0"),
    }
    for image_id, objects in annotations.items():
        Image.new("RGB", (40, 30), (200, 30, 30)).save(base / "JPEGImages" / f"{image_id}.jpg")
        (base / "Annotations" / f"{image_id}.xml").write_text(_xml(f"{image_id}.jpg", objects))
    (base / "ImageSets" / "Main" / "trainval.txt").write_text("000005\n000007\n000009\n")
    (base / "ImageSets" / "Main" / "test.txt").write_text("000012\n000009\n\n")
    return tmp_path


def test_class_order_is_the_standard_one():
    assert len(VOC_CLASSES) == 20
    assert VOC_CLASSES[0] == "aeroplane" and VOC_CLASSES[-1] == "tvmonitor"
    assert CLASS_TO_LABEL["aeroplane"] == 1 and CLASS_TO_LABEL["person"] == 15 and CLASS_TO_LABEL["tvmonitor"] == 20


def test_reader_parses_boxes_labels_and_difficult(voc_root: Path):
    assert missing_paths(VOC_DATASET, voc_root) == []
    records = {r.image_id: r for r in read_voc(voc_root, "trainval")}
    assert list(records) == ["000005", "000007", "000009"]
    rec = records["000005"]
    assert (rec.width, rec.height) == (40, 30)
    # 1-based inclusive (xmin, ymin, xmax, ymax) -> continuous (xmin-1, ymin-1, xmax, ymax)
    np.testing.assert_array_equal(rec.boxes, [[0, 0, 40, 30], [4, 5, 14, 20]])
    assert rec.labels.tolist() == [CLASS_TO_LABEL["person"], CLASS_TO_LABEL["dog"]]
    assert rec.difficult.tolist() == [False, True]
    assert records["000007"].difficult.tolist() == [False]


def test_training_drops_difficult_objects_and_empty_images(voc_root: Path):
    train = VOCDetection(voc_root, "trainval", train=True)
    assert [r.image_id for r in train.records] == ["000005", "000007"]
    image, target = train[0]
    assert image.shape == (3, 30, 40) and image.dtype.is_floating_point
    assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
    assert target["boxes"].tolist() == [[0.0, 0.0, 40.0, 30.0]]
    assert target["labels"].tolist() == [15]
    assert target["difficult"].tolist() == [False]
    assert (target["boxes"].dtype, target["labels"].dtype, target["difficult"].dtype) == (
        torch.float32,
        torch.int64,
        torch.bool,
    )


def test_evaluation_keeps_difficult_objects(voc_root: Path):
    test = VOCDetection(voc_root, "test", train=False)
    assert [r.image_id for r in test.records] == ["000012", "000009"]
    _, target = test[1]
    assert target["labels"].tolist() == [CLASS_TO_LABEL["cat"]]
    assert target["difficult"].tolist() == [True]
    assert target["boxes"].shape == (1, 4)


def test_corrupt_jpeg_names_the_file(voc_root: Path):
    path = voc2007_dir(voc_root) / "JPEGImages" / "000007.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    train = VOCDetection(voc_root, "trainval", train=True)
    with pytest.raises(DataLayoutError, match="000007.jpg"):
        train[1]


def test_truncated_jpeg_names_the_file(voc_root: Path):
    path = voc2007_dir(voc_root) / "JPEGImages" / "000012.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 40, 3), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataLayoutError, match="000012.jpg"):
        VOCDetection(voc_root, "test", train=False)[0]


def test_corrupt_xml_names_the_file(voc_root: Path):
    (voc2007_dir(voc_root) / "Annotations" / "000009.xml").write_text("<annotation><object><name>cat</name>")
    with pytest.raises(DataLayoutError, match="000009.xml"):
        VOCDetection(voc_root, "trainval", train=True)


@pytest.mark.parametrize(
    "objects, message",
    [
        (_obj("unicorn", (1, 1, 5, 5), "0"), "unicorn"),
        (
            "<object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>x</xmax><ymax>5</ymax></bndbox></object>",
            "xmax",
        ),
        ("<object><name>cat</name></object>", "bndbox"),
        (
            "<object><name>cat</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>inf</xmax><ymax>5</ymax></bndbox></object>",
            "not a finite number",
        ),
        (_obj("cat", (-3, 1, 5, 5), "0"), "negative coordinate"),
        (_obj("cat", (50, 40, 60, 45), "0"), "outside the 40x30 image"),
        (_obj("cat", (9, 9, 4, 12), "0"), "empty box"),
        (_obj("cat", (1, 1, 5, 5), "yes"), "difficult.*0 or 1"),
    ],
)
def test_malformed_annotation_names_the_file(voc_root: Path, objects: str, message: str):
    (voc2007_dir(voc_root) / "Annotations" / "000012.xml").write_text(_xml("000012.jpg", objects))
    with pytest.raises(DataLayoutError, match=f"000012.xml.*{message}"):
        read_voc(voc_root, "test")


def test_a_box_that_only_overhangs_is_clipped_to_the_image(voc_root: Path):
    (voc2007_dir(voc_root) / "Annotations" / "000012.xml").write_text(
        _xml("000012.jpg", _obj("cat", (0, 3, 45, 33), "0"))
    )
    record = next(r for r in read_voc(voc_root, "test") if r.image_id == "000012")
    np.testing.assert_array_equal(record.boxes, [[0, 2, 40, 30]])  # continuous coordinates, within 40x30


def test_an_empty_image_set_names_the_list(voc_root: Path):
    (voc2007_dir(voc_root) / "ImageSets" / "Main" / "trainval.txt").write_text("\n\n")
    with pytest.raises(DataLayoutError, match="trainval.txt lists no images"):
        read_voc(voc_root, "trainval")


def test_listed_image_that_does_not_exist(voc_root: Path):
    (voc2007_dir(voc_root) / "JPEGImages" / "000012.jpg").unlink()
    with pytest.raises(DataLayoutError, match="000012.jpg"):
        read_voc(voc_root, "test")


def test_missing_layout_is_reported(tmp_path: Path):
    with pytest.raises(DataLayoutError, match="VOCdevkit"):
        check_layout(VOC_DATASET, tmp_path)


PARAMS = VOCParams(num_classes=3, num_trainval=12, num_test=8, image_size=64, max_objects=2, difficult_prob=0.5)


def test_generator_writes_the_real_layout_and_reads_back(tmp_path: Path):
    generate_voc(tmp_path, PARAMS, seed=3)
    check_layout(VOC_DATASET, tmp_path)
    base = voc2007_dir(tmp_path)
    trainval, test = read_voc(tmp_path, "trainval"), read_voc(tmp_path, "test")
    assert len(trainval) == 12 and len(test) == 8
    assert not {r.image_id for r in trainval} & {r.image_id for r in test}
    assert len(list((base / "JPEGImages").glob("*.jpg"))) == 20
    records = trainval + test
    labels = np.concatenate([r.labels for r in records])
    assert set(labels.tolist()) <= {CLASS_TO_LABEL[n] for n in ("car", "dog", "person")}
    assert len(set(labels.tolist())) >= 2
    assert any(r.difficult.any() for r in records) and all((~r.difficult).any() for r in records)
    for rec in records:
        with Image.open(rec.image_path) as img:
            assert img.size == (rec.width, rec.height) == (64, 64)
        assert (rec.boxes[:, :2] >= 0).all() and (rec.boxes[:, 2:] <= 64).all()
        assert (rec.boxes[:, 2:] > rec.boxes[:, :2]).all()
    image, target = VOCDetection(tmp_path, "trainval", train=True)[0]
    assert image.shape == (3, 64, 64) and len(target["boxes"]) >= 1


def test_generator_is_seeded(tmp_path: Path):
    generate_voc(tmp_path / "a", PARAMS, seed=1)
    generate_voc(tmp_path / "b", PARAMS, seed=1)
    generate_voc(tmp_path / "c", PARAMS, seed=2)
    ann = lambda root: [p.read_text() for p in sorted((voc2007_dir(root) / "Annotations").glob("*.xml"))]
    assert ann(tmp_path / "a") == ann(tmp_path / "b")
    assert ann(tmp_path / "a") != ann(tmp_path / "c")
