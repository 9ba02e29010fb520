"""MS-COCO 2014 captions for DC-AI-C4 (image-to-text): the real release's layout, its reader, and a seeded
embedded stand-in written in that same layout.

Layout under the data root (the release's, inside a `coco/` folder):

    coco/annotations/captions_train2014.json    {"images": [{"id", "file_name", ...}], "annotations":
    coco/annotations/captions_val2014.json       [{"id", "image_id", "caption"}], ...}
    coco/train2014/*.jpg, coco/val2014/*.jpg     the images the JSON names

A missing or undecodable JSON file, a JSON file without `images`/`annotations`, an annotation naming an unknown
image, and a missing or corrupt JPEG are DataLayoutErrors naming the file.

Tokenization and vocabulary follow the reference code (yunjey/pytorch-tutorial, image_captioning): a caption is
lower-cased and split into words and punctuation marks (the reference's nltk `word_tokenize`; here a regular
expression, which agrees with it on COCO's plain captions and needs no downloaded tokenizer data); the vocabulary
is `<pad>`, `<start>`, `<end>`, `<unk>` (ids 0-3, the reference's order) then every training word seen at least
`threshold` times (the reference's 4, about 9,956 words on COCO), in order of first appearance.

The embedded generator. A scene holds one or two groups of identical objects (1-3 objects in all); a group has a
count (one, two, three), a size (small, large), a colour (red, green, blue, yellow, purple, white) and a shape
(circle, square, triangle, cross), and two groups stand in a relation (left of, right of, above, below) that
their placement makes unambiguous. Objects are drawn on a random crop of a real photograph (skimage.data,
bundled: nothing is downloaded), softened so the objects stand out. Each image gets five captions from a small
grammar with two phrasings a scene ("a small red triangle left of two blue circles", "two blue circles right of a
small red triangle"; "a large white cross", "there is a large white cross"): every caption
names every attribute, so its content words depend on the image and a model that does not look at the image
cannot predict them (an image-blind n-gram model is the benchmark's baseline). Validation scenes are new draws on
crops of photographs that no training image uses.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, UnidentifiedImageError

from aibench.datasets.embedded import DataLayoutError, DatasetSpec
from aibench.datasets.photos import load_photos

COCO = Path("coco")
SPLITS = ("train", "val")
LAYOUT = "DATA_ROOT/coco/annotations/captions_{train,val}2014.json with DATA_ROOT/coco/{train,val}2014/*.jpg"
PAD, START, END, UNK = "<pad>", "<start>", "<end>", "<unk>"
SPECIALS = (PAD, START, END, UNK)
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")

# Disjoint background photographs for the two splits (no photograph of a person or of coloured shapes).
_TRAIN_PHOTOS = ("coffee", "chelsea", "rocket", "brick", "grass", "coins", "page", "horse", "hubble_deep_field")
_VAL_PHOTOS = ("immunohistochemistry", "retina", "gravel", "moon", "text", "clock", "cell")

COLOURS = {
    "red": (220, 30, 30),
    "green": (30, 180, 40),
    "blue": (40, 60, 230),
    "yellow": (240, 220, 30),
    "purple": (150, 40, 200),
    "white": (250, 250, 250),
}
SHAPES = ("circle", "square", "triangle", "cross")
SIZES = ("small", "large")
COUNTS = ("one", "two", "three")
RELATIONS = ("left of", "right of", "above", "below")
_INVERSE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}


def annotation_file(split: str) -> Path:
    return COCO / "annotations" / f"captions_{split}2014.json"


def image_folder(split: str) -> Path:
    return COCO / f"{split}2014"


def tokenize(caption: str) -> list[str]:
    """Lower-case words and punctuation marks, as the reference's `word_tokenize(caption.lower())`."""
    return _TOKEN.findall(caption.lower())


@dataclass(frozen=True)
class Vocabulary:
    words: tuple[str, ...]  # index = id; the four specials first

    @classmethod
    def build(cls, captions: Sequence[Sequence[str]], threshold: int = 4) -> Vocabulary:
        """Every word of the (tokenized) training captions seen at least `threshold` times, after the specials."""
        counts = Counter(w for caption in captions for w in caption)
        kept = [w for w in counts if counts[w] >= threshold and w not in SPECIALS]  # first-appearance order
        return cls((*SPECIALS, *kept))

    def __len__(self) -> int:
        return len(self.words)

    @property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of `tokens` followed by <end> (<start> is the decoder's first input, not a target)."""
        index, unk = self.index, SPECIALS.index(UNK)
        return [index.get(t, unk) for t in tokens] + [SPECIALS.index(END)]

    def decode(self, ids: Sequence[int]) -> list[str]:
        """Words of `ids` up to the first <end>, specials other than <unk> dropped."""
        out = []
        for i in ids:
            word = self.words[int(i)]
            if word == END:
                break
            if word not in (PAD, START):
                out.append(word)
        return out


@dataclass
class CaptionSplit:
    files: list[Path]  # one per image, in the JSON's image order
    captions: list[list[list[str]]]  # per image, its tokenized captions
    images: torch.Tensor | None = None  # (N, 3, S, S) uint8 once read


def read_captions(root: Path, split: str) -> CaptionSplit:
    """The images and tokenized captions of one split (images with no caption are skipped, as the reference's
    annotation-driven loader never sees them)."""
    path = root / annotation_file(split)
    if not path.is_file():
        raise DataLayoutError(f"{path}: missing (expected {LAYOUT})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        images, annotations = data["images"], data["annotations"]
        by_id = {int(im["id"]): str(im["file_name"]) for im in images}
        caps: dict[int, list[list[str]]] = {}
        for ann in annotations:
            image_id = int(ann["image_id"])
            if image_id not in by_id:
                raise DataLayoutError(f"{path}: annotation {ann.get('id')} names unknown image {image_id}")
            caps.setdefault(image_id, []).append(tokenize(str(ann["caption"])))
    except DataLayoutError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise DataLayoutError(f"{path}: not a COCO captions file ({type(exc).__name__}: {exc})") from exc
    order = [i for i in by_id if i in caps]
    folder = root / image_folder(split)
    return CaptionSplit([folder / by_id[i] for i in order], [caps[i] for i in order])


def read_image(path: Path, size: int) -> np.ndarray:
    """(3, size, size) uint8 RGB, resized (the reference resizes every image to a square)."""
    try:
        with Image.open(path) as im:
            im.load()
            rgb = im.convert("RGB")
    except FileNotFoundError as exc:
        raise DataLayoutError(f"{path}: missing image (expected {LAYOUT})") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise DataLayoutError(f"{path}: corrupt image ({exc})") from exc
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(rgb, np.uint8).transpose(2, 0, 1).copy()


def read_split(root: Path, split: str, size: int) -> CaptionSplit:
    """A split with its images read into memory at `size` (suits the embedded data; COCO's 83k training images
    at 224x224 take 12 GB and would want on-demand reading)."""
    out = read_captions(root, split)
    out.images = torch.from_numpy(np.stack([read_image(f, size) for f in out.files]))
    return out


def _validate(root: Path) -> None:
    for split in SPLITS:
        if not (root / image_folder(split)).is_dir():
            raise DataLayoutError(f"{root / image_folder(split)}: missing image folder (expected {LAYOUT})")


# ------------------------------------------------------------------------------------------------- generator
@dataclass(frozen=True)
class CaptionParams:
    train_images: int = 1000
    val_images: int = 200
    image_size: int = 64  # of the written JPEGs
    captions_per_image: int = 5

    def __post_init__(self) -> None:
        if min(self.train_images, self.val_images) < 1 or self.image_size < 16 or self.captions_per_image < 1:
            raise ValueError("train_images, val_images, captions_per_image >= 1 and image_size >= 16 required")


@dataclass(frozen=True)
class Group:
    count: int  # 1-3
    size: str
    colour: str
    shape: str

    def phrase(self) -> str:
        noun = self.shape + ("es" if self.shape.endswith("ss") else "s") if self.count > 1 else self.shape
        det = "a" if self.count == 1 else COUNTS[self.count - 1]
        return f"{det} {self.size} {self.colour} {noun}"


def scene_captions(groups: Sequence[Group], relation: str | None, rng: np.random.Generator, n: int) -> list[str]:
    """`n` distinct paraphrases (as far as the grammar has them) describing the scene."""
    a = groups[0].phrase()
    be = "is" if groups[0].count == 1 else "are"
    # Two phrasings each, so that nearly all of a caption's content is in the image: which phrasing a caption
    # uses (about one free binary choice a caption) is the only thing a model that sees the image cannot know.
    if relation is None:
        options = [a, f"there {be} {a}"]
    else:
        b, inv = groups[1].phrase(), _INVERSE[relation]
        options = [f"{a} {relation} {b}", f"{b} {inv} {a}"]
    picks = rng.permutation(len(options))[:n]
    return [options[i] for i in picks] + [
        options[int(i)] for i in rng.integers(0, len(options), max(0, n - len(picks)))
    ]


def _draw(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, r: float, colour: tuple[int, ...]) -> None:
    outline = (0, 0, 0)
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour, outline=outline)
    elif shape == "square":
        s = r * 0.85
        draw.rectangle([cx - s, cy - s, cx + s, cy + s], fill=colour, outline=outline)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r * 0.8), (cx + r, cy + r * 0.8)], fill=colour, outline=outline)
    else:  # cross
        t = r * 0.35
        draw.rectangle([cx - r, cy - t, cx + r, cy + t], fill=colour)
        draw.rectangle([cx - t, cy - r, cx + t, cy + r], fill=colour)


def _place(group: Group, box: tuple[float, float, float, float], size: int, rng: np.random.Generator) -> list[Any]:
    """Centres and radius of a group's objects inside box (x0, y0, x1, y1, fractions of the image)."""
    r = size * (0.07 if group.size == "small" else 0.13)
    x0, y0, x1, y1 = (v * size for v in box)
    horizontal = (x1 - x0) >= (y1 - y0)
    out = []
    for k in range(group.count):
        f = (k + 0.5) / group.count
        jitter = rng.uniform(-0.05, 0.05, 2) * size
        if horizontal:
            cx, cy = x0 + f * (x1 - x0), (y0 + y1) / 2
        else:
            cx, cy = (x0 + x1) / 2, y0 + f * (y1 - y0)
        out.append((cx + jitter[0], cy + jitter[1], r))
    return out


def render_scene(
    rng: np.random.Generator, photos: Sequence[Image.Image], size: int
) -> tuple[Image.Image, list[str], int]:
    """One image, its five caption sources (groups and relation) as captions, drawn from `rng`."""
    total = int(rng.integers(1, 4))
    two = total >= 2 and rng.random() < 0.7
    counts = [int(rng.integers(1, total)), 0] if two else [total, 0]
    if two:
        counts[1] = total - counts[0]
    groups = [
        Group(
            c,
            SIZES[int(rng.integers(2))],
            list(COLOURS)[int(rng.integers(len(COLOURS)))],
            SHAPES[int(rng.integers(len(SHAPES)))],
        )
        for c in counts
        if c
    ]
    relation = RELATIONS[int(rng.integers(4))] if len(groups) == 2 else None
    photo = photos[int(rng.integers(len(photos)))]
    w, h = photo.size
    crop = int(rng.uniform(0.25, 0.6) * min(w, h))
    x, y = int(rng.integers(0, w - crop + 1)), int(rng.integers(0, h - crop + 1))
    bg = photo.crop((x, y, x + crop, y + crop)).resize((size * 2, size * 2), Image.Resampling.BILINEAR)
    bg = bg.filter(ImageFilter.GaussianBlur(2))
    bg = Image.blend(bg, Image.new("RGB", bg.size, (128, 128, 128)), 0.4)  # softened so objects stand out
    draw = ImageDraw.Draw(bg)
    boxes: list[tuple[float, float, float, float]]
    if relation is None:
        boxes = [(0.15, 0.3, 0.85, 0.7) if groups[0].count > 1 else (0.3, 0.3, 0.7, 0.7)]
    else:
        # The first group is `relation` the second: left of = first box on the left, ...
        first, second = {
            "left of": ((0.05, 0.2, 0.45, 0.8), (0.55, 0.2, 0.95, 0.8)),
            "right of": ((0.55, 0.2, 0.95, 0.8), (0.05, 0.2, 0.45, 0.8)),
            "above": ((0.2, 0.05, 0.8, 0.45), (0.2, 0.55, 0.8, 0.95)),
            "below": ((0.2, 0.55, 0.8, 0.95), (0.2, 0.05, 0.8, 0.45)),
        }[relation]
        boxes = [first, second]
    for group, box in zip(groups, boxes):
        for cx, cy, r in _place(group, box, size * 2, rng):
            _draw(draw, group.shape, cx, cy, r, COLOURS[group.colour])
    image = bg.resize((size, size), Image.Resampling.LANCZOS)  # drawn at twice the size: antialiased
    return image, scene_captions(groups, relation, rng, 5), len(groups)


def generate(root: Path, params: CaptionParams, seed: int) -> None:
    """Write the embedded COCO-format copy: JSON annotations and JPEGs, both splits from disjoint photographs."""
    next_id = 1
    for split, n, names, offset in (
        ("train", params.train_images, _TRAIN_PHOTOS, 0),
        ("val", params.val_images, _VAL_PHOTOS, 1),
    ):
        rng = np.random.default_rng([seed, offset, 2014])
        photos = [p.image for p in load_photos(names)]
        folder = root / image_folder(split)
        folder.mkdir(parents=True, exist_ok=True)
        images, annotations = [], []
        for k in range(n):
            image, captions, _ = render_scene(rng, photos, params.image_size)
            image_id = offset * 10_000_000 + k + 1
            name = f"COCO_{split}2014_{image_id:012d}.jpg"
            buf = io.BytesIO()
            image.save(buf, "JPEG", quality=92)
            (folder / name).write_bytes(buf.getvalue())
            images.append({"id": image_id, "file_name": name, "width": params.image_size, "height": params.image_size})
            for caption in captions[: params.captions_per_image]:
                annotations.append({"id": next_id, "image_id": image_id, "caption": caption})
                next_id += 1
        out = root / annotation_file(split)
        out.parent.mkdir(parents=True, exist_ok=True)
        info = {"description": "aibench embedded stand-in for COCO 2014 captions", "seed": seed}
        out.write_text(json.dumps({"info": info, "images": images, "annotations": annotations, "licenses": []}))


COCO_CAPTIONS: DatasetSpec[CaptionParams] = DatasetSpec(
    name="coco_captions",
    required=tuple(str(p) for s in SPLITS for p in (annotation_file(s), image_folder(s))),
    generate=generate,
    params=CaptionParams,
    layout_hint=LAYOUT,
    validate=_validate,
    version=2,  # 2: two phrasings a scene (caches of the seven-phrasing grammar are stale)
)
