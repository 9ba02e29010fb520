"""PASCAL VOC2007 detection: the reader of the real on-disk layout, and a seeded generator that writes it.

Layout (under a data root):

    VOCdevkit/VOC2007/JPEGImages/<id>.jpg
    VOCdevkit/VOC2007/Annotations/<id>.xml
    VOCdevkit/VOC2007/ImageSets/Main/{trainval,test}.txt     one image id a line

Box convention. A VOC <bndbox> holds 1-based, inclusive pixel indices: xmin=1, xmax=W covers the whole image.
Pixel i (1-based) spans [i-1, i] in continuous 0-based coordinates, so the reader returns the continuous box
(xmin-1, ymin-1, xmax, ymax). Its width xmax-xmin+1 is the VOC devkit's "+1" width, so a plain continuous IoU
(torchvision's convention, no +1) on these boxes equals the devkit's IoU on the integer boxes. The generator
writes the inverse mapping.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter
from torch.utils.data import Dataset

from aibench.datasets.embedded import DataLayoutError, DatasetSpec

VOC_CLASSES: tuple[str, ...] = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)
# torchvision detection models reserve label 0 for the background, so class k of VOC_CLASSES is label k+1.
CLASS_TO_LABEL: dict[str, int] = {name: i + 1 for i, name in enumerate(VOC_CLASSES)}


def voc2007_dir(root: Path) -> Path:
    return Path(root) / "VOCdevkit" / "VOC2007"


@dataclass(frozen=True)
class VOCRecord:
    """One annotated image. Boxes are continuous 0-based xyxy (see the module docstring)."""

    image_id: str
    image_path: Path
    width: int
    height: int
    boxes: np.ndarray      # float32 [N, 4]
    labels: np.ndarray     # int64 [N], 1..20
    difficult: np.ndarray  # bool [N]

    def without_difficult(self) -> "VOCRecord":
        keep = ~self.difficult
        return VOCRecord(self.image_id, self.image_path, self.width, self.height,
                         self.boxes[keep], self.labels[keep], self.difficult[keep])


def read_split_ids(root: Path, split: str) -> list[str]:
    """Image ids listed in ImageSets/Main/<split>.txt (blank lines ignored)."""
    path = voc2007_dir(root) / "ImageSets" / "Main" / f"{split}.txt"
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataLayoutError(f"cannot read VOC image set {path}: {exc}") from exc
    return [line.split()[0] for line in text.splitlines() if line.strip()]


def _int_field(node: ET.Element, tag: str, path: Path) -> int:
    text = node.findtext(tag)
    try:
        # Some VOC annotations (and other tools' exports) write coordinates as "273.0".
        return int(round(float(text)))  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise DataLayoutError(f"VOC annotation {path}: <{tag}> missing or not a number ({text!r})") from exc


def parse_annotation(xml_path: Path, image_path: Path) -> VOCRecord:
    """Parse one VOC XML file. A missing difficult flag counts as 0, as in the devkit."""
    try:
        tree = ET.parse(xml_path)
    except (OSError, ET.ParseError) as exc:
        raise DataLayoutError(f"corrupt or unreadable VOC annotation {xml_path}: {exc}") from exc
    ann = tree.getroot()
    size = ann.find("size")
    width = _int_field(size, "width", xml_path) if size is not None else 0
    height = _int_field(size, "height", xml_path) if size is not None else 0
    boxes, labels, difficult = [], [], []
    for obj in ann.iter("object"):
        name = (obj.findtext("name") or "").strip()
        if name not in CLASS_TO_LABEL:
            raise DataLayoutError(f"VOC annotation {xml_path}: unknown class {name!r}")
        bnd = obj.find("bndbox")
        if bnd is None:
            raise DataLayoutError(f"VOC annotation {xml_path}: object {name!r} has no <bndbox>")
        xmin, ymin, xmax, ymax = (_int_field(bnd, t, xml_path) for t in ("xmin", "ymin", "xmax", "ymax"))
        if xmax < xmin or ymax < ymin:
            raise DataLayoutError(f"VOC annotation {xml_path}: empty box {(xmin, ymin, xmax, ymax)}")
        boxes.append((xmin - 1, ymin - 1, xmax, ymax))
        labels.append(CLASS_TO_LABEL[name])
        diff = obj.findtext("difficult")
        difficult.append(bool(int(diff)) if diff and diff.strip() else False)
    return VOCRecord(
        image_id=xml_path.stem,
        image_path=image_path,
        width=width,
        height=height,
        boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        labels=np.asarray(labels, dtype=np.int64),
        difficult=np.asarray(difficult, dtype=bool),
    )


def read_voc(root: Path, split: str) -> list[VOCRecord]:
    """All annotations of one split (trainval or test), in the order of the image-set file."""
    base = voc2007_dir(root)
    records = []
    for image_id in read_split_ids(root, split):
        image_path = base / "JPEGImages" / f"{image_id}.jpg"
        if not image_path.is_file():
            raise DataLayoutError(f"VOC image {image_path} listed in {split}.txt does not exist")
        records.append(parse_annotation(base / "Annotations" / f"{image_id}.xml", image_path))
    return records


def load_image(path: Path) -> torch.Tensor:
    """Decode a JPEG to a float CxHxW tensor in [0, 1]."""
    try:
        with Image.open(path) as img:
            array = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as exc:  # PIL raises these for truncated or non-image files
        raise DataLayoutError(f"corrupt or unreadable image {path}: {exc}") from exc
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


class VOCDetection(Dataset):
    """(image, target) pairs in torchvision's detection format.

    train=True follows the reference training code: difficult objects are dropped, and images left without
    objects are skipped. train=False keeps every image and every object, with the `difficult` flags, so that
    evaluation can ignore difficult objects the way the VOC devkit does.
    """

    def __init__(self, root: Path, split: str, train: bool) -> None:
        records = read_voc(root, split)
        if train:
            records = [r.without_difficult() for r in records]
            records = [r for r in records if len(r.labels) > 0]
        self.records = records

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        rec = self.records[index]
        image = load_image(rec.image_path)
        target = {
            "boxes": torch.from_numpy(rec.boxes.copy()),
            "labels": torch.from_numpy(rec.labels.copy()),
            "difficult": torch.from_numpy(rec.difficult.copy()),
        }
        return image, target


# ----------------------------------------------------------------------------------------------------------
# Embedded-data generator
# ----------------------------------------------------------------------------------------------------------

# One look per class: a saturated colour and a shape, so that colour and shape both separate the classes.
_STYLES: tuple[tuple[str, tuple[int, int, int], str], ...] = (
    ("car", (230, 30, 30), "rectangle"),
    ("dog", (30, 200, 40), "ellipse"),
    ("person", (40, 70, 240), "triangle"),
    ("cat", (245, 220, 20), "diamond"),
    ("bird", (230, 40, 220), "cross"),
    ("boat", (20, 220, 230), "ring"),
)
_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "grass", "gravel", "brick", "moon",
           "hubble_deep_field", "immunohistochemistry")


def _photos() -> list[Image.Image]:
    import skimage.data  # local, bundled photographs: no download

    out = []
    for name in _PHOTOS:
        array = getattr(skimage.data, name)()
        out.append(Image.fromarray(array).convert("RGB"))
    return out


def _background(photos: Sequence[Image.Image], size: int, rng: np.random.Generator) -> Image.Image:
    """A random crop of a real photo, desaturated and dimmed so the saturated objects stand out."""
    photo = photos[rng.integers(len(photos))]
    w, h = photo.size
    side = int(rng.integers(min(w, h) // 3, min(w, h) + 1))
    x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    crop = photo.crop((x, y, x + side, y + side)).resize((size, size), Image.BILINEAR)
    gray = crop.convert("L").convert("RGB")
    mixed = Image.blend(crop, gray, 0.7)
    return Image.blend(mixed, Image.new("RGB", mixed.size, (128, 128, 128)), 0.4)


def _draw(draw: ImageDraw.ImageDraw, shape: str, box: tuple[int, int, int, int], colour: tuple[int, ...]) -> None:
    x0, y0, x1, y1 = box  # inclusive pixel corners, 0-based
    outline = (0, 0, 0)
    if shape == "rectangle":
        draw.rectangle(box, fill=colour, outline=outline)
    elif shape == "ellipse":
        draw.ellipse(box, fill=colour, outline=outline)
    elif shape == "triangle":
        draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=colour, outline=outline)
    elif shape == "diamond":
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        draw.polygon([(cx, y0), (x1, cy), (cx, y1), (x0, cy)], fill=colour, outline=outline)
    elif shape == "cross":
        tw, th = max(2, (x1 - x0) // 3), max(2, (y1 - y0) // 3)
        cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
        draw.rectangle((x0, cy - th // 2, x1, cy + th // 2), fill=colour)
        draw.rectangle((cx - tw // 2, y0, cx + tw // 2, y1), fill=colour)
    elif shape == "ring":
        draw.ellipse(box, fill=None, outline=colour, width=max(2, (x1 - x0) // 5))
    else:
        raise ValueError(shape)


def _iou(a: Sequence[int], b: Sequence[int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    inter = ix * iy
    area = lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1)  # noqa: E731
    return inter / float(area(a) + area(b) - inter)


def _place(rng: np.random.Generator, size: int, lo: float, hi: float, taken: list[tuple[int, int, int, int]],
           max_iou: float) -> tuple[int, int, int, int] | None:
    """A box with sides in [lo, hi] * size, overlapping every taken box by at most max_iou (None if no room)."""
    for _ in range(50):
        w = int(rng.uniform(lo, hi) * size)
        h = int(min(max(w * rng.uniform(0.75, 1.33), lo * size), hi * size))
        x0, y0 = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
        box = (x0, y0, x0 + w - 1, y0 + h - 1)
        if all(_iou(box, t) <= max_iou for t in taken):
            return box
    return None


def _annotation_xml(image_id: str, size: int, objects: list[tuple[str, tuple[int, int, int, int], bool]]) -> str:
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "VOC2007"
    ET.SubElement(root, "filename").text = f"{image_id}.jpg"
    src = ET.SubElement(root, "source")
    ET.SubElement(src, "database").text = "AIBench embedded VOC2007-format data"
    sz = ET.SubElement(root, "size")
    for tag, value in (("width", size), ("height", size), ("depth", 3)):
        ET.SubElement(sz, tag).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for name, (x0, y0, x1, y1), difficult in objects:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = name
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "1" if difficult else "0"
        bnd = ET.SubElement(obj, "bndbox")
        # 0-based inclusive pixel corners -> VOC's 1-based inclusive indices.
        for tag, value in (("xmin", x0 + 1), ("ymin", y0 + 1), ("xmax", x1 + 1), ("ymax", y1 + 1)):
            ET.SubElement(bnd, tag).text = str(value)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


@dataclass(frozen=True)
class VOCParams:
    """Size and make-up of an embedded VOC2007-format data set."""

    num_classes: int = 3                  # the first N of the generator's object styles
    num_trainval: int = 80
    num_test: int = 40
    image_size: int = 128                 # square images
    max_objects: int = 2                  # non-difficult objects per image (at least 1)
    difficult_prob: float = 0.3           # chance that an image also gets a small, hence difficult, object
    object_scale: tuple[float, float] = (0.3, 0.55)   # side of a normal object, as a fraction of the image

    def __post_init__(self) -> None:
        if not 1 <= self.num_classes <= len(_STYLES):
            raise ValueError(f"num_classes must be in 1..{len(_STYLES)}, got {self.num_classes}")
        if min(self.num_trainval, self.num_test, self.max_objects) < 1 or self.image_size < 16:
            raise ValueError("embedded VOC needs >= 1 image per split, >= 1 object per image and >= 16 px")
        lo, hi = self.object_scale
        if not 0 < lo <= hi < 1:
            raise ValueError(f"object_scale must satisfy 0 < lo <= hi < 1, got {self.object_scale}")


def generate_voc(root: Path, params: VOCParams, seed: int) -> None:
    """Write a small detection dataset in the real VOC2007 layout."""
    num_classes, n_trainval, n_test = params.num_classes, params.num_trainval, params.num_test
    size, max_objects, difficult_prob = params.image_size, params.max_objects, params.difficult_prob
    lo, hi = params.object_scale
    styles = _STYLES[:num_classes]

    rng = np.random.default_rng(seed)
    photos = _photos()
    base = voc2007_dir(root)
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (base / sub).mkdir(parents=True, exist_ok=True)

    ids = [f"{i:06d}" for i in range(1, n_trainval + n_test + 1)]
    for image_id in ids:
        image = _background(photos, size, rng)
        draw = ImageDraw.Draw(image)
        objects: list[tuple[str, tuple[int, int, int, int], bool]] = []
        taken: list[tuple[int, int, int, int]] = []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            box = _place(rng, size, lo, hi, taken, max_iou=0.05)
            if box is None:
                break
            taken.append(box)
            name, colour, shape = styles[rng.integers(num_classes)]
            jitter = rng.integers(-25, 26, size=3)
            _draw(draw, shape, box, tuple(int(c) for c in np.clip(np.asarray(colour) + jitter, 0, 255)))
            objects.append((name, box, False))
        if rng.random() < difficult_prob:
            # Small objects are what VOC annotators mark difficult; evaluation must ignore them.
            box = _place(rng, size, 0.06, 0.11, taken, max_iou=0.0)
            if box is not None:
                name, colour, shape = styles[rng.integers(num_classes)]
                _draw(draw, shape, box, colour)
                objects.append((name, box, True))
        image = image.filter(ImageFilter.GaussianBlur(radius=0.5))  # soften aliased edges, like a camera
        image.save(base / "JPEGImages" / f"{image_id}.jpg", quality=90)
        (base / "Annotations" / f"{image_id}.xml").write_text(_annotation_xml(image_id, size, objects))

    order = rng.permutation(len(ids))
    trainval = sorted(ids[i] for i in order[:n_trainval])
    test = sorted(ids[i] for i in order[n_trainval:])
    (base / "ImageSets" / "Main" / "trainval.txt").write_text("".join(f"{i}\n" for i in trainval))
    (base / "ImageSets" / "Main" / "test.txt").write_text("".join(f"{i}\n" for i in test))


VOC_DATASET = DatasetSpec(
    name="voc2007",
    required=(
        "VOCdevkit/VOC2007/JPEGImages",
        "VOCdevkit/VOC2007/Annotations",
        "VOCdevkit/VOC2007/ImageSets/Main/trainval.txt",
        "VOCdevkit/VOC2007/ImageSets/Main/test.txt",
    ),
    generate=generate_voc,
    params=VOCParams,
    layout_hint="VOCdevkit/VOC2007/{JPEGImages/*.jpg, Annotations/*.xml, ImageSets/Main/{trainval,test}.txt}",
)

