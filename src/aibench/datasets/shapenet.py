"""ShapeNetCore in 3D-R2N2's release layout (the renderings and 32^3 voxels PTN-style code reads), and its
embedded stand-in.

Layout under the data root:

    shapenet/ShapeNetRendering/<synset>/<model_id>/rendering/00.png ... 23.png   RGBA, alpha = silhouette
    shapenet/ShapeNetRendering/<synset>/<model_id>/rendering/rendering_metadata.txt
        one line per view: azimuth elevation in-plane-rotation distance-ratio fov (degrees; distance = ratio x 1.75)
    shapenet/ShapeNetVox32/<synset>/<model_id>/model.binvox                      32^3 occupancy (binvox)

Models are the folders present in both trees; per synset, sorted by id, the first 80% are training and the last 20%
test (3D-R2N2's rule). Geometry conventions: the voxel grid spans the unit cube [-0.5, 0.5]^3 centred on the
origin, y up (binvox's x-z-y storage order is read back to x, y, z); a camera sits at `distance` from the origin
at its azimuth (about y) and elevation, looks at the origin, and has a square field of view `fov`. The embedded
data is written with these conventions; the alignment of the real release's grids and cameras with them is not
verified here (no ShapeNet on this machine).

The embedded generator builds objects of six categories from primitives (boxes, cylinders, ellipsoids, cones) with
category structure and random proportions: chair, table, lamp, sofa, airplane and car. Each part has its own random
colour, drawn from one palette for every category, so colour tells nothing of shape. An object is voxelized at
32^3 (occupancy at voxel centres) and ray-cast from 24 random viewpoints (azimuth uniform, elevation 10-40
degrees, fov 36 degrees at distance 1.75) into RGBA images with Lambertian shading
from the occupancy gradient. Training and test objects are
independent draws; a test object is never a view of a training one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from aibench.datasets.embedded import DataLayoutError, DatasetSpec

RENDERING = Path("shapenet") / "ShapeNetRendering"
VOXELS = Path("shapenet") / "ShapeNetVox32"
METADATA = "rendering_metadata.txt"
MAX_CAMERA_DISTANCE = 1.75  # 3D-R2N2's: distance = ratio x 1.75
SHAPENET_LAYOUT = (
    "DATA_ROOT/shapenet/ShapeNetRendering/<synset>/<model_id>/rendering/{00..23.png,rendering_metadata.txt} and "
    "DATA_ROOT/shapenet/ShapeNetVox32/<synset>/<model_id>/model.binvox (3D-R2N2's release)"
)
# ShapeNetCore synset ids of the six embedded categories (airplane-like and car-like share the real ids).
CATEGORIES = {
    "chair": "03001627",
    "table": "04379243",
    "lamp": "03636649",
    "sofa": "04256520",
    "airplane": "02691156",
    "car": "02958343",
}


# ---------------------------------------------------------------------------------------------------- binvox
def write_binvox(path: Path, occupancy: np.ndarray) -> None:
    """A binvox file of an (x, y, z) boolean grid: header, then run-length (value, count) bytes in x-z-y order."""
    dim = occupancy.shape
    flat = np.ascontiguousarray(occupancy.astype(np.uint8).transpose(0, 2, 1)).ravel()
    starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])  # where each run of equal values begins
    lengths = np.diff(np.r_[starts, flat.size])
    # binvox counts are bytes: a run longer than 255 is split into 255-long pieces and a remainder.
    pieces = (lengths + 254) // 255
    values = np.repeat(flat[starts], pieces)
    counts = np.full(pieces.sum(), 255, np.int64)
    counts[np.cumsum(pieces) - 1] = lengths - (pieces - 1) * 255
    runs = np.stack([values, counts.astype(np.uint8)], 1).ravel().tobytes()
    header = f"#binvox 1\ndim {dim[0]} {dim[1]} {dim[2]}\ntranslate -0.5 -0.5 -0.5\nscale 1.0\ndata\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header.encode() + bytes(runs))


def read_binvox(path: Path) -> np.ndarray:
    """The (x, y, z) boolean occupancy of a binvox file; a malformed file is a DataLayoutError naming it."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataLayoutError(f"cannot read {path}: {exc}") from exc
    marker = raw.find(b"\ndata\n")
    if not raw.startswith(b"#binvox") or marker < 0:
        raise DataLayoutError(f"{path} is not a binvox file (no '#binvox' header and 'data' line)")
    dims = None
    for line in raw[:marker].decode(errors="replace").splitlines():
        if line.startswith("dim"):
            dims = tuple(int(v) for v in line.split()[1:4])
    if dims is None or len(dims) != 3:
        raise DataLayoutError(f"{path}: the binvox header has no 'dim X Y Z' line")
    runs = np.frombuffer(raw[marker + 6 :], np.uint8)
    if runs.size % 2:
        raise DataLayoutError(f"{path}: truncated binvox data (odd number of run-length bytes)")
    flat = np.repeat(runs[0::2], runs[1::2])
    if flat.size != math.prod(dims):
        raise DataLayoutError(f"{path}: binvox data holds {flat.size} voxels, its header says {dims}")
    return flat.reshape(dims[0], dims[2], dims[1]).transpose(0, 2, 1).astype(bool)


# ---------------------------------------------------------------------------------------------------- cameras
def camera_rays(cameras: torch.Tensor, size: int, depths: int) -> torch.Tensor:
    """Sample points of each camera's viewing frustum, (V, depths, size, size, 3) world coordinates.

    cameras: (V, 4) azimuth and elevation (degrees), distance and fov (degrees). Rows of the image
    run top to bottom; depth runs from the near to the far side of the unit cube's bounding sphere."""
    az, el, dist, fov = (torch.deg2rad(cameras[:, 0]), torch.deg2rad(cameras[:, 1]), cameras[:, 2], cameras[:, 3])
    centre = (
        torch.stack([torch.cos(el) * torch.sin(az), torch.sin(el), torch.cos(el) * torch.cos(az)], 1) * dist[:, None]
    )
    forward = -centre / dist[:, None]
    world_up = torch.tensor([0.0, 1.0, 0.0], dtype=cameras.dtype, device=cameras.device).expand_as(forward)
    right = F.normalize(torch.linalg.cross(forward, world_up), dim=1)
    up = torch.linalg.cross(right, forward)
    half = torch.tan(torch.deg2rad(fov) / 2)[:, None, None]
    ticks = (torch.arange(size, dtype=cameras.dtype, device=cameras.device) + 0.5) / size * 2 - 1
    u = ticks[None, None, :] * half  # columns: left to right
    v = -ticks[None, :, None] * half  # rows: top to bottom
    radius = math.sqrt(3) / 2
    t = torch.linspace(0, 1, depths, dtype=cameras.dtype, device=cameras.device)[None, :] * 2 * radius + (
        dist[:, None] - radius
    )  # (V, D)
    direction = (
        forward[:, None, None, :] + u[..., None] * right[:, None, None, :] + v[..., None] * up[:, None, None, :]
    )  # (V, S, S, 3)
    return centre[:, None, None, None, :] + t[:, :, None, None, None] * direction[:, None]


def sample_volume(volume: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Trilinear samples of (N, C, Z, Y, X) volumes over the unit cube at (N, D, S, S, 3) world points (x, y, z);
    zero outside the cube."""
    return F.grid_sample(volume, points * 2, mode="bilinear", padding_mode="zeros", align_corners=False)


def read_metadata(path: Path) -> np.ndarray:
    """(views, 4): azimuth, elevation, distance (ratio x 1.75), fov of each line of rendering_metadata.txt."""
    try:
        rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
        values = np.array([[float(v) for v in row[:5]] for row in rows], np.float32)
    except (OSError, ValueError) as exc:
        raise DataLayoutError(f"unreadable camera metadata {path}: {exc}") from exc
    if values.ndim != 2 or values.shape[1] != 5:
        raise DataLayoutError(f"{path}: each line must hold azimuth elevation in-plane distance-ratio fov")
    return np.stack([values[:, 0], values[:, 1], values[:, 3] * MAX_CAMERA_DISTANCE, values[:, 4]], 1)


# ---------------------------------------------------------------------------------------------------- reader
@dataclass
class ShapeNetSplit:
    """One split in memory: images (N, V, 3, S, S) uint8 on white, silhouettes (N, V, P, P) uint8 at the
    projection size, cameras (N, V, 4), voxels (N, 32, 32, 32) bool in (z, y, x) order, categories (N,)."""

    images: torch.Tensor
    masks: torch.Tensor
    cameras: torch.Tensor
    voxels: torch.Tensor
    categories: list[str]
    model_ids: list[str]


def shapenet_models(root: Path) -> dict[str, list[tuple[str, str]]]:
    """{"train": [(synset, id), ...], "test": [...]}: models present in both trees, 80/20 per synset by id."""
    rendering, voxels = root / RENDERING, root / VOXELS
    for folder in (rendering, voxels):
        if not folder.is_dir():
            raise DataLayoutError(f"missing {folder}; expected {SHAPENET_LAYOUT}")
    splits: dict[str, list[tuple[str, str]]] = {"train": [], "test": []}
    for synset in sorted(p.name for p in rendering.iterdir() if p.is_dir()):
        ids = sorted(
            p.name for p in (rendering / synset).iterdir() if (voxels / synset / p.name / "model.binvox").is_file()
        )
        cut = len(ids) - max(1, round(len(ids) * 0.2)) if len(ids) > 1 else len(ids)  # at least one test model
        splits["train"] += [(synset, i) for i in ids[:cut]]
        splits["test"] += [(synset, i) for i in ids[cut:]]
    if not splits["train"] or not splits["test"]:
        raise DataLayoutError(
            f"{root / 'shapenet'} holds {len(splits['train'])} training and {len(splits['test'])} test models with "
            f"both renderings and voxels; at least one of each is needed ({SHAPENET_LAYOUT})"
        )
    return splits


def read_shapenet(
    root: Path, split: str, image_size: int, mask_size: int, views: int | None = None, limit: int | None = None
) -> ShapeNetSplit:
    """Read a split's renderings (resized; RGB composited on white), silhouettes, cameras and voxels."""
    models = shapenet_models(root)[split][:limit]
    images, masks, cameras, grids = [], [], [], []
    for synset, model_id in models:
        folder = root / RENDERING / synset / model_id / "rendering"
        cams = read_metadata(folder / METADATA)
        count = len(cams) if views is None else views
        if len(cams) < count:
            raise DataLayoutError(f"{folder / METADATA} lists {len(cams)} views; {count} are needed")
        view_images, view_masks = [], []
        for k in range(count):
            path = folder / f"{k:02d}.png"
            try:
                rgba = Image.open(path).convert("RGBA")
                rgba.load()
            except OSError as exc:
                raise DataLayoutError(f"unreadable rendering {path}: {exc}") from exc
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            rgb = (
                Image.alpha_composite(white, rgba).convert("RGB").resize((image_size, image_size), Image.Resampling.BOX)
            )
            alpha = rgba.getchannel("A").resize((mask_size, mask_size), Image.Resampling.BOX)
            view_images.append(np.asarray(rgb).transpose(2, 0, 1))
            view_masks.append(np.asarray(alpha))
        occupancy = read_binvox(root / VOXELS / synset / model_id / "model.binvox")
        if occupancy.shape != (32, 32, 32):
            raise DataLayoutError(
                f"{root / VOXELS / synset / model_id / 'model.binvox'} is {occupancy.shape}, not 32^3"
            )
        images.append(np.stack(view_images))
        masks.append(np.stack(view_masks))
        cameras.append(cams[:count])
        grids.append(occupancy.transpose(2, 1, 0))  # (x, y, z) -> (z, y, x), the order grid_sample reads
    return ShapeNetSplit(
        torch.from_numpy(np.stack(images)),
        torch.from_numpy(np.stack(masks)),
        torch.from_numpy(np.stack(cameras)),
        torch.from_numpy(np.stack(grids)),
        [s for s, _ in models],
        [i for _, i in models],
    )


def check_shapenet(root: Path) -> None:
    splits = shapenet_models(root)
    synset, model_id = splits["train"][0]
    read_metadata(root / RENDERING / synset / model_id / "rendering" / METADATA)
    read_binvox(root / VOXELS / synset / model_id / "model.binvox")


# ---------------------------------------------------------------------------------------------------- generator
@dataclass(frozen=True)
class ShapeNetParams:
    """Size of the embedded ShapeNet: objects per category and split, views per object, rendering size."""

    train_per_category: int = 60
    test_per_category: int = 15
    views: int = 24
    image_size: int = 64
    fov: float = 36.0
    distance_ratio: float = 1.0  # x 1.75: an object fills most of the frame at fov 36

    def __post_init__(self) -> None:
        if min(self.train_per_category, self.test_per_category, self.views) < 1 or self.image_size < 8:
            raise ValueError("embedded ShapeNet needs >= 1 object per category and split, >= 1 view, images >= 8 px")
        total = self.train_per_category + self.test_per_category
        if self.test_per_category != max(1, round(total * 0.2)):
            raise ValueError(
                f"the reader holds out the last 20% of each category ({max(1, round(total * 0.2))} of {total}); "
                f"test_per_category={self.test_per_category} would put generated test objects in training"
            )


_GRID = (np.arange(32) + 0.5) / 32 - 0.5  # voxel centres along an axis


def _box(x: np.ndarray, y: np.ndarray, z: np.ndarray, lo: tuple[float, ...], hi: tuple[float, ...]) -> np.ndarray:
    return (x >= lo[0]) & (x <= hi[0]) & (y >= lo[1]) & (y <= hi[1]) & (z >= lo[2]) & (z <= hi[2])


def _cylinder(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, c: tuple[float, float], r: float, y0: float, y1: float, axis: str = "y"
) -> np.ndarray:
    """A cylinder along y (c = x, z of its axis) or along x (c = y, z) or z (c = x, y)."""
    if axis == "y":
        return ((x - c[0]) ** 2 + (z - c[1]) ** 2 <= r * r) & (y >= y0) & (y <= y1)
    if axis == "x":
        return ((y - c[0]) ** 2 + (z - c[1]) ** 2 <= r * r) & (x >= y0) & (x <= y1)
    return ((x - c[0]) ** 2 + (y - c[1]) ** 2 <= r * r) & (z >= y0) & (z <= y1)


def _ellipsoid(x: np.ndarray, y: np.ndarray, z: np.ndarray, c: tuple[float, ...], r: tuple[float, ...]) -> np.ndarray:
    return ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2 <= 1


def _legs(
    x: np.ndarray, y: np.ndarray, z: np.ndarray, w: float, d: float, leg: float, top: float, rng: np.random.Generator
) -> np.ndarray:
    """Four legs under a (2w x 2d) top at height `top`, or a pedestal: a column on a round foot."""
    legs = np.zeros_like(x, dtype=bool)
    if rng.random() < 0.35:
        legs |= _cylinder(x, y, z, (0, 0), rng.uniform(0.03, 0.08), -0.48, top)
        legs |= _cylinder(x, y, z, (0, 0), rng.uniform(0.15, min(w, d) + 0.05), -0.48, -0.44)
        return legs
    inset = rng.uniform(0, 0.08)
    for sx in (-1.0, 1.0):
        for sz in (-1.0, 1.0):
            cx, cz = sx * (w - inset - leg / 2), sz * (d - inset - leg / 2)
            legs |= _box(x, y, z, (cx - leg / 2, -0.48, cz - leg / 2), (cx + leg / 2, top, cz + leg / 2))
    return legs


def _parts(category: str, rng: np.random.Generator) -> list[np.ndarray]:
    """The parts of one object, each an (x, y, z) boolean grid. Each category has structural variants (arms or
    none, pedestal or legs, round or square tops, body styles) as well as random proportions, so a category's
    mean shape is a poor guess of any one object: the image must be read, not just classified."""
    x, y, z = np.meshgrid(_GRID, _GRID, _GRID, indexing="ij")

    def u(lo: float, hi: float) -> float:
        return float(rng.uniform(lo, hi))

    parts: list[np.ndarray] = []
    if category == "chair":
        w, d, seat = u(0.18, 0.42), u(0.18, 0.4), u(-0.2, 0.1)
        thick, leg = u(0.04, 0.09), u(0.03, 0.07)
        parts.append(_box(x, y, z, (-w, seat - thick, -d), (w, seat, d)))
        parts.append(_legs(x, y, z, w, d, leg, seat - thick, rng))
        back_top, back_d = min(0.48, seat + u(0.2, 0.5)), u(0.03, 0.08)
        if rng.random() < 0.5:  # a solid back
            parts.append(_box(x, y, z, (-w, seat, -d), (w, back_top, -d + back_d)))
        else:  # two posts and a top rail
            rail = u(0.05, 0.12)
            parts.append(
                _box(x, y, z, (-w, seat, -d), (-w + leg, back_top, -d + back_d))
                | _box(x, y, z, (w - leg, seat, -d), (w, back_top, -d + back_d))
                | _box(x, y, z, (-w, back_top - rail, -d), (w, back_top, -d + back_d))
            )
        if rng.random() < 0.4:  # arms
            arm_h = seat + u(0.1, 0.2)
            parts.append(
                _box(x, y, z, (-w, arm_h - 0.04, -d), (-w + 0.05, arm_h, d))
                | _box(x, y, z, (w - 0.05, arm_h - 0.04, -d), (w, arm_h, d))
            )
    elif category == "table":
        top, thick, leg = u(-0.15, 0.3), u(0.03, 0.08), u(0.03, 0.08)
        if rng.random() < 0.35:  # round
            r = u(0.2, 0.48)
            w = d = r * 0.7
            parts.append(_cylinder(x, y, z, (0, 0), r, top - thick, top))
        else:
            w, d = u(0.2, 0.48), u(0.12, 0.45)
            parts.append(_box(x, y, z, (-w, top - thick, -d), (w, top, d)))
        parts.append(_legs(x, y, z, w, d, leg, top - thick, rng))
        if rng.random() < 0.3:  # a lower shelf
            shelf = u(-0.4, top - 0.15)
            parts.append(_box(x, y, z, (-w * 0.9, shelf - 0.03, -d * 0.9), (w * 0.9, shelf, d * 0.9)))
    elif category == "sofa":
        w, d, seat = u(0.3, 0.48), u(0.16, 0.32), u(-0.25, 0.0)
        base = -0.48 if rng.random() < 0.5 else u(-0.42, -0.32)  # on the floor or on short feet
        parts.append(_box(x, y, z, (-w, base, -d), (w, seat, d)))
        if base > -0.48:
            parts.append(_legs(x, y, z, w, d, 0.04, base, rng))
        parts.append(_box(x, y, z, (-w, seat, -d), (w, seat + u(0.15, 0.4), -d + u(0.06, 0.16))))
        if rng.random() < 0.3:  # a chaise: one end extends forward
            side = 1.0 if rng.random() < 0.5 else -1.0
            lo, hi = sorted((side * w, side * (w - u(0.15, 0.3))))
            parts.append(_box(x, y, z, (lo, base, d), (hi, seat, min(0.48, d + u(0.1, 0.25)))))
        if rng.random() < 0.7:
            arm_h, arm_w = u(0.05, 0.2), u(0.05, 0.12)
            parts.append(
                _box(x, y, z, (-w, seat, -d), (-w + arm_w, seat + arm_h, d))
                | _box(x, y, z, (w - arm_w, seat, -d), (w, seat + arm_h, d))
            )
    elif category == "lamp":
        base_r, pole_r, height = u(0.08, 0.25), u(0.02, 0.04), u(-0.1, 0.35)
        reach = u(0.0, 0.3) if rng.random() < 0.5 else 0.0  # a desk lamp's arm moves the shade sideways
        parts.append(_cylinder(x, y, z, (0, 0), base_r, -0.48, -0.48 + u(0.03, 0.08)))
        parts.append(_cylinder(x, y, z, (0, 0), pole_r, -0.45, height))
        if reach:
            parts.append(_box(x, y, z, (0, height - 0.02, -0.02), (reach, height + 0.02, 0.02)))
        shade_h = u(0.1, 0.25)
        if rng.random() < 0.3:  # a globe
            r = shade_h * 0.8
            parts.append(_ellipsoid(x, y, z, (reach, height + r * 0.6, 0), (r, r, r)))
        else:  # a cone, wide end down
            r0, r1 = u(0.04, 0.14), u(0.12, 0.3)
            frac = np.clip((y - height) / shade_h, 0, 1)
            cone = r0 + (r1 - r0) * (1 - frac)
            parts.append(((x - reach) ** 2 + z * z <= cone**2) & (y >= height) & (y <= height + shade_h))
    elif category == "airplane":
        length, radius = u(0.35, 0.48), u(0.04, 0.1)
        parts.append(_ellipsoid(x, y, z, (0, 0, 0), (length, radius, radius)))
        span, chord, pos, sweep = u(0.25, 0.48), u(0.06, 0.16), u(-0.15, 0.15), u(0.0, 0.6)
        wing_y = u(-0.6, 0.6) * radius  # low, mid or high wing
        # A swept wing: its chord moves aft (towards -x) in proportion to the distance from the fuselage.
        lead = pos + chord - sweep * np.abs(z)
        parts.append((x <= lead) & (x >= lead - 2 * chord) & (np.abs(y - wing_y) <= 0.02) & (np.abs(z) <= span))
        if rng.random() < 0.5:  # engines under the wings
            for side in (-1.0, 1.0):
                ez = side * u(0.12, span * 0.7)
                parts.append(
                    _cylinder(x, y, z, (wing_y - 0.05, ez), 0.035, pos - 0.12 - sweep * abs(ez), pos + 0.02, "x")
                )
        tail, fin = -length + 0.04, u(0.1, 0.24)
        parts.append(_box(x, y, z, (tail, 0, -0.015), (tail + u(0.06, 0.14), fin, 0.015)))
        stab_y = fin - 0.02 if rng.random() < 0.3 else 0.0  # a T-tail or a conventional tail
        parts.append(_box(x, y, z, (tail, stab_y - 0.015, -u(0.08, 0.18)), (tail + 0.08, stab_y + 0.015, 0.17)))
    elif category == "car":
        length, width, floor = u(0.36, 0.48), u(0.16, 0.27), u(-0.32, -0.18)
        body_top = floor + u(0.08, 0.2)
        parts.append(_box(x, y, z, (-length, floor, -width), (length, body_top, width)))
        style = rng.integers(3)
        if style == 0:  # a saloon: a cabin in the middle
            c0, c1 = u(-0.25, -0.05), u(0.1, 0.3)
        elif style == 1:  # a van: the cabin runs to the back
            c0, c1 = -length, u(0.15, length - 0.05)
        else:  # a pick-up: a short cabin at the front, an open bed behind
            c0, c1 = u(0.0, 0.15), u(0.25, length - 0.03)
        cabin_top = min(0.45, body_top + u(0.1, 0.25))
        parts.append(_box(x, y, z, (c0, body_top, -width + 0.03), (c1, cabin_top, width - 0.03)))
        wheels = np.zeros_like(x, dtype=bool)
        wr = u(0.06, 0.11)
        for wx in (-0.65, 0.65):
            for wz in (-1.0, 1.0):  # a wheel: a disc about the z axis at each corner of the body
                wheels |= _cylinder(x, y, z, (wx * length, floor), wr, wz * width - 0.04, wz * width + 0.04, axis="z")
        parts.append(wheels)
    else:
        raise ValueError(f"unknown category {category}")
    return [p for p in parts if p.any()]


def _palette(rng: np.random.Generator) -> np.ndarray:
    """One random colour from a palette shared by every category (HSV, moderate saturation)."""
    h, s, v = rng.uniform(0, 1), rng.uniform(0.2, 0.8), rng.uniform(0.35, 0.95)
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i], np.float32)


def render(occupancy: np.ndarray, colours: np.ndarray, cameras: np.ndarray, size: int) -> np.ndarray:
    """(V, size, size, 4) uint8 RGBA renderings of an (x, y, z) grid with per-voxel colours (x, y, z, 3) by ray
    casting: the first occupied sample along each ray, shaded by its normal (the occupancy's smoothed gradient)."""
    occ = torch.from_numpy(occupancy.transpose(2, 1, 0).astype(np.float32))[None, None]  # (1, 1, z, y, x)
    smooth = F.avg_pool3d(F.pad(occ, (1, 1, 1, 1, 1, 1), mode="replicate"), 3, stride=1)
    gz, gy, gx = torch.gradient(smooth[0, 0])
    colour = torch.from_numpy(colours.transpose(3, 2, 1, 0).copy())[None]  # (1, 3, z, y, x)
    fields = torch.cat([torch.stack([gx, gy, gz])[None], colour], 1)
    depths = 64
    points = camera_rays(torch.from_numpy(cameras), size, depths)  # (V, D, S, S, 3)
    views = len(cameras)
    hit = F.grid_sample(occ.expand(views, -1, -1, -1, -1), points * 2, mode="nearest", align_corners=False)[:, 0] > 0.5
    first = hit.float().argmax(1)  # (V, S, S): the first occupied depth along each ray
    seen = hit.any(1)
    at = torch.gather(points, 1, first[:, None, :, :, None].expand(-1, 1, -1, -1, 3))  # (V, 1, S, S, 3)
    sampled = F.grid_sample(fields.expand(views, -1, -1, -1, -1), at * 2, mode="nearest", align_corners=False)[:, :, 0]
    normal = -F.normalize(sampled[:, :3], dim=1)  # (V, 3, S, S)
    # A light above the camera's right shoulder, plus ambient.
    az, el = torch.deg2rad(torch.from_numpy(cameras[:, 0]) + 30), torch.deg2rad(torch.from_numpy(cameras[:, 1]) + 30)
    light = torch.stack([torch.cos(el) * torch.sin(az), torch.sin(el), torch.cos(el) * torch.cos(az)], 1)
    shade = 0.35 + 0.65 * (normal * light[:, :, None, None]).sum(1, keepdim=True).clamp(min=0)
    rgb = (sampled[:, 3:6] * shade).clamp(0, 1) * seen[:, None]
    rgba = torch.cat([rgb, seen[:, None].float()], 1) * 255
    return rgba.permute(0, 2, 3, 1).round().to(torch.uint8).numpy()


def generate_shapenet(root: Path, params: ShapeNetParams | Mapping[str, Any], seed: int) -> None:
    """Write embedded ShapeNet in 3D-R2N2's layout: training objects first (ids sort before test ids)."""
    if isinstance(params, Mapping):
        params = ShapeNetParams(**params)
    for split, count in (("a", params.train_per_category), ("b", params.test_per_category)):
        for c, (category, synset) in enumerate(CATEGORIES.items()):
            rng = np.random.default_rng([seed, c, 0 if split == "a" else 1])
            for n in range(count):
                model_id = f"{split}{n:05d}"  # "a..." sorts before "b...": the 80/20 rule puts "b..." in test
                parts = _parts(category, rng)
                occupancy = np.zeros((32, 32, 32), bool)
                colours = np.zeros((32, 32, 32, 3), np.float32)
                for part in parts:
                    occupancy |= part
                    colours[part] = _palette(rng)
                cameras = np.stack(
                    [
                        rng.uniform(0, 360, params.views),
                        rng.uniform(10, 40, params.views),
                        np.full(params.views, params.distance_ratio * MAX_CAMERA_DISTANCE),
                        np.full(params.views, params.fov),
                    ],
                    1,
                ).astype(np.float32)
                folder = root / RENDERING / synset / model_id / "rendering"
                folder.mkdir(parents=True, exist_ok=True)
                for k, rgba in enumerate(render(occupancy, colours, cameras, params.image_size)):
                    Image.fromarray(rgba, "RGBA").save(folder / f"{k:02d}.png")
                lines = [f"{a:.4f} {e:.4f} 0 {params.distance_ratio:.4f} {params.fov:.4f}" for a, e, _, _ in cameras]
                (folder / METADATA).write_text("\n".join(lines) + "\n")
                write_binvox(root / VOXELS / synset / model_id / "model.binvox", occupancy)


SHAPENET = DatasetSpec(
    name="shapenet",
    required=(str(RENDERING), str(VOXELS)),
    generate=generate_shapenet,
    params=ShapeNetParams,
    validate=check_shapenet,
    version=2,
    layout_hint=SHAPENET_LAYOUT,
)
