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

import colorsys
import math
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps
from torch.utils.data import Dataset

from aibench.datasets.embedded import DataLayoutError, DatasetSpec
from aibench.datasets.photos import Photo, load_photos

VOC_CLASSES: tuple[str, ...] = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
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
    boxes: np.ndarray  # float32 [N, 4]
    labels: np.ndarray  # int64 [N], 1..20
    difficult: np.ndarray  # bool [N]

    def without_difficult(self) -> VOCRecord:
        keep = ~self.difficult
        return VOCRecord(
            self.image_id,
            self.image_path,
            self.width,
            self.height,
            self.boxes[keep],
            self.labels[keep],
            self.difficult[keep],
        )


def read_split_ids(root: Path, split: str) -> list[str]:
    """Image ids listed in ImageSets/Main/<split>.txt (blank lines ignored)."""
    path = voc2007_dir(root) / "ImageSets" / "Main" / f"{split}.txt"
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataLayoutError(f"cannot read VOC image set {path}: {exc}") from exc
    ids = [line.split()[0] for line in text.splitlines() if line.strip()]
    if not ids:
        raise DataLayoutError(f"VOC image set {path} lists no images")
    return ids


def check_voc(root: Path) -> None:
    """Both image sets list images (before any session; every XML is checked when the data is read)."""
    for split in ("trainval", "test"):
        read_split_ids(root, split)


def _int_field(node: ET.Element | None, tag: str, path: Path) -> int:
    text = node.findtext(tag) if node is not None else None
    try:
        # Some VOC annotations (and other tools' exports) write coordinates as "273.0".
        value = float(text)  # type: ignore[arg-type]
        if not math.isfinite(value):
            raise ValueError(text)
        return int(round(value))
    except (TypeError, ValueError) as exc:
        raise DataLayoutError(f"VOC annotation {path}: <{tag}> missing or not a finite number ({text!r})") from exc


def _difficult(text: str | None, path: Path) -> bool:
    """The devkit's difficult flag: 0 or 1 (missing counts as 0)."""
    value = (text or "0").strip() or "0"
    if value not in ("0", "1"):
        raise DataLayoutError(f"VOC annotation {path}: <difficult> must be 0 or 1, got {value!r}")
    return value == "1"


def _checked_box(box: tuple[int, ...], width: int, height: int, path: Path) -> tuple[int, int, int, int]:
    """A VOC box (1-based, inclusive) as continuous 0-based xyxy, checked against the image.

    A box that only overhangs the image is clipped to it, as the VOC devkit's own annotation tools keep boxes
    inside the image; a negative coordinate, an empty box or one wholly outside the image is an error.
    """
    xmin, ymin, xmax, ymax = box
    if min(box) < 0:
        raise DataLayoutError(f"VOC annotation {path}: negative coordinate in box {box}")
    if xmax < xmin or ymax < ymin:
        raise DataLayoutError(f"VOC annotation {path}: empty box {box}")
    if width and height:
        if xmin > width or ymin > height or xmax < 1 or ymax < 1:
            raise DataLayoutError(f"VOC annotation {path}: box {box} lies outside the {width}x{height} image")
        xmin, ymin, xmax, ymax = max(xmin, 1), max(ymin, 1), min(xmax, width), min(ymax, height)
    return xmin - 1, ymin - 1, xmax, ymax


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
    if size is not None and (width < 1 or height < 1):
        raise DataLayoutError(f"VOC annotation {xml_path}: image size {width}x{height} is not positive")
    boxes, labels, difficult = [], [], []
    for obj in ann.iter("object"):
        name = (obj.findtext("name") or "").strip()
        if name not in CLASS_TO_LABEL:
            raise DataLayoutError(f"VOC annotation {xml_path}: unknown class {name!r}")
        bnd = obj.find("bndbox")
        if bnd is None:
            raise DataLayoutError(f"VOC annotation {xml_path}: object {name!r} has no <bndbox>")
        box = tuple(_int_field(bnd, t, xml_path) for t in ("xmin", "ymin", "xmax", "ymax"))
        boxes.append(_checked_box(box, width, height, xml_path))
        labels.append(CLASS_TO_LABEL[name])
        difficult.append(_difficult(obj.findtext("difficult"), xml_path))
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

# A class is a shape. Colour and texture are drawn for every object independently of its class, so only the
# outline names the class, and an object differs from the photograph behind it by its outline and texture alone.
_SHAPES: tuple[tuple[str, str], ...] = (
    ("car", "rectangle"),
    ("dog", "ellipse"),
    ("person", "triangle"),
    ("cat", "diamond"),
    ("bird", "cross"),
    ("boat", "ring"),
)
# Disjoint photographs (skimage.data, bundled: nothing is downloaded) for the backgrounds and photo textures of
# the two splits, each with colour photographs and grey textures (which are colourised). skimage's `cat` is the
# same photograph as `chelsea`, so it is not used.
_TRAIN_PHOTOS = (
    "astronaut",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "brick",
    "gravel",
    "camera",
    "text",
    "moon",
    "horse",
)
_TEST_PHOTOS = ("coffee", "retina", "hubble_deep_field", "logo", "colorwheel", "grass", "coins", "page", "clock")


def _random_colour(
    rng: np.random.Generator, saturation: tuple[float, float] = (0.0, 1.0), value: tuple[float, float] = (0.2, 1.0)
) -> tuple[int, int, int]:
    """Any hue, saturation and value in the given ranges: colour carries no information about the class."""
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*saturation), rng.uniform(*value))
    return int(r * 255), int(g * 255), int(b * 255)


def _mute(image: Image.Image, saturation: float, brightness: float) -> Image.Image:
    """The image with its saturation and brightness scaled (1, 1: unchanged)."""
    if saturation != 1.0:
        image = ImageEnhance.Color(image).enhance(saturation)
    if brightness != 1.0:
        image = ImageEnhance.Brightness(image).enhance(brightness)
    return image


def _recolour(photo: Photo, image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A grey photograph mapped onto a random two-colour ramp; a colour one, half the time, hue-rotated."""
    if photo.grey:
        return ImageOps.colorize(image.convert("L"), black=_random_colour(rng), white=_random_colour(rng))
    if rng.random() < 0.5:
        hsv = np.asarray(image.convert("HSV")).copy()
        hsv[..., 0] = (hsv[..., 0].astype(np.int32) + int(rng.integers(256))) % 256
        return Image.fromarray(hsv, "HSV").convert("RGB")
    return image


def _photo_crop(photos: Sequence[Photo], width: int, height: int, rng: np.random.Generator) -> Image.Image:
    """A random square-ish crop of a random photograph, resized to width x height, flipped half the time."""
    photo = photos[int(rng.integers(len(photos)))]
    w, h = photo.image.size
    side = int(rng.integers(min(w, h) // 4, min(w, h) + 1))
    x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    crop = photo.image.crop((x, y, x + side, y + side)).resize((width, height), Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        crop = crop.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return _recolour(photo, crop, rng)


_SURFACES = ("noise", "stripes", "checks", "gradient", "photo")


def _texture(
    photos: Sequence[Photo], width: int, height: int, params: VOCParams, rng: np.random.Generator
) -> np.ndarray:
    """An object's surface: solid with noise, stripes, checks, a gradient or a photo crop, in random colours."""
    kind = _SURFACES.index(params.surfaces[rng.integers(len(params.surfaces))])
    c0, c1 = (
        np.asarray(_random_colour(rng, params.object_saturation, params.object_value), np.float32) for _ in range(2)
    )
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    along = xx * np.cos(angle) + yy * np.sin(angle)
    if kind == 0:
        arr = c0 + rng.normal(0, 12, (height, width, 1)).astype(np.float32)
    elif kind == 1:
        stripe = (along / rng.uniform(3, 9)) % 1 < 0.5
        arr = np.where(stripe[..., None], c0, c1)
    elif kind == 2:
        cell = rng.uniform(3, 8)
        check = ((xx // cell + yy // cell) % 2).astype(bool)
        arr = np.where(check[..., None], c0, c1)
    elif kind == 3:
        t = (along - along.min()) / max(float(np.ptp(along)), 1.0)
        arr = c0 * (1 - t[..., None]) + c1 * t[..., None]
    else:
        arr = np.asarray(_photo_crop(photos, width, height, rng), np.float32)
    return np.clip(arr, 0, 255).astype(np.uint8)


def _shape_mask(shape: str, size: int, box: tuple[int, int, int, int]) -> Image.Image:
    """The object's silhouette as an L-mode mask of the whole image."""
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    x0, y0, x1, y1 = box  # inclusive pixel corners, 0-based
    if shape == "rectangle":
        draw.rectangle(box, fill=255)
    elif shape == "ellipse":
        draw.ellipse(box, fill=255)
    elif shape == "triangle":
        draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=255)
    elif shape == "diamond":
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        draw.polygon([(cx, y0), (x1, cy), (cx, y1), (x0, cy)], fill=255)
    elif shape == "cross":
        tw, th = max(2, (x1 - x0) // 3), max(2, (y1 - y0) // 3)
        cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
        draw.rectangle((x0, cy - th // 2, x1, cy + th // 2), fill=255)
        draw.rectangle((cx - tw // 2, y0, cx + tw // 2, y1), fill=255)
    elif shape == "ring":
        draw.ellipse(box, fill=None, outline=255, width=max(2, (x1 - x0) // 5))
    else:
        raise ValueError(shape)
    return mask


def _paste_object(
    image: Image.Image,
    photos: Sequence[Photo],
    shape: str,
    box: tuple[int, int, int, int],
    params: VOCParams,
    rng: np.random.Generator,
) -> None:
    """Paint a textured object; redraw its surface (up to 20 times) until its mean colour differs from the
    background it covers by at least min_contrast (RGB distance), as a real object differs from its scene."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0 + 1, y1 - y0 + 1
    mask = _shape_mask(shape, image.size[0], box).crop((x0, y0, x1 + 1, y1 + 1))
    inside = np.asarray(mask) > 127
    behind = np.asarray(image.crop((x0, y0, x1 + 1, y1 + 1)), np.float32)[inside].mean(0)
    best, best_gap = None, -1.0
    for _ in range(20):
        surface = _texture(photos, w, h, params, rng)
        gap = float(np.linalg.norm(surface[inside].astype(np.float32).mean(0) - behind))
        if gap > best_gap:
            best, best_gap = surface, gap
        if gap >= params.min_contrast:
            break
    assert best is not None
    image.paste(Image.fromarray(best), (x0, y0), mask)


def _occlude(image: Image.Image, box: tuple[int, int, int, int], rng: np.random.Generator) -> None:
    """A thin occluder (a wire, a branch, a pole) across the middle of an object, in any colour: it cuts the
    object's region in two, as occlusion does in real scenes, while leaving its outline readable."""
    x0, y0, x1, y1 = box
    size = image.size[0]
    cx = rng.uniform(x0 + 0.3 * (x1 - x0), x1 - 0.3 * (x1 - x0))
    cy = rng.uniform(y0 + 0.3 * (y1 - y0), y1 - 0.3 * (y1 - y0))
    angle, half = rng.uniform(0, np.pi), rng.uniform(0.25, 0.6) * size
    dx, dy = np.cos(angle) * half, np.sin(angle) * half
    width = max(1, int(round(rng.uniform(0.015, 0.035) * size)))
    ImageDraw.Draw(image).line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=_random_colour(rng), width=width)


def _iou(a: Sequence[int], b: Sequence[int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    inter = ix * iy
    area = lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1)
    return inter / float(area(a) + area(b) - inter)


def _place(
    rng: np.random.Generator, size: int, lo: float, hi: float, taken: list[tuple[int, int, int, int]], max_iou: float
) -> tuple[int, int, int, int] | None:
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

    num_classes: int = 3  # the first N of the generator's shapes (car, dog, person, ...)
    num_trainval: int = 80
    num_test: int = 40
    image_size: int = 128  # square images
    max_objects: int = 2  # non-difficult objects per image (at least 1)
    difficult_prob: float = 0.3  # chance that an image also gets a small, hence difficult, object
    object_scale: tuple[float, float] = (0.3, 0.55)  # side of a normal object, as a fraction of the image
    min_contrast: float = 40.0  # least RGB distance between an object's mean colour and what it covers
    surfaces: tuple[str, ...] = _SURFACES  # the kinds of object surface drawn from
    object_saturation: tuple[float, float] = (0.0, 1.0)  # HSV ranges of the colours of object surfaces
    object_value: tuple[float, float] = (0.2, 1.0)
    background_saturation: float = 1.0  # scales the background photograph's saturation (0: grey)
    background_brightness: float = 1.0  # scales its brightness
    occluder_prob: float = 0.0  # chance that a normal object is crossed by a thin occluder

    def __post_init__(self) -> None:
        if not 1 <= self.num_classes <= len(_SHAPES):
            raise ValueError(f"num_classes must be in 1..{len(_SHAPES)}, got {self.num_classes}")
        if min(self.num_trainval, self.num_test, self.max_objects) < 1 or self.image_size < 16:
            raise ValueError("embedded VOC needs >= 1 image per split, >= 1 object per image and >= 16 px")
        lo, hi = self.object_scale
        if not 0 < lo <= hi < 1:
            raise ValueError(f"object_scale must satisfy 0 < lo <= hi < 1, got {self.object_scale}")
        if not self.surfaces or set(self.surfaces) - set(_SURFACES):
            raise ValueError(f"surfaces must be a non-empty subset of {_SURFACES}, got {self.surfaces}")
        if self.min_contrast < 0:
            raise ValueError(f"min_contrast must be >= 0, got {self.min_contrast}")
        if not 0 <= self.occluder_prob <= 1:
            raise ValueError(f"occluder_prob must be in [0, 1], got {self.occluder_prob}")


def generate_voc(root: Path, params: VOCParams, seed: int) -> None:
    """Write a small detection dataset in the real VOC2007 layout: shapes in random colours on photographs.

    Each class is a shape (car a rectangle, dog an ellipse, person a triangle, ...); every object gets a surface
    (noisy solid, stripes, checks, a gradient or a photo crop, as `params.surfaces` allows) in colours drawn
    independently of its class, so colour says nothing about the class and the detector has to learn outlines.
    Backgrounds are random crops of real photographs (grey ones colourised with random ramps, colour ones
    sometimes hue-rotated), optionally desaturated and dimmed (`background_saturation`, `background_brightness`)
    so that objects are easy to find while their class still has to be read from the outline; an object's mean
    colour differs from what it covers by at least `min_contrast`. A thin occluder (`occluder_prob`) crosses an
    object as wires and branches do in real scenes: it cuts the object's region in two, which defeats
    segment-then-classify baselines (`aibench baselines C9`) while a CNN still reads the outline. Trainval and
    test images are drawn from disjoint photographs (backgrounds and photo textures alike), so test scenes are
    new scenes. Small objects are marked difficult, as VOC annotators mark them; evaluation ignores them.
    """
    num_classes, n_trainval, n_test = params.num_classes, params.num_trainval, params.num_test
    size, max_objects, difficult_prob = params.image_size, params.max_objects, params.difficult_prob
    lo, hi = params.object_scale
    shapes = _SHAPES[:num_classes]

    rng = np.random.default_rng(seed)
    photo_sets = {"trainval": load_photos(_TRAIN_PHOTOS), "test": load_photos(_TEST_PHOTOS)}
    base = voc2007_dir(root)
    for sub in ("JPEGImages", "Annotations", "ImageSets/Main"):
        (base / sub).mkdir(parents=True, exist_ok=True)

    ids = [f"{i:06d}" for i in range(1, n_trainval + n_test + 1)]
    order = rng.permutation(len(ids))
    split_of = {ids[i]: "trainval" if k < n_trainval else "test" for k, i in enumerate(order)}
    for image_id in ids:
        photos = photo_sets[split_of[image_id]]
        image = _mute(_photo_crop(photos, size, size, rng), params.background_saturation, params.background_brightness)
        objects: list[tuple[str, tuple[int, int, int, int], bool]] = []
        taken: list[tuple[int, int, int, int]] = []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            box = _place(rng, size, lo, hi, taken, max_iou=0.05)
            if box is None:
                break
            taken.append(box)
            name, shape = shapes[rng.integers(num_classes)]
            _paste_object(image, photos, shape, box, params, rng)
            if rng.random() < params.occluder_prob:
                _occlude(image, box, rng)
            objects.append((name, box, False))
        if rng.random() < difficult_prob:
            # Small objects are what VOC annotators mark difficult; evaluation must ignore them.
            box = _place(rng, size, 0.06, 0.11, taken, max_iou=0.0)
            if box is not None:
                name, shape = shapes[rng.integers(num_classes)]
                _paste_object(image, photos, shape, box, params, rng)
                objects.append((name, box, True))
        image = image.filter(ImageFilter.GaussianBlur(radius=0.5))  # soften aliased edges, like a camera
        image.save(base / "JPEGImages" / f"{image_id}.jpg", quality=90)
        (base / "Annotations" / f"{image_id}.xml").write_text(_annotation_xml(image_id, size, objects))

    for split in ("trainval", "test"):
        listed = sorted(i for i in ids if split_of[i] == split)
        (base / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{i}\n" for i in listed))


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
    validate=check_voc,
    version=3,
    layout_hint="VOCdevkit/VOC2007/{JPEGImages/*.jpg, Annotations/*.xml, ImageSets/Main/{trainval,test}.txt}",
)
