"""Cityscapes in its release layout, as CycleGAN's labels <-> photos task (DC-AI-C5) reads it:

    ROOT/cityscapes/leftImg8bit/{train,val}/<city>/<city>_<seq>_<frame>_leftImg8bit.png      photos
    ROOT/cityscapes/gtFine/{train,val}/<city>/<city>_<seq>_<frame>_gtFine_color.png          label maps (colours)
    ROOT/cityscapes/gtFine/{train,val}/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png       label ids

A sample is one frame: its photo, its colour label map (the CycleGAN "labels" domain) and its labelIds, which
are mapped to the 19 training classes (trainIds, 255 = ignored) for the FCN score. Every photo must have both
label files; a missing or unreadable PNG, a size mismatch, or a labelId outside Cityscapes' 0-33 is a
DataLayoutError naming the file.

The generator writes an embedded stand-in in the same files: street scenes laid out in perspective (sky, a
road narrowing to a vanishing point on the horizon, sidewalks, terrain, buildings on both sides, trees, poles
with traffic signs, cars on the road and people on the sidewalks, sized by their depth) and rendered to photos.
Each class has a texture of its own, the luminance of crops of one real photograph (`skimage.data`), but its
colour is drawn for every scene from one palette that all classes share, so a class's mean colour says little
about it: the FCN scorer, and so a generator judged by it, must render texture. Training scenes take their
crops from the top half of each texture photograph, validation scenes from the bottom half, and every layout is
drawn afresh, so no validation label map or photo comes from a training sample's source. Generation: 50 frames
at 128x64 in 1.0 s, photographs loaded included.

Read by DC-AI-C5 (`aibench.benchmarks.image_to_image`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from aibench.datasets.embedded import DataLayoutError, DatasetSpec
from aibench.datasets.photos import load_photos

CITYSCAPES_LAYOUT = (
    "DATA_ROOT/cityscapes/leftImg8bit/{train,val}/<city>/*_leftImg8bit.png with "
    "DATA_ROOT/cityscapes/gtFine/{train,val}/<city>/*_gtFine_{color,labelIds}.png"
)
SPLITS = ("train", "val")
IGNORE = 255  # trainId of every labelId outside the 19 evaluated classes

# The 19 evaluated classes: (name, labelId, colour), in trainId order (Cityscapes' labels.py).
TRAIN_CLASSES: tuple[tuple[str, int, tuple[int, int, int]], ...] = (
    ("road", 7, (128, 64, 128)),
    ("sidewalk", 8, (244, 35, 232)),
    ("building", 11, (70, 70, 70)),
    ("wall", 12, (102, 102, 156)),
    ("fence", 13, (190, 153, 153)),
    ("pole", 17, (153, 153, 153)),
    ("traffic light", 19, (250, 170, 30)),
    ("traffic sign", 20, (220, 220, 0)),
    ("vegetation", 21, (107, 142, 35)),
    ("terrain", 22, (152, 251, 152)),
    ("sky", 23, (70, 130, 180)),
    ("person", 24, (220, 20, 60)),
    ("rider", 25, (255, 0, 0)),
    ("car", 26, (0, 0, 142)),
    ("truck", 27, (0, 0, 70)),
    ("bus", 28, (0, 60, 100)),
    ("train", 31, (0, 80, 100)),
    ("motorcycle", 32, (0, 0, 230)),
    ("bicycle", 33, (119, 11, 32)),
)
NUM_CLASSES = len(TRAIN_CLASSES)
MAX_LABEL_ID = 33
_UNLABELED_COLOUR = (0, 0, 0)  # labelId 0 ("unlabeled")


def label_to_train_ids() -> np.ndarray:
    """Lookup table labelId (0..255) -> trainId (0..18, or 255 = ignored)."""
    table = np.full(256, IGNORE, np.uint8)
    for train_id, (_, label_id, _) in enumerate(TRAIN_CLASSES):
        table[label_id] = train_id
    return table


def train_id_colours() -> np.ndarray:
    """(256, 3) colours by trainId: the class colours, black for ignored pixels (the colour label maps')."""
    colours = np.zeros((256, 3), np.uint8)
    for train_id, (_, _, colour) in enumerate(TRAIN_CLASSES):
        colours[train_id] = colour
    return colours


@dataclass(frozen=True)
class CityscapesFrame:
    """One frame's three files."""

    photo: Path
    colour: Path
    label_ids: Path

    @property
    def name(self) -> str:
        return self.photo.name.removesuffix("_leftImg8bit.png")


def cityscapes_dir(root: Path) -> Path:
    return root / "cityscapes"


def list_frames(root: Path, split: str) -> list[CityscapesFrame]:
    """Every frame of a split, sorted by city and name; a photo without its label files is an error."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    base = cityscapes_dir(root)
    photos_dir = base / "leftImg8bit" / split
    if not photos_dir.is_dir():
        raise DataLayoutError(f"missing {photos_dir}; expected {CITYSCAPES_LAYOUT}")
    frames = []
    for photo in sorted(photos_dir.glob("*/*_leftImg8bit.png")):
        stem = photo.name.removesuffix("_leftImg8bit.png")
        labels = base / "gtFine" / split / photo.parent.name
        frame = CityscapesFrame(photo, labels / f"{stem}_gtFine_color.png", labels / f"{stem}_gtFine_labelIds.png")
        for path in (frame.colour, frame.label_ids):
            if not path.is_file():
                raise DataLayoutError(f"{photo} has no label file {path}; expected {CITYSCAPES_LAYOUT}")
        frames.append(frame)
    if not frames:
        raise DataLayoutError(f"{photos_dir} holds no <city>/*_leftImg8bit.png; expected {CITYSCAPES_LAYOUT}")
    return frames


def check_cityscapes(root: Path) -> None:
    """Structural check of a user's root before any session: both splits list complete frames."""
    for split in SPLITS:
        list_frames(root, split)


def _open(path: Path, mode: str, size: tuple[int, int] | None) -> Image.Image:
    try:
        with Image.open(path) as image:
            image.load()
            out = image.convert(mode) if image.mode != mode else image.copy()
    except (OSError, SyntaxError, ValueError) as exc:  # PIL raises these for truncated or non-image files
        raise DataLayoutError(f"corrupt or unreadable image {path}: {exc}") from exc
    if size is not None and out.size != size:
        raise DataLayoutError(f"{path} is {out.size[0]}x{out.size[1]}, its photo {size[0]}x{size[1]}")
    return out


def read_frame(
    frame: CityscapesFrame, size: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(photo H x W x 3 uint8, colour label map H x W x 3 uint8, trainIds H x W uint8) of one frame, resized to
    `size` = (width, height) when given (bilinear for the photo, nearest for the label maps)."""
    photo = _open(frame.photo, "RGB", None)
    colour = _open(frame.colour, "RGB", photo.size)
    ids_image = _open(frame.label_ids, "L", photo.size)
    ids = np.asarray(ids_image)
    if int(ids.max()) > MAX_LABEL_ID:
        raise DataLayoutError(f"{frame.label_ids} holds labelId {int(ids.max())}; Cityscapes' ids are 0-{MAX_LABEL_ID}")
    if size is not None and photo.size != size:
        photo = photo.resize(size, Image.Resampling.BILINEAR)
        colour = colour.resize(size, Image.Resampling.NEAREST)
        ids = np.asarray(ids_image.resize(size, Image.Resampling.NEAREST))
    return np.asarray(photo), np.asarray(colour), label_to_train_ids()[ids]


# -- embedded data --------------------------------------------------------------------------------------------
# Texture photographs by class; the same photograph never serves two classes, so texture identifies the class.
_TEXTURES = {
    "road": "gravel",
    "sidewalk": "brick",
    "building": "page",
    "vegetation": "grass",
    "terrain": "coffee",
    "sky": "hubble_deep_field",
    "pole": "camera",
    "traffic sign": "text",
    "person": "astronaut",
    "car": "coins",
}
# Colours every class draws from (muted photographic tones), so colour alone does not name the class.
_PALETTE = np.array(
    [(120, 120, 125), (95, 105, 80), (150, 140, 120), (80, 90, 110), (165, 160, 170), (110, 85, 70), (130, 150, 160)],
    np.float32,
)
_TEXTURE_SIDE = 24  # pixels a texture crop spans in a photo, tiled over larger regions
_CITIES = {"train": ("aachen", "bremen", "hamburg"), "val": ("frankfurt", "lindau")}


@dataclass(frozen=True)
class CityscapesParams:
    """Size of an embedded Cityscapes: frames per split, at width x height (Cityscapes' 2:1 aspect)."""

    train_count: int = 400
    val_count: int = 100
    width: int = 128
    height: int = 64

    def __post_init__(self) -> None:
        if self.train_count < 1 or self.val_count < 1 or self.width < 16 or self.height < 8:
            raise ValueError("embedded Cityscapes needs at least one frame per split, of at least 16x8 pixels")


def _class_textures(half: str, size: int, rng: np.random.Generator) -> dict[int, list[np.ndarray]]:
    """Per trainId, luminance textures (size x size, mean 1) cut from the top or bottom half of its photograph."""
    names = sorted(set(_TEXTURES.values()))
    photos = dict(zip(names, load_photos(names)))
    train_id = {name: i for i, (name, _, _) in enumerate(TRAIN_CLASSES)}
    out: dict[int, list[np.ndarray]] = {}
    for cls, photo_name in _TEXTURES.items():
        grey = np.asarray(photos[photo_name].image.convert("L"), np.float32)
        h, w = grey.shape
        rows = (0, h // 2) if half == "train" else (h // 2, h)
        crops = []
        for _ in range(8):
            side = max(16, int(min(h // 2, w) * rng.uniform(0.2, 0.6)))
            y = int(rng.integers(rows[0], rows[1] - side + 1))
            x = int(rng.integers(0, w - side + 1))
            crop = np.asarray(Image.fromarray(grey[y : y + side, x : x + side].astype(np.uint8)).resize((size, size)))
            crop = crop.astype(np.float32)
            crops.append(1.0 + 0.45 * (crop - crop.mean()) / max(float(crop.std()), 1.0))
        out[train_id[cls]] = crops
    return out


def _layout(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """One street scene's trainIds (height x width), painted back to front."""
    tid = {name: i for i, (name, _, _) in enumerate(TRAIN_CLASSES)}
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    horizon = height * rng.uniform(0.35, 0.5)
    vx = width * rng.uniform(0.35, 0.65)  # vanishing point
    depth = np.clip((ys - horizon) / (height - horizon), 0, None)  # 0 at the horizon, 1 at the bottom row
    road_half = depth * width * rng.uniform(0.25, 0.45)
    walk = road_half * rng.uniform(1.3, 1.7)
    walk_bottom = float(walk[-1, 0]) + 1e-6
    labels = np.full((height, width), tid["sky"], np.uint8)
    below = ys >= horizon
    labels[below] = tid["terrain"]
    labels[below & (np.abs(xs - vx) < walk)] = tid["sidewalk"]
    labels[below & (np.abs(xs - vx) < road_half)] = tid["road"]
    # Buildings line both sides beyond the sidewalks: each a block whose foot is on the sidewalk's outer edge.
    for side in (-1, 1):
        x = 0.0 if side < 0 else float(width)
        while (side < 0 and x < vx - 2) or (side > 0 and x > vx + 2):
            block = width * rng.uniform(0.06, 0.2)
            x0, x1 = (x, min(x + block, vx)) if side < 0 else (max(x - block, vx), x)
            mid = (x0 + x1) / 2
            # The sidewalk's outer edge is |x - vx| = walk_bottom * depth: the block stands where it meets mid.
            foot = horizon + (height - horizon) * min(1.0, 0.9 * abs(mid - vx) / walk_bottom)
            top = horizon - (foot - horizon) * rng.uniform(0.5, 1.8) - height * rng.uniform(0.0, 0.1)
            fill = tid["vegetation"] if rng.random() < 0.25 else tid["building"]
            labels[(xs >= x0) & (xs < x1) & (ys >= top) & (ys < foot) & (np.abs(xs - vx) >= walk)] = fill
            x = x1 if side < 0 else x0
    # Objects, far to near so nearer ones cover farther ones.
    objects: list[tuple[str, float, float]] = []
    for _ in range(int(rng.integers(2, 6))):
        objects.append(("car", rng.uniform(0.25, 1.0), rng.uniform(-0.8, 0.8)))
    for _ in range(int(rng.integers(1, 5))):
        objects.append(("person", rng.uniform(0.3, 1.0), float(rng.choice([-1, 1])) * rng.uniform(1.05, 1.5)))
    for _ in range(int(rng.integers(1, 4))):
        objects.append(("pole", rng.uniform(0.2, 1.0), float(rng.choice([-1, 1])) * rng.uniform(1.1, 1.6)))
    for kind, d, lateral in sorted(objects, key=lambda o: o[1]):
        foot = horizon + d * (height - horizon)
        cx = vx + lateral * d * width * 0.35
        scale = d * height
        if kind == "car":
            w, h = scale * rng.uniform(0.45, 0.7), scale * rng.uniform(0.22, 0.32)
            labels[(np.abs(xs - cx) < w / 2) & (ys >= foot - h) & (ys < foot)] = tid["car"]
        elif kind == "person":
            w, h = scale * 0.09, scale * rng.uniform(0.35, 0.5)
            body = ((xs - cx) / (w / 2 + 0.5)) ** 2 + ((ys - (foot - h / 2)) / (h / 2)) ** 2 < 1
            labels[body] = tid["person"]
        else:
            h = scale * rng.uniform(0.7, 1.1)
            labels[(np.abs(xs - cx) < max(0.5, scale * 0.02)) & (ys >= foot - h) & (ys < foot)] = tid["pole"]
            sign = max(1.0, scale * 0.08)
            labels[(np.abs(xs - cx) < sign) & (ys >= foot - h - sign) & (ys < foot - h + sign)] = tid["traffic sign"]
    return labels


def _render(labels: np.ndarray, textures: dict[int, list[np.ndarray]], rng: np.random.Generator) -> np.ndarray:
    """A photo of a layout: per class a palette colour (drawn per scene) times the class's texture, with a light
    falling off towards the horizon, and sensor noise."""
    height, width = labels.shape
    photo = np.zeros((height, width, 3), np.float32)
    light = np.linspace(0.85, 1.1, height, dtype=np.float32)[:, None, None] * rng.uniform(0.8, 1.15)
    for train_id in np.unique(labels):
        crops = textures[int(train_id)]
        texture = crops[int(rng.integers(len(crops)))]
        shift = (int(rng.integers(texture.shape[0])), int(rng.integers(texture.shape[1])))
        reps = (-(-height // texture.shape[0]), -(-width // texture.shape[1]))
        tile = np.tile(np.roll(texture, shift, axis=(0, 1)), reps)[:height, :width]
        colour = _PALETTE[int(rng.integers(len(_PALETTE)))] * rng.uniform(0.85, 1.15, 3)
        mask = labels == train_id
        photo[mask] = colour * tile[mask][:, None]
    noisy = photo * light + rng.normal(0, 6, photo.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def generate_cityscapes(root: Path, params: CityscapesParams, seed: int) -> None:
    """Write embedded Cityscapes frames (photo, colour label map, labelIds) under ROOT/cityscapes."""
    base = cityscapes_dir(root)
    ids_of_train = np.array([label_id for _, label_id, _ in TRAIN_CLASSES] + [0] * (256 - NUM_CLASSES), np.uint8)
    colours = train_id_colours()
    for split_index, (split, count) in enumerate((("train", params.train_count), ("val", params.val_count))):
        rng = np.random.default_rng([seed, split_index])
        textures = _class_textures(split, _TEXTURE_SIDE, rng)
        for i in range(count):
            city = _CITIES[split][i % len(_CITIES[split])]
            stem = f"{city}_{i // len(_CITIES[split]):06d}_000019"
            labels = _layout(params.width, params.height, rng)
            photo_dir, label_dir = base / "leftImg8bit" / split / city, base / "gtFine" / split / city
            photo_dir.mkdir(parents=True, exist_ok=True)
            label_dir.mkdir(parents=True, exist_ok=True)
            Image.fromarray(_render(labels, textures, rng)).save(photo_dir / f"{stem}_leftImg8bit.png")
            Image.fromarray(colours[labels]).save(label_dir / f"{stem}_gtFine_color.png")
            Image.fromarray(ids_of_train[labels]).save(label_dir / f"{stem}_gtFine_labelIds.png")


CITYSCAPES = DatasetSpec(
    name="cityscapes",
    required=("cityscapes/leftImg8bit", "cityscapes/gtFine"),
    generate=generate_cityscapes,
    params=CityscapesParams,
    validate=check_cityscapes,
    version=1,
    layout_hint=CITYSCAPES_LAYOUT,
)
