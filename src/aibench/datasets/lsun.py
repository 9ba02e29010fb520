"""LSUN bedrooms as the LSUN release ships them: an LMDB database, ROOT/lsun/bedroom_train_lmdb/{data.mdb,lock.mdb},
whose keys are image ids and whose values are encoded images (JPEG, or WebP in some exports); or, as an
alternative, a plain folder of images, ROOT/lsun/bedroom_train/**/*.{jpg,jpeg,png,webp}.

The reader lists the keys (LMDB keeps them sorted; a folder's files are sorted by relative path) and holds out
the last `eval_count` as real images for evaluation, which training never reads. Images are decoded with Pillow,
resized on the short side and centre-cropped, as the WGAN reference code's `transforms.Resize`/`CenterCrop` do;
an undecodable value is a DataLayoutError naming the key and the database.

The generator writes an embedded stand-in in the same LMDB layout: bedroom-like scenes ray-cast in perspective at
64x64 (2x supersampled): a room (floor, back and side walls, ceiling) seen from a camera that varies in
position, height, yaw and focal length, with a window on the back wall, a bed (frame, mattress, blanket, pillow,
headboard) against it and a bedside table with a lit lamp. Every surface has a material colour from a palette of
room colours blended with a real photograph's crop colour, and the crop's luminance as its texture
(`aibench.datasets.photos`); shading is Lambertian from a ceiling light plus the lamp's glow. The held-out
images (the last keys) are rendered from photographs that no training image uses, so no evaluation image shares
a texture source with a training image, while the scene distribution is the same.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from aibench.datasets.embedded import DataLayoutError, DatasetSpec
from aibench.datasets.photos import load_photos

LSUN_LAYOUT = "DATA_ROOT/lsun/bedroom_train_lmdb/{data.mdb,lock.mdb} (or DATA_ROOT/lsun/bedroom_train/*.jpg)"
LMDB_DIR = "bedroom_train_lmdb"
FOLDER_DIR = "bedroom_train"
_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


def _open_lmdb(path: Path) -> Any:
    import lmdb  # the LSUN release's format

    try:
        return lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False, max_readers=32)
    except lmdb.Error as exc:
        raise DataLayoutError(f"cannot open the LMDB database {path}: {exc}") from exc


def check_lsun(root: Path) -> None:
    """ROOT/lsun holds the LMDB database or an image folder."""
    base = root / "lsun"
    if (base / LMDB_DIR / "data.mdb").is_file():
        return
    folder = base / FOLDER_DIR
    if folder.is_dir():
        if not any(p.suffix.lower() in _EXTENSIONS for p in folder.rglob("*")):
            raise DataLayoutError(f"{folder} holds no images (.jpg, .jpeg, .png, .webp)")
        return
    raise DataLayoutError(f"{base / LMDB_DIR / 'data.mdb'} does not exist, nor does {folder} (expected {LSUN_LAYOUT})")


class LsunSource:
    """The images of ROOT/lsun by key: the LMDB database when present, else the image folder."""

    def __init__(self, root: Path) -> None:
        check_lsun(root)
        base = root / "lsun"
        self.lmdb = (base / LMDB_DIR / "data.mdb").is_file()
        self._env: Any = None
        self._pid = 0
        if self.lmdb:
            self.where = base / LMDB_DIR
            with self.env().begin(write=False) as txn:
                self.keys: list[bytes] = list(txn.cursor().iternext(keys=True, values=False))
        else:
            self.where = base / FOLDER_DIR
            files = sorted(p for p in self.where.rglob("*") if p.suffix.lower() in _EXTENSIONS)
            self.keys = [str(p.relative_to(self.where)).encode() for p in files]
        if not self.keys:
            raise DataLayoutError(f"{self.where} holds no images")

    def env(self) -> Any:
        """The LMDB environment, opened once per process (an environment must not cross a fork: DataLoader
        workers open their own)."""
        if self._env is None or self._pid != os.getpid():
            self._env, self._pid = _open_lmdb(self.where), os.getpid()
        return self._env

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_env": None}

    def raw(self, key: bytes) -> bytes:
        if not self.lmdb:
            try:
                return (self.where / key.decode()).read_bytes()
            except OSError as exc:
                raise DataLayoutError(f"cannot read the image {self.where / key.decode()}: {exc}") from exc
        with self.env().begin(write=False) as txn:
            value = txn.get(key)
        if value is None:
            raise DataLayoutError(f"key {key!r} is missing from the database {self.where}")
        return bytes(value)

    def image(self, key: bytes, size: int) -> np.ndarray:
        """One image as uint8 HxWx3, short side resized to `size` and centre-cropped to size x size."""
        try:
            with Image.open(io.BytesIO(self.raw(key))) as opened:
                rgb = opened.convert("RGB")
            w, h = rgb.size
            scale = size / min(w, h)
            rgb = rgb.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BILINEAR)
            w, h = rgb.size
            left, top = (w - size) // 2, (h - size) // 2
            return np.asarray(rgb.crop((left, top, left + size, top + size)), np.uint8)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise DataLayoutError(f"cannot decode the image under key {key!r} in {self.where}: {exc}") from exc

    def split(self, eval_count: int) -> tuple[list[bytes], list[bytes]]:
        """(training keys, held-out keys): the last `eval_count` keys are held out for evaluation."""
        if not 0 < eval_count < len(self.keys):
            raise DataLayoutError(
                f"{self.where} holds {len(self.keys)} images; holding out {eval_count} for evaluation leaves "
                "no training images"
            )
        return self.keys[:-eval_count], self.keys[-eval_count:]


# --- embedded data -------------------------------------------------------------------------------------

_TRAIN_PHOTOS = ("brick", "grass", "coffee", "chelsea", "astronaut", "rocket", "camera", "coins", "page")
_EVAL_PHOTOS = ("gravel", "moon", "text", "clock", "retina", "immunohistochemistry", "hubble_deep_field")

# Material colours (RGB 0-255) a room is drawn from; each is jittered and blended with a photograph's colour.
_PALETTE = {
    "wall": ((225, 215, 195), (200, 205, 215), (185, 200, 180), (235, 225, 210), (170, 160, 150)),
    "floor": ((150, 105, 70), (120, 85, 55), (180, 150, 110), (110, 110, 115), (165, 125, 90)),
    "bedding": ((235, 235, 240), (90, 110, 150), (170, 60, 60), (200, 180, 140), (110, 140, 110)),
    "wood": ((120, 80, 50), (80, 55, 35), (160, 120, 80), (60, 50, 45)),
    "sky": ((170, 200, 235), (215, 225, 235), (140, 170, 210), (240, 200, 150)),
}


@dataclass(frozen=True)
class LsunParams:
    """Size of an embedded LSUN-bedrooms LMDB: training images plus `eval_count` held-out ones (the last keys)."""

    train_count: int = 2048
    eval_count: int = 512
    image_size: int = 64
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        if self.train_count < 1 or self.eval_count < 1 or self.image_size < 8:
            raise ValueError("embedded LSUN needs at least one training and one held-out image, of at least 8 px")


def _textures(names: Sequence[str], rng: np.random.Generator) -> list[np.ndarray]:
    """Luminance textures (64x64 float, mean 1) and colours cut from photographs: (64, 64, 4) = luminance, RGB."""
    out = []
    for photo in load_photos(names):
        arr = np.asarray(photo.image, np.float32)
        h, w = arr.shape[:2]
        for _ in range(6):
            side = max(16, int(min(h, w) * rng.uniform(0.15, 0.5)))
            y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
            crop = Image.fromarray(arr[y : y + side, x : x + side].astype(np.uint8)).resize((64, 64))
            c = np.asarray(crop, np.float32)
            lum = c @ np.array([0.299, 0.587, 0.114], np.float32)
            lum = 1.0 + 0.35 * (lum - lum.mean()) / max(float(lum.std()), 1.0)
            colour = c.reshape(-1, 3).mean(0)
            out.append(np.concatenate([lum[..., None], np.broadcast_to(colour, (64, 64, 3))], axis=-1))
    return out


def _material(kind: str, textures: Sequence[np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(RGB colour in [0, 1], luminance texture) of one surface."""
    palette = _PALETTE[kind]
    base = np.array(palette[int(rng.integers(len(palette)))], np.float32)
    tex = textures[int(rng.integers(len(textures)))]
    colour = 0.75 * base + 0.25 * tex[0, 0, 1:] + rng.normal(0, 12, 3)
    return np.clip(colour / 255.0, 0.02, 1.0).astype(np.float32), tex[..., 0]


def _box_hits(o: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slab test of rays o + t d against an axis-aligned box: (t_near, t_far), each (P,)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
        t0, t1 = (lo - o) * inv, (hi - o) * inv
    return np.nanmax(np.minimum(t0, t1), axis=1), np.nanmin(np.maximum(t0, t1), axis=1)


def render_bedroom(size: int, textures: Sequence[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """One bedroom scene as uint8 size x size x 3."""
    ss = 2 * size  # supersampled
    # The room: x across, y up, z away from the camera; the back wall at z = depth.
    width, height, depth = rng.uniform(3.2, 4.5), rng.uniform(2.4, 2.9), rng.uniform(3.5, 5.0)
    cam = np.array([rng.uniform(-0.6, 0.6), rng.uniform(1.1, 1.7), rng.uniform(0.05, 0.4)], np.float32)
    yaw, pitch, focal = rng.uniform(-0.3, 0.3), rng.uniform(-0.25, 0.02), rng.uniform(1.0, 1.4)
    v, u = np.meshgrid(np.linspace(1, -1, ss), np.linspace(-1, 1, ss), indexing="ij")
    d = np.stack([u, v, np.full_like(u, focal)], -1).reshape(-1, 3)
    cp, sp, cy, sy = np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    d = d @ np.array([[1, 0, 0], [0, cp, sp], [0, -sp, cp]]) @ np.array([[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]])
    d = (d / np.linalg.norm(d, axis=1, keepdims=True)).astype(np.float32)
    o = np.broadcast_to(cam, d.shape)
    half = width / 2

    # Surfaces: (box lo, box hi, colour, texture); the room itself is hit from inside (its far side).
    wall_c, wall_t = _material("wall", textures, rng)
    side_c = np.clip(wall_c * rng.uniform(0.85, 1.05), 0, 1)
    floor_c, floor_t = _material("floor", textures, rng)
    bed_c, bed_t = _material("bedding", textures, rng)
    blanket_c, blanket_t = _material("bedding", textures, rng)
    wood_c, wood_t = _material("wood", textures, rng)
    sky_c, sky_t = _material("sky", textures, rng)
    ceil_c = np.clip(wall_c * 1.1 + 0.05, 0, 1)

    bed_w, bed_l = rng.uniform(1.4, 2.0), rng.uniform(1.9, 2.2)
    bed_x = rng.uniform(-half + bed_w / 2 + 0.1, half - bed_w / 2 - 0.1)
    mattress_h = rng.uniform(0.45, 0.6)
    z_back = depth - 0.02
    boxes = [
        # frame, mattress, blanket over its lower two thirds, pillow, headboard
        ((bed_x - bed_w / 2, 0, z_back - bed_l), (bed_x + bed_w / 2, mattress_h - 0.2, z_back), wood_c, wood_t),
        (
            (bed_x - bed_w / 2 + 0.03, 0, z_back - bed_l + 0.03),
            (bed_x + bed_w / 2 - 0.03, mattress_h, z_back),
            bed_c,
            bed_t,
        ),
        (
            (bed_x - bed_w / 2, mattress_h - 0.25, z_back - bed_l - 0.02),
            (bed_x + bed_w / 2 + 0.01, mattress_h + 0.06, z_back - bed_l / 3),
            blanket_c,
            blanket_t,
        ),
        (
            (bed_x - bed_w / 2 + 0.1, mattress_h, z_back - 0.55),
            (bed_x + bed_w / 2 - 0.1, mattress_h + 0.14, z_back - 0.1),
            np.clip(bed_c * 1.1 + 0.1, 0, 1),
            bed_t,
        ),
        (
            (bed_x - bed_w / 2 - 0.05, 0, z_back - 0.08),
            (bed_x + bed_w / 2 + 0.05, rng.uniform(1.0, 1.4), z_back),
            wood_c,
            wood_t,
        ),
    ]
    # A bedside table on the freer side, with a lamp (stem and glowing shade).
    side = 1.0 if bed_x < 0 else -1.0
    tx = bed_x + side * (bed_w / 2 + 0.35)
    table_h = rng.uniform(0.5, 0.65)
    boxes.append(((tx - 0.25, 0, z_back - 0.5), (tx + 0.25, table_h, z_back), wood_c, wood_t))
    boxes.append(((tx - 0.02, table_h, z_back - 0.27), (tx + 0.02, table_h + 0.3, z_back - 0.23), wood_c, wood_t))
    shade_c = np.clip(np.array([1.0, 0.85, 0.6]) * rng.uniform(0.9, 1.0), 0, 1).astype(np.float32)
    shade = ((tx - 0.14, table_h + 0.25, z_back - 0.39), (tx + 0.14, table_h + 0.48, z_back - 0.11))
    boxes.append((*shade, shade_c, np.ones((64, 64), np.float32)))

    # The room: far intersections of the room box.
    lo_r = np.array([-half, 0.0, -1.0], np.float32)
    hi_r = np.array([half, height, depth], np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.maximum((lo_r - o) / d, (hi_r - o) / d)
    t1 = np.where(np.isfinite(t1), t1, np.inf)
    axis = np.argmin(t1, axis=1)
    t = t1[np.arange(len(d)), axis]
    p = o + d * t[:, None]
    sign = np.sign(d[np.arange(len(d)), axis])
    normal = np.zeros_like(d)
    normal[np.arange(len(d)), axis] = -sign
    colour = np.empty_like(d)
    tex_uv = np.stack([p[:, 0], p[:, 1]], 1)
    floor = (axis == 1) & (sign < 0)
    ceiling = (axis == 1) & (sign > 0)
    back = axis == 2
    sides = axis == 0
    colour[back] = wall_c
    colour[sides] = side_c
    colour[floor] = floor_c
    colour[ceiling] = ceil_c
    tex_uv[floor | ceiling] = p[floor | ceiling][:, [0, 2]]
    tex_uv[sides] = p[sides][:, [2, 1]]
    texture = np.where(floor[:, None], 1.0, 0.0)  # which texture: computed per surface below
    lum = np.ones(len(d), np.float32)

    def sample(tex: np.ndarray, uv: np.ndarray, scale: float) -> np.ndarray:
        ij = np.floor(uv * scale).astype(np.int64) % 64
        return tex[ij[:, 1], ij[:, 0]]

    lum[floor] = sample(floor_t, tex_uv[floor], 24.0)
    walls = back | sides
    lum[walls] = 0.6 + 0.4 * sample(wall_t, tex_uv[walls], 10.0)
    del texture
    # A window on the back wall.
    win_w, win_h = rng.uniform(0.8, 1.5), rng.uniform(0.8, 1.2)
    win_x, win_y = (
        rng.uniform(-half + win_w / 2 + 0.2, half - win_w / 2 - 0.2),
        rng.uniform(1.2, height - win_h / 2 - 0.2),
    )
    window = back & (np.abs(p[:, 0] - win_x) < win_w / 2) & (np.abs(p[:, 1] - win_y) < win_h / 2)
    frame = back & (np.abs(p[:, 0] - win_x) < win_w / 2 + 0.06) & (np.abs(p[:, 1] - win_y) < win_h / 2 + 0.06)
    colour[frame & ~window] = np.clip(wall_c * 1.15 + 0.1, 0, 1)
    colour[window] = sky_c
    lum[window] = sample(sky_t, (p[window][:, :2] - [win_x, win_y]) / win_w, 40.0)
    emissive = window.copy()

    # Furniture: nearest box hit in front of the room surface.
    for lo, hi, c, tex in boxes:
        lo_b, hi_b = np.array(lo, np.float32), np.array(hi, np.float32)
        tn, tf = _box_hits(o, d, lo_b, hi_b)
        hit = (tn < tf) & (tn > 0) & (tn < t)
        if not hit.any():
            continue
        q = o[hit] + d[hit] * tn[hit, None]
        centre, ext = (lo_b + hi_b) / 2, (hi_b - lo_b) / 2
        rel = (q - centre) / ext
        ax = np.argmax(np.abs(rel), axis=1)
        nrm = np.zeros_like(q)
        nrm[np.arange(len(q)), ax] = np.sign(rel[np.arange(len(q)), ax])
        t[hit] = tn[hit]
        normal[hit] = nrm
        colour[hit] = c
        uv = np.where(ax[:, None] == 1, q[:, [0, 2]], np.where(ax[:, None] == 0, q[:, [2, 1]], q[:, [0, 1]]))
        lum[hit] = sample(tex, uv, 30.0)
        emissive[hit] = c is shade_c
        p[hit] = q

    # Shading: a ceiling light, the lamp's glow, ambient light.
    light = np.array([0.0, height - 0.05, depth * 0.45], np.float32)
    lamp = np.array([tx, table_h + 0.36, z_back - 0.25], np.float32)
    shade_sum = np.full(len(d), 0.35, np.float32)
    for pos, power in ((light, 2.2), (lamp, rng.uniform(0.6, 1.2))):
        to = pos - p
        dist = np.linalg.norm(to, axis=1)
        cos = np.clip(np.sum(normal * to, axis=1) / np.maximum(dist, 1e-6), 0, 1)
        shade_sum += power * cos / (1.0 + 0.15 * dist**2)
    img = colour * (lum * shade_sum)[:, None] * rng.uniform(0.75, 1.05)
    img[emissive] = colour[emissive] * lum[emissive, None] * 1.05
    img = img.reshape(ss, ss, 3)
    img = img.reshape(size, 2, size, 2, 3).mean((1, 3))
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


def lsun_key(seed: int, index: int) -> bytes:
    """An LSUN-style key: 40 hex digits (the release uses SHA-1-like ids)."""
    return hashlib.sha1(f"aibench-lsun-{seed}-{index}".encode()).hexdigest().encode()


def generate_lsun(root: Path, params: LsunParams | Mapping[str, Any], seed: int) -> None:
    """Write ROOT/lsun/bedroom_train_lmdb: train_count + eval_count JPEG-encoded scenes; the eval_count images
    under the last keys (in LMDB's sorted order) are rendered from held-out photographs."""
    import lmdb

    if isinstance(params, Mapping):
        params = LsunParams(**params)
    total = params.train_count + params.eval_count
    keys = sorted(lsun_key(seed, i) for i in range(total))
    folder = root / "lsun" / LMDB_DIR
    folder.mkdir(parents=True, exist_ok=True)
    env = lmdb.open(str(folder), map_size=max(1 << 26, total * params.image_size**2 * 4))
    for split, split_keys, names in (
        ("train", keys[: params.train_count], _TRAIN_PHOTOS),
        ("eval", keys[params.train_count :], _EVAL_PHOTOS),
    ):
        rng = np.random.default_rng([seed, 1 if split == "train" else 2])
        textures = _textures(names, rng)
        with env.begin(write=True) as txn:
            for key in split_keys:
                buf = io.BytesIO()
                image = render_bedroom(params.image_size, textures, rng)
                Image.fromarray(image).save(buf, "JPEG", quality=params.jpeg_quality)
                txn.put(key, buf.getvalue())
    env.close()


LSUN = DatasetSpec(
    name="lsun",
    required=("lsun",),
    generate=generate_lsun,
    params=LsunParams,
    validate=check_lsun,
    version=1,
    layout_hint=LSUN_LAYOUT,
)
