"""Face data for DC-AI-C7 (VGGFace2 training, LFW verification) and DC-AI-C8 (RGB-D face recognition), and the
embedded stand-in all three layouts share: one seeded parametric 3D face generator.

Layouts under the data root (the first two are the real releases'; C8's data is not public, so its layout is ours):

    vggface2/train/<n000001>/<0001_01>.jpg          VGGFace2: one folder per identity, any number of JPEGs in it
    lfw/<Name>/<Name>_0001.jpg                      LFW: one folder per person, images numbered from 1
    lfw/pairs.txt                                   LFW's 10-fold protocol (view 2): a header line "<folds> <n>",
                                                    then per fold n matched lines "name i j" followed by n
                                                    mismatched lines "name1 i name2 j" (tabs or spaces)
    rgbd_faces/<id>/<n>_rgb.jpg                     RGB-D faces: the colour image of sample n of identity <id>
    rgbd_faces/<id>/<n>_depth.png                   its registered depth map: 16-bit greyscale PNG, millimetres
                                                    from the camera, 0 where the sensor has no reading
    rgbd_faces/split.txt                            one line per sample, "train <id>/<n>" or "test <id>/<n>";
                                                    closed set: every test identity has training samples

LFW's folds are disjoint in people (the release drew each fold's pairs from its own tenth of the people); the
reader does not require that, but the generator keeps it. Labels of VGGFace2 and RGB-D identities are the sorted
folder names' indices. A missing file or folder, a malformed line of pairs.txt or split.txt, and a corrupt
(truncated, undecodable) JPEG or PNG are DataLayoutErrors naming the path and, for text files, the line.

The embedded generator. An identity is a vector of geometry and albedo: head shape (cranium radii, jaw width,
height and depth, chin size and protrusion, cheek fullness, ears), eye spacing, size and height, iris colour,
nose length, width and protrusion, mouth width and lip thickness, brow height, thickness and slant, skin albedo
(RGB, from a light-to-dark range of tones), hair colour, hairline height and volume (some identities are bald,
some bearded). The face is a union of ellipsoids (some clipped by a plane, the hair shell by its hairline), ray
cast exactly in numpy: each ray meets each ellipsoid by a quadratic, the nearest hit wins, and its analytic
normal shades it. A sample renders one identity with its own pose (yaw and pitch, roll up to 10 degrees), camera
distance (the face's front 490-690 mm away) and offset, directional light (direction, intensity, colour) plus
ambient and specular terms, expression (mouth open, smile, brow raise), gaze, clothing colour, a background that
is a random crop of a real photograph (skimage.data; tinted, flipped, blurred) in front of a far wall in depth
(1.1-3.3 m), sometimes an occluder (a sunglasses band over the eyes, or a textured rectangle 250-420 mm from the
camera), and sensor noise. It is rendered at twice the output size and averaged down (antialiasing); the depth
map takes one ray per pixel.

Why: geometry and albedo are what identify a face, while everything a cheap method sees first -- the
background, which fills about half the frame, the light's colour and direction, pose and distance -- changes from
one sample to the next. Raw-pixel distances and colour histograms therefore barely beat chance at telling two
samples of one identity from two of different identities (baselines/faces.py), and a model must find the face's
shape. Splits never share a source: VGGFace2, LFW and RGB-D identities are independent draws (so LFW's people are
never training identities), and the training layouts' backgrounds come from photographs the evaluation data
(LFW, RGB-D test) never uses. RGB-D test samples come from poses and light directions no training sample has:
training |yaw| <= 15 and |pitch| <= 15 degrees with the light within 35 degrees of the camera axis; test
15 < |yaw| <= 30, |pitch| <= 30, light 35-65 degrees off axis.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageFilter, UnidentifiedImageError

from aibench.datasets.embedded import DataLayoutError, DatasetSpec
from aibench.datasets.photos import load_photos

VGGFACE2 = Path("vggface2") / "train"
LFW = Path("lfw")
PAIRS = LFW / "pairs.txt"
RGBD = Path("rgbd_faces")
SPLIT = RGBD / "split.txt"
VGGFACE2_LAYOUT = "DATA_ROOT/vggface2/train/<n000001>/<0001_01>.jpg (VGGFace2's identity folders)"
LFW_LAYOUT = "DATA_ROOT/lfw/<Name>/<Name>_0001.jpg and DATA_ROOT/lfw/pairs.txt (LFW's 10-fold view 2)"
RGBD_LAYOUT = (
    "DATA_ROOT/rgbd_faces/<id>/<n>_rgb.jpg, DATA_ROOT/rgbd_faces/<id>/<n>_depth.png (16-bit, millimetres) and "
    "DATA_ROOT/rgbd_faces/split.txt ('train|test <id>/<n>' lines)"
)
FOLDS = 10  # LFW's protocol

# Background photographs (skimage.data, bundled: nothing is downloaded), disjoint between the training layouts
# (VGGFace2, RGB-D train) and the evaluation ones (LFW, RGB-D test). Photographs of people (astronaut, camera) are
# left out, so no background holds a face; skimage's `cat` is `chelsea`.
_TRAIN_PHOTOS = ("coffee", "chelsea", "rocket", "hubble_deep_field", "brick", "grass", "coins", "page", "horse")
_TEST_PHOTOS = ("immunohistochemistry", "retina", "colorwheel", "logo", "gravel", "moon", "text", "clock", "cell")


# ---------------------------------------------------------------------------------------------------- identities
@dataclass(frozen=True)
class Identity:
    """One person: geometry in millimetres in the head's frame (x to the person's left as seen by the camera, y up,
    z out of the face), angles in degrees, colours as linear RGB in [0, 1]."""

    head: tuple[float, float, float]  # cranium radii
    jaw: tuple[float, float, float]  # lower-face ellipsoid radii: width, height, depth
    jaw_drop: float  # how far below the cranium's centre the jaw's centre sits
    chin: float  # chin radius
    chin_forward: float  # chin protrusion
    cheek: float  # cheek radius (fullness)
    ear: float  # ear height
    eye_spacing: float  # between the eyes' centres
    eye_size: float
    eye_height: float  # of the eyes' centres above the cranium's centre
    iris: tuple[float, float, float]
    nose_length: float
    nose_width: float
    nose_depth: float  # protrusion of the tip from the face
    mouth_width: float  # half width
    lip: float  # lip thickness
    mouth_gap: float  # from the nose tip down to the mouth
    brow_height: float  # above the eyes' centres
    brow_thickness: float
    brow_slant: float  # degrees, outer end up when positive
    brow_ridge: float  # protrusion of the brow ridge
    skin: tuple[float, float, float]
    hair: tuple[float, float, float]
    hairline: float  # height of the hairline at the forehead above the cranium's centre
    hair_volume: float  # hair shell radii / cranium radii - 1
    bald: bool
    beard: bool

    def vector(self) -> np.ndarray:
        """Every parameter as one float vector (for comparing identities)."""
        out: list[float] = []
        for f in fields(self):
            value = getattr(self, f.name)
            out += [float(v) for v in value] if isinstance(value, tuple) else [float(value)]
        return np.array(out)


_HAIR = ((0.06, 0.05, 0.05), (0.2, 0.12, 0.07), (0.4, 0.26, 0.15), (0.78, 0.64, 0.4), (0.55, 0.24, 0.12))
_GREY_HAIR = (0.62, 0.6, 0.58)
_IRIS = ((0.3, 0.17, 0.08), (0.12, 0.07, 0.04), (0.25, 0.4, 0.6), (0.3, 0.42, 0.25), (0.45, 0.35, 0.2))
_LIGHT_SKIN, _DARK_SKIN = np.array([0.92, 0.74, 0.62]), np.array([0.36, 0.23, 0.16])


def _triple(values: Any) -> tuple[float, float, float]:
    a, b, c = (float(v) for v in values)
    return a, b, c


def random_identity(rng: np.random.Generator) -> Identity:
    """An identity drawn from ranges that cover adult heads; every parameter independent."""
    u = rng.uniform
    tone = u(0, 1)
    skin = np.clip(_LIGHT_SKIN + (_DARK_SKIN - _LIGHT_SKIN) * tone + u(-0.04, 0.04, 3), 0, 1)
    hair = _GREY_HAIR if rng.random() < 0.12 else _HAIR[int(rng.integers(len(_HAIR)))]
    hair = _triple(np.clip(np.array(hair) * u(0.8, 1.2) + u(-0.03, 0.03, 3), 0, 1))
    iris = _IRIS[int(rng.integers(len(_IRIS)))]
    head = (u(68, 82), u(96, 110), u(86, 100))
    return Identity(
        head=head,
        jaw=(u(46, 68), u(42, 58), u(66, 84)),
        jaw_drop=u(30, 44),
        chin=u(12, 24),
        chin_forward=u(0, 10),
        cheek=u(20, 32),
        ear=u(24, 33),
        eye_spacing=u(56, 72),
        eye_size=u(8.5, 12.5),
        eye_height=u(8, 22),
        iris=_triple(iris),
        nose_length=u(34, 54),
        nose_width=u(8, 15),
        nose_depth=u(14, 28),
        mouth_width=u(17, 28),
        lip=u(3.5, 7.5),
        mouth_gap=u(10, 18),
        brow_height=u(13, 22),
        brow_thickness=u(2.5, 6.5),
        brow_slant=u(-12, 12),
        brow_ridge=u(0, 5),
        skin=_triple(skin),
        hair=hair,
        hairline=u(42, 80),
        hair_volume=u(0.03, 0.16),
        bald=bool(rng.random() < 0.12),
        beard=bool(rng.random() < 0.18),
    )


# ---------------------------------------------------------------------------------------------------- conditions
@dataclass(frozen=True)
class PoseRange:
    """The poses and light directions samples are drawn from (degrees): |yaw| in yaw, |pitch| in pitch, the light's
    angle from the camera axis in light. Yaw and pitch take either sign with equal chance."""

    yaw: tuple[float, float] = (0.0, 30.0)
    pitch: tuple[float, float] = (0.0, 30.0)
    light: tuple[float, float] = (0.0, 65.0)


TRAIN_POSES = PoseRange(yaw=(0.0, 15.0), pitch=(0.0, 15.0), light=(0.0, 35.0))  # RGB-D training samples
TEST_POSES = PoseRange(yaw=(15.0, 30.0), pitch=(0.0, 30.0), light=(35.0, 65.0))  # RGB-D test samples
ALL_POSES = PoseRange()  # VGGFace2 and LFW samples


@dataclass(frozen=True)
class Condition:
    """What changes between two samples of one identity. Angles in degrees, lengths in millimetres; the light's
    direction points from the face toward the light, in the camera's frame (x right, y up, z toward the camera)."""

    yaw: float
    pitch: float
    roll: float
    distance: float  # from the camera to the head's centre (the face's front is about 90 mm nearer)
    shift: tuple[float, float]  # of the head's centre off the camera axis
    light: tuple[float, float, float]
    intensity: float
    ambient: float
    light_colour: tuple[float, float, float]
    specular: float
    mouth_open: float  # 0..1
    smile: float  # 0..1
    brow_raise: float  # 0..1
    gaze: tuple[float, float]  # iris offset, in eye radii
    clothing: tuple[float, float, float]
    exposure: float
    noise: float  # sensor noise, grey levels
    sunglasses: bool
    occluder: bool


def _signed(rng: np.random.Generator, span: tuple[float, float]) -> float:
    return float(rng.uniform(*span) * rng.choice((-1.0, 1.0)))


def random_condition(rng: np.random.Generator, poses: PoseRange = ALL_POSES) -> Condition:
    """A sample's pose, light, expression and nuisances, poses and light directions from `poses`."""
    u = rng.uniform
    theta, phi = math.radians(u(*poses.light)), u(0, 2 * math.pi)
    light = (math.sin(theta) * math.cos(phi), math.sin(theta) * math.sin(phi), math.cos(theta))
    warmth = u(-0.25, 0.25)  # colour temperature: warm (reddish) to cold (bluish)
    tint = u(-0.06, 0.06, 3)
    light_colour = np.clip(np.array([1 + warmth, 1.0, 1 - warmth]) + tint, 0.5, 1.5)
    clothing = colorsys.hsv_to_rgb(u(0, 1), u(0, 0.9), u(0.1, 0.95))
    return Condition(
        yaw=_signed(rng, poses.yaw),
        pitch=_signed(rng, poses.pitch),
        roll=u(-10, 10),
        distance=u(580, 780),
        shift=(u(-25, 25), u(-25, 25)),
        light=light,
        intensity=u(0.55, 1.2),
        ambient=u(0.12, 0.45),
        light_colour=_triple(light_colour),
        specular=u(0.0, 0.35),
        mouth_open=u(0, 1) if rng.random() < 0.4 else 0.0,
        smile=u(0, 1) if rng.random() < 0.5 else 0.0,
        brow_raise=u(0, 1) if rng.random() < 0.4 else 0.0,
        gaze=(u(-0.3, 0.3), u(-0.2, 0.2)),
        clothing=_triple(clothing),
        exposure=u(0.75, 1.25),
        noise=u(1.0, 5.0),
        sunglasses=bool(rng.random() < 0.15),
        occluder=bool(rng.random() < 0.2),
    )


# ---------------------------------------------------------------------------------------------------- geometry
# Materials: how a primitive's hit points are coloured.
_SKIN, _HEAD, _EYE, _HAIR_M, _LIP, _DARK, _CLOTH, _BROW = range(8)
_SHINE = np.array([0.25, 0.25, 1.0, 0.08, 0.5, 0.1, 0.05, 0.05], np.float32)  # specular weight of each material


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Head frame -> camera frame: roll(z) @ pitch(x) @ yaw(y), degrees."""
    y, p, r = (math.radians(a) for a in (yaw, pitch, roll))
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def _front(radii: tuple[float, float, float], centre: tuple[float, float, float], x: float, y: float) -> float:
    """z of an ellipsoid's front surface at (x, y); its centre's z where (x, y) is outside its outline."""
    q = 1 - ((x - centre[0]) / radii[0]) ** 2 - ((y - centre[1]) / radii[1]) ** 2
    return centre[2] + radii[2] * math.sqrt(max(q, 0.0))


@dataclass
class _Scene:
    """Primitives of one face: ellipsoid centres (P, 3), local transforms A (P, 3, 3) mapping head-frame offsets to
    unit-sphere coordinates, clip half-spaces n . p + h >= 0 (P, 3) and (P,), colours (P, 3), materials (P,)."""

    centres: np.ndarray
    transforms: np.ndarray
    clip_n: np.ndarray
    clip_h: np.ndarray
    colours: np.ndarray
    materials: np.ndarray
    hair_plane: tuple[np.ndarray, float]  # cranium points with n . p + h >= 0 are hair-coloured
    beard_below: float  # skin below this height is beard-coloured (-inf: no beard)
    eyes: np.ndarray  # (2, 3) eye centres, for the sunglasses
    reach: np.ndarray  # (P,) the largest radius of each ellipsoid (its bounding sphere)
    metrics: np.ndarray  # (P, 3, 3) A^T A: the gradient of |A (p - c)|^2 / 2 is A^T A (p - c)


def _scene(face: Identity, cond: Condition) -> _Scene:
    prims: list[tuple[Any, ...]] = []  # centre, radii, roll (degrees), colour, material, clip half-space or None

    def add(
        centre: Sequence[float], radii: Sequence[float], roll: float, colour: Any, material: int, clip: Any = None
    ) -> None:
        prims.append((tuple(centre), tuple(radii), roll, tuple(colour), material, clip))

    skin, hair = np.array(face.skin), np.array(face.hair)
    cranium_c = (0.0, 0.0, 0.0)
    jaw_c = (0.0, -face.jaw_drop, face.head[2] - face.jaw[2] - 4)

    def surface(x: float, y: float) -> float:
        return max(_front(face.head, cranium_c, x, y), _front(face.jaw, jaw_c, x, y))

    add(cranium_c, face.head, 0, skin, _HEAD)
    add(jaw_c, face.jaw, 0, skin, _SKIN)
    chin_y = jaw_c[1] - face.jaw[1] + face.chin * 0.9
    add(
        (0, chin_y, surface(0, chin_y) - face.chin + face.chin_forward * 0.6),
        (face.chin * 1.3, face.chin, face.chin),
        0,
        skin,
        _SKIN,
    )
    ex, ey = face.eye_spacing / 2, face.eye_height
    for side in (-1, 1):
        cx, cy = side * (ex + 6), ey - 24
        add(
            (cx, cy, surface(cx, cy) - face.cheek * 0.75),
            (face.cheek, face.cheek * 0.8, face.cheek * 0.7),
            0,
            skin,
            _SKIN,
        )
        add((side * (face.head[0] - 5), ey - 12, -6), (7, face.ear, face.ear * 0.55), -side * 8, skin * 0.95, _SKIN)
    # The brow ridge, then the eyes: almond ellipsoids whose front shows under it.
    ridge_y = ey + face.brow_height * 0.6
    add((0, ridge_y, surface(0, ridge_y) - 10 + face.brow_ridge), (face.eye_spacing * 0.85, 8, 12), 0, skin, _SKIN)
    eyes = []
    for side in (-1, 1):
        cx = side * ex
        centre = (cx, ey, surface(cx, ey) - face.eye_size * 0.35)
        eyes.append(centre)
        add(centre, (face.eye_size * 1.3, face.eye_size * 0.62, face.eye_size * 0.75), 0, (0.9, 0.88, 0.85), _EYE)
        by = ey + face.brow_height + cond.brow_raise * 5
        roll = side * (face.brow_slant + cond.brow_raise * 6)
        add(
            (cx, by, surface(cx, by) + 1.5 - face.brow_thickness),
            (face.eye_size * 1.8, face.brow_thickness, 6),
            roll,
            hair * 0.8,
            _BROW,
        )
    # The nose: a bridge tilted outward toward its tip, the tip, and the wings.
    tip_y = ey - face.nose_length
    tip_z = surface(0, tip_y) + face.nose_depth - face.nose_width * 0.55
    mid_y = (ey - 4 + tip_y) / 2
    add(
        (0, mid_y, (surface(0, mid_y) + tip_z) / 2 - 2),
        (face.nose_width * 0.45, face.nose_length * 0.5, face.nose_depth * 0.55),
        0,
        skin,
        _SKIN,
    )
    add((0, tip_y, tip_z), (face.nose_width * 0.6, face.nose_width * 0.5, face.nose_width * 0.55), 0, skin, _SKIN)
    for side in (-1, 1):
        wy = tip_y + 2
        add(
            (side * face.nose_width * 0.75, wy, surface(0, wy) + face.nose_depth * 0.25),
            (face.nose_width * 0.45, face.nose_width * 0.4, face.nose_width * 0.5),
            0,
            skin * 0.97,
            _SKIN,
        )
    # The mouth: an opening (dark) between two lips; a smile widens it and lifts its corners.
    my = tip_y - face.mouth_gap - face.lip
    width = face.mouth_width * (1 + 0.15 * cond.smile)
    lips = skin * np.array([1.0, 0.72, 0.72])
    mz = surface(0, my)
    opening = 1 + cond.mouth_open * 7
    add((0, my, mz - 4.5), (width * 0.85, opening, 5), 0, (0.18, 0.06, 0.06), _DARK)
    for side in (-1, 1):
        cx = side * width * 0.45
        lift = cond.smile * 4
        add(
            (cx, my + face.lip * 0.55 + cond.mouth_open * 3 + lift * 0.5, mz - 5),
            (width * 0.6, face.lip, 8),
            side * cond.smile * 12,
            lips,
            _LIP,
        )
        add(
            (cx, my - face.lip * 0.65 - cond.mouth_open * 5 + lift * 0.3, mz - 5),
            (width * 0.6, face.lip * 1.1, 8),
            -side * cond.smile * 10,
            lips,
            _LIP,
        )
    # Neck and shoulders (clothing varies per sample).
    add((0, -face.head[1] - 15, -18), (face.head[0] * 0.62, 70, face.head[2] * 0.5), 0, skin * 0.92, _SKIN)
    add((0, -face.head[1] - 118, -30), (175, 75, 95), 0, cond.clothing, _CLOTH)
    # Hair: the cranium is hair-coloured above a hairline that drops from the forehead toward the sides and back;
    # a shell around it (the hair's volume) is cut a little above that line, so its edge lies on hair.
    slope = 0.8
    plane_n, plane_h = np.array([0.0, 1.0, -slope]), -face.hairline + slope * face.head[2]
    if not face.bald:
        shell = tuple(r * (1 + face.hair_volume) for r in face.head)
        lift = face.head[1] * face.hair_volume * 0.3
        add((0, lift, -face.head[2] * face.hair_volume), shell, 0, hair, _HAIR_M, (plane_n, plane_h - 8))
    n = len(prims)
    centres, transforms, reach = np.zeros((n, 3)), np.zeros((n, 3, 3)), np.zeros(n)
    clip_n, clip_h = np.zeros((n, 3)), np.ones(n)
    colours, materials = np.zeros((n, 3)), np.zeros(n, np.int64)
    for i, (centre, radii, roll, colour, material, clip) in enumerate(prims):
        centres[i], reach[i] = centre, max(radii)
        transforms[i] = np.diag(1 / np.array(radii)) @ _rotation(0, 0, -roll)
        colours[i], materials[i] = colour, material
        if clip is not None:
            clip_n[i], clip_h[i] = clip
    beard = jaw_c[1] + 8 if face.beard else -math.inf
    hair_plane = (plane_n, plane_h if not face.bald else -math.inf)
    metrics = transforms.transpose(0, 2, 1) @ transforms
    return _Scene(
        centres, transforms, clip_n, clip_h, colours, materials, hair_plane, beard, np.array(eyes), reach, metrics
    )


# ---------------------------------------------------------------------------------------------------- rendering
FOV = 26.0  # degrees: a head at 680 mm spans about three quarters of the frame's height


def _background(photos: Sequence[tuple[np.ndarray, bool]], size: int, rng: np.random.Generator) -> np.ndarray:
    """(size, size, 3) float in [0, 1]: a random crop of a random photograph, flipped, tinted when grey, blurred
    to a random depth of field, at a random brightness."""
    photo, grey = photos[int(rng.integers(len(photos)))]
    h, w = photo.shape[:2]
    side = max(8, int(min(h, w) * rng.uniform(0.25, 0.9)))
    y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = photo[y : y + side, x : x + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    img = Image.fromarray(np.ascontiguousarray(crop)).resize((size, size), Image.Resampling.BILINEAR)
    blur = rng.uniform(0, 2.0) * size / 64
    if blur > 0.3:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    bg = np.asarray(img, np.float32) / 255.0
    if grey:
        bg = bg * rng.uniform(0.3, 1.0, 3).astype(np.float32)
    return np.clip(bg * rng.uniform(0.5, 1.2), 0, 1)


def _cast(
    scene: _Scene, o_h: np.ndarray, d_h: np.ndarray, rot: np.ndarray, head: np.ndarray, half: float
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest hit of each ray (an (S, S, 3) grid of head-frame directions from o_h, depth = t) on the scene's
    clipped ellipsoids: t (inf where nothing is hit) and the primitive hit.

    Each ellipsoid is tested only on the pixels its bounding sphere projects to (the cost is then about the
    image's area a few times over, not once per primitive): |A (o + t d - c)|^2 = 1 by the quadratic formula,
    its interval cut to the clip half-space n . p + h >= 0."""
    s = d_h.shape[0]
    best = np.full((s, s), np.inf)
    winner = np.zeros((s, s), np.int64)
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], np.float64)
    for i in range(len(scene.centres)):
        box = (rot @ scene.centres[i] + head) + corners * scene.reach[i]  # camera frame, a cube round the sphere
        if (box[:, 2] >= -1).any():
            r0, r1, c0, c1 = 0, s, 0, s
        else:
            px = (box[:, 0] / -box[:, 2] / half + 1) / 2 * s
            py = (1 - box[:, 1] / -box[:, 2] / half) / 2 * s
            c0, c1 = max(int(px.min()) - 1, 0), min(int(math.ceil(px.max())) + 1, s)
            r0, r1 = max(int(py.min()) - 1, 0), min(int(math.ceil(py.max())) + 1, s)
            if r0 >= r1 or c0 >= c1:
                continue
        d = d_h[r0:r1, c0:c1]
        a = scene.transforms[i]
        a_o = a @ (o_h - scene.centres[i])
        a_d = d @ a.T
        qa = (a_d * a_d).sum(-1)
        qb = 2 * (a_d @ a_o)
        qc = float(a_o @ a_o) - 1
        disc = qb * qb - 4 * qa * qc
        root = np.sqrt(np.maximum(disc, 0))
        t0, t1 = (-qb - root) / (2 * qa), (-qb + root) / (2 * qa)
        hit = disc > 0
        if scene.clip_n[i].any():
            num = float(scene.clip_n[i] @ o_h + scene.clip_h[i])
            den = d @ scene.clip_n[i]
            with np.errstate(divide="ignore", invalid="ignore"):
                tc = -num / den
            lo = np.where(den > 0, tc, -np.inf)
            hi = np.where(den < 0, tc, np.inf)
            t0, t1 = np.maximum(t0, lo), np.minimum(t1, hi)
            hit &= (t0 <= t1) & ~((den == 0) & (num < 0))
        region = best[r0:r1, c0:c1]
        nearer = hit & (t0 > 0) & (t0 < region)
        region[nearer] = t0[nearer]
        winner[r0:r1, c0:c1][nearer] = i
    return best, winner


def render_face(
    face: Identity,
    cond: Condition,
    background: np.ndarray,
    size: int,
    rng: np.random.Generator,
    occluder_texture: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(size, size, 3) uint8 RGB and (size, size) uint16 depth (mm from the camera) of one sample.

    `background` is (2 size, 2 size, 3) float in [0, 1] (the image is rendered at twice the size and averaged
    down); `occluder_texture`, of the same shape, paints the occluding rectangle when the condition has one."""
    scene = _scene(face, cond)
    s2 = 2 * size
    half = math.tan(math.radians(FOV) / 2)
    ticks = ((np.arange(s2) + 0.5) / s2 * 2 - 1) * half
    u, v = np.meshgrid(ticks, -ticks)  # columns left to right, rows top to bottom
    d_cam = np.stack([u, v, -np.ones_like(u)], -1).reshape(-1, 3)  # depth along the ray = t
    rot = _rotation(cond.yaw, cond.pitch, cond.roll)
    head = np.array([cond.shift[0], cond.shift[1], -cond.distance])
    o_h = -rot.T @ head  # the camera, in the head's frame
    d_h = d_cam @ rot  # ray directions, in the head's frame (rows: R^T d)

    t_grid, winner_grid = _cast(scene, o_h, d_h.reshape(s2, s2, 3), rot, head, half)
    depth_t = t_grid.reshape(-1)
    on_face = np.isfinite(depth_t)
    w, tf = winner_grid.reshape(-1)[on_face], depth_t[on_face]
    points = o_h + tf[:, None] * d_h[on_face]  # head frame
    # Normals: the ellipsoid's gradient A^T A (p - c), also on a clip plane's cut (hair shades as one mass).
    grad = (scene.metrics[w] * (points - scene.centres[w])[:, None, :]).sum(-1)
    normal = grad / np.linalg.norm(grad, axis=1, keepdims=True)

    # Albedo by material.
    albedo = scene.colours[w].copy()
    material = scene.materials[w]
    plane_n, plane_h = scene.hair_plane
    albedo[(material == _HEAD) & (points @ plane_n + plane_h >= 0)] = face.hair
    beard = np.isin(material, (_SKIN, _HEAD)) & (points[:, 1] < scene.beard_below) & (points[:, 2] > 20)
    albedo[beard] = albedo[beard] * 0.35 + np.array(face.hair) * 0.65
    eye = material == _EYE
    if eye.any():
        off = points[eye] - scene.centres[w[eye]]
        gaze = np.array(cond.gaze) * face.eye_size
        rr = np.hypot(off[:, 0] - gaze[0], off[:, 1] - gaze[1])
        iris = rr < face.eye_size * 0.5
        pupil = rr < face.eye_size * 0.22
        col = albedo[eye]
        col[iris] = face.iris
        col[pupil] = (0.03, 0.03, 0.03)
        albedo[eye] = col

    # Shading: Lambert + ambient + Blinn-Phong specular, in the head's frame.
    light = rot.T @ np.array(cond.light)
    view = -d_h[on_face] / np.linalg.norm(d_h[on_face], axis=1, keepdims=True)
    halfway = light + view
    halfway /= np.linalg.norm(halfway, axis=1, keepdims=True)
    lambert = np.clip(normal @ light, 0, None)
    spec = np.clip((normal * halfway).sum(1), 0, None) ** 24 * cond.specular * _SHINE[material]
    colour = np.array(cond.light_colour)
    shaded = (albedo * (cond.ambient + cond.intensity * lambert)[:, None] + spec[:, None]) * colour

    flat = background.reshape(-1, 3).astype(np.float64)
    flat[on_face] = shaded
    image = flat.reshape(s2, s2, 3)
    depth = np.where(on_face, depth_t, 0.0).reshape(s2, s2)

    # Occluders: a sunglasses band across the eyes, slightly in front of the face; a rectangle nearer the camera.
    if cond.sunglasses:
        eyes_cam = scene.eyes @ rot.T + head
        px = (eyes_cam[:, 0] / -eyes_cam[:, 2] / half + 1) / 2 * s2 - 0.5
        py = (1 - eyes_cam[:, 1] / -eyes_cam[:, 2] / half) / 2 * s2 - 0.5
        radius = face.eye_size * 1.5 / cond.distance / half * s2 / 2
        rows, cols = np.mgrid[0:s2, 0:s2]
        ax, ay, bx, by = px[0], py[0], px[1], py[1]
        seg = np.array([bx - ax, by - ay])
        k = np.clip(((cols - ax) * seg[0] + (rows - ay) * seg[1]) / max(float(seg @ seg), 1e-6), 0, 1)
        dist = np.hypot(cols - (ax + k * seg[0]), rows - (ay + k * seg[1]))
        lens = (dist < radius) & (depth > 0)
        image[lens] = np.array([0.04, 0.04, 0.05]) + 0.12 * lambert.mean() * np.array(cond.light_colour)
        depth[lens] -= 12
    if cond.occluder:
        h, wd = (int(rng.uniform(0.2, 0.45) * s2) for _ in range(2))
        y0, x0 = int(rng.uniform(0.1, 0.9) * s2 - h / 2), int(rng.uniform(0.1, 0.9) * s2 - wd / 2)
        y0, x0 = max(y0, 0), max(x0, 0)
        patch = (
            occluder_texture[y0 : y0 + h, x0 : x0 + wd]
            if occluder_texture is not None
            else np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(), rng.uniform(0.2, 1)))
        )
        image[y0 : y0 + h, x0 : x0 + wd] = patch
        depth[y0 : y0 + h, x0 : x0 + wd] = rng.uniform(250, 420)

    # Exposure, antialiasing (2x2 mean), sensor noise.
    image = image * cond.exposure
    small = image.reshape(size, 2, size, 2, 3).mean((1, 3))
    small = small + rng.normal(0, cond.noise / 255, small.shape)
    rgb = np.clip(np.rint(small * 255), 0, 255).astype(np.uint8)
    # Depth: one ray per pixel, a far wall behind the person (1.4-3 m, tilted: never nearer than 1.1 m, well
    # behind the shoulders), noise of about 1.5 mm on the person and the occluders.
    sub = depth[::2, ::2]
    ramp = np.linspace(-1, 1, size)
    wall = rng.uniform(1400, 3000) * (
        1 + rng.uniform(-0.1, 0.1) * ramp[None, :] + rng.uniform(-0.1, 0.1) * ramp[:, None]
    )
    mm = np.where(sub > 0, sub + rng.normal(0, 1.5, sub.shape), wall)
    return rgb, np.clip(np.rint(mm), 0, 65535).astype(np.uint16)


class FaceRenderer:
    """Renders samples of identities over backgrounds cut from one set of photographs (one split's)."""

    def __init__(self, photo_names: Sequence[str], size: int) -> None:
        self.photos = [(np.asarray(p.image), p.grey) for p in load_photos(photo_names)]
        self.size = size

    def sample(
        self, face: Identity, rng: np.random.Generator, poses: PoseRange = ALL_POSES
    ) -> tuple[np.ndarray, np.ndarray, Condition]:
        """One sample of `face` under a random condition: RGB uint8, depth uint16 (mm), and the condition."""
        cond = random_condition(rng, poses)
        background = _background(self.photos, 2 * self.size, rng)
        texture = _background(self.photos, 2 * self.size, rng) if cond.occluder and rng.random() < 0.7 else None
        rgb, depth = render_face(face, cond, background, self.size, rng, texture)
        return rgb, depth, cond


# ---------------------------------------------------------------------------------------------------- reading
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # every PNG's last 12 bytes: the empty IEND chunk and its CRC


def _open(path: Path, what: str) -> Image.Image:
    """A decoded image; a missing, truncated or undecodable file is a DataLayoutError naming it."""
    if not path.is_file():
        raise DataLayoutError(f"missing {what} {path}")
    try:
        img = Image.open(path)
        img.load()
        with path.open("rb") as f:
            f.seek(-12, 2)
            tail = f.read()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataLayoutError(f"corrupt or unreadable {what} {path}: {exc}") from exc
    if img.format == "PNG" and tail != _PNG_END:  # its pixels can decode with the file cut short of its end chunk
        raise DataLayoutError(f"truncated {what} {path}: it does not end with PNG's IEND chunk")
    return img


def _resize_nearest(array: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resampling of an (H, W) map: depth must not be averaged across the face's edge."""
    h, w = array.shape
    rows = np.minimum(((np.arange(size) + 0.5) * h / size).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(size) + 0.5) * w / size).astype(np.int64), w - 1)
    return array[rows[:, None], cols[None, :]]


def load_face_image(path: Path, size: int | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a JPEG (resized bilinearly to size x size when given)."""
    img = _open(path, "image").convert("RGB")
    if size is not None and img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(img)


def load_depth(path: Path, size: int | None = None) -> np.ndarray:
    """(H, W) uint16 depth in millimetres of a 16-bit greyscale PNG (resized by nearest neighbour when given)."""
    img = _open(path, "depth map")
    if img.mode not in ("I;16", "I;16B", "I;16L", "I"):
        raise DataLayoutError(f"depth map {path} is mode {img.mode}; expected a 16-bit greyscale PNG (millimetres)")
    depth = np.asarray(img)
    if depth.dtype != np.uint16:
        if depth.min() < 0 or depth.max() > 65535:
            raise DataLayoutError(f"depth map {path} holds values outside 0..65535 mm")
        depth = depth.astype(np.uint16)
    return _resize_nearest(depth, size) if size is not None and depth.shape != (size, size) else depth


def load_face_images(paths: Sequence[Path], size: int) -> torch.Tensor:
    """(N, 3, size, size) uint8 images, in the order of `paths` (errors name the file)."""
    out = np.empty((len(paths), size, size, 3), np.uint8)
    for i, path in enumerate(paths):
        out[i] = load_face_image(path, size)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


@dataclass
class FaceFolders:
    """Images in identity folders (VGGFace2): paths, the label of each (its folder's index among the sorted
    folder names) and the folder names."""

    paths: list[Path]
    labels: np.ndarray
    identities: list[str]


def read_vggface2(root: Path) -> FaceFolders:
    """The training identities of ROOT/vggface2/train: every folder, every .jpg in it (sorted)."""
    folder = root / VGGFACE2
    if not folder.is_dir():
        raise DataLayoutError(f"missing {folder}; expected {VGGFACE2_LAYOUT}")
    identities = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if len(identities) < 2:
        raise DataLayoutError(f"{folder} holds {len(identities)} identity folder(s); at least 2 are needed")
    paths: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(identities):
        images = sorted(p for p in (folder / name).iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
        if not images:
            raise DataLayoutError(f"identity folder {folder / name} holds no .jpg images ({VGGFACE2_LAYOUT})")
        paths += images
        labels += [label] * len(images)
    return FaceFolders(paths, np.array(labels, np.int64), identities)


@dataclass
class LfwPairs:
    """LFW's verification pairs: the images (unique, in order of first mention), each pair's two image indices,
    whether the two show the same person, and the pair's fold (0-based)."""

    images: list[Path]
    left: np.ndarray
    right: np.ndarray
    same: np.ndarray
    folds: np.ndarray


def lfw_image(root: Path, name: str, number: int) -> Path:
    return root / LFW / name / f"{name}_{number:04d}.jpg"


def read_lfw_pairs(root: Path) -> LfwPairs:
    """Parse ROOT/lfw/pairs.txt (the 10-fold view 2 format) and check that every image it names exists."""
    path = root / PAIRS
    if not path.is_file():
        raise DataLayoutError(f"missing {path}; expected {LFW_LAYOUT}")
    try:
        lines = [(n, line.split()) for n, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataLayoutError(f"unreadable {path}: {exc}") from exc
    if not lines:
        raise DataLayoutError(f"{path} is empty; its first line must be '<folds> <pairs per fold>'")
    head_no, head = lines[0]
    if len(head) != 2 or not all(v.isdigit() and int(v) > 0 for v in head):
        raise DataLayoutError(
            f"{path}, line {head_no}: expected '<folds> <pairs per fold>' (e.g. '10 300'), got {head}"
        )
    folds, n = int(head[0]), int(head[1])
    body = lines[1:]
    index: dict[Path, int] = {}
    left: list[int] = []
    right: list[int] = []
    same: list[bool] = []
    fold_of: list[int] = []
    for k, (line_no, fields_) in enumerate(body[: folds * 2 * n]):
        fold, matched = k // (2 * n), k % (2 * n) < n
        expect = 3 if matched else 4
        kind = "matched 'name i j'" if matched else "mismatched 'name1 i name2 j'"
        numbers = [fields_[i] for i in ((1, 2) if matched else (1, 3))] if len(fields_) == expect else []
        if not numbers or not all(v.isdigit() and int(v) > 0 for v in numbers):
            raise DataLayoutError(
                f"{path}, line {line_no}: expected a {kind} pair (fold {fold + 1}), got {' '.join(fields_)!r}"
            )
        a = lfw_image(root, fields_[0], int(fields_[1]))
        b = lfw_image(root, fields_[0], int(fields_[2])) if matched else lfw_image(root, fields_[2], int(fields_[3]))
        for image, side in ((a, left), (b, right)):
            side.append(index.setdefault(image, len(index)))
        same.append(matched)
        fold_of.append(fold)
    if len(body) != folds * 2 * n:
        raise DataLayoutError(
            f"{path} holds {len(body)} pair lines after its header; '{folds} {n}' means {folds * 2 * n} "
            f"({folds} folds of {n} matched then {n} mismatched pairs)"
        )
    for image, _ in index.items():
        if not image.is_file():
            raise DataLayoutError(f"{path} names a missing image {image} ({LFW_LAYOUT})")
    return LfwPairs(list(index), np.array(left), np.array(right), np.array(same, bool), np.array(fold_of))


def read_rgbd_split(root: Path) -> dict[str, list[str]]:
    """{"train": ["<id>/<n>", ...], "test": [...]} from ROOT/rgbd_faces/split.txt, every sample's two files
    present, every test identity among the training ones (closed set)."""
    path = root / SPLIT
    if not path.is_file():
        raise DataLayoutError(f"missing {path}; expected {RGBD_LAYOUT}")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataLayoutError(f"unreadable {path}: {exc}") from exc
    splits: dict[str, list[str]] = {"train": [], "test": []}
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in splits or parts[1].count("/") != 1 or "" in parts[1].split("/"):
            raise DataLayoutError(f"{path}, line {line_no}: expected 'train <id>/<n>' or 'test <id>/<n>', got {line!r}")
        splits[parts[0]].append(parts[1])
    for split, samples in splits.items():
        if not samples:
            raise DataLayoutError(f"{path} lists no {split} samples")
        for sample in samples:
            for suffix in ("_rgb.jpg", "_depth.png"):
                if not (root / RGBD / f"{sample}{suffix}").is_file():
                    raise DataLayoutError(f"{path} lists {sample}, but {root / RGBD / (sample + suffix)} is missing")
    unseen = sorted({s.split("/")[0] for s in splits["test"]} - {s.split("/")[0] for s in splits["train"]})
    if unseen:
        raise DataLayoutError(f"{path}: test identity {unseen[0]} has no training samples (the set is closed)")
    return splits


@dataclass
class RgbdFaces:
    """One split of RGB-D faces in memory: rgb (N, 3, S, S) uint8, depth (N, 1, S, S) uint16 millimetres,
    labels (N,) int64 (the identity's index among the sorted training identities), and the names."""

    rgb: torch.Tensor
    depth: torch.Tensor
    labels: torch.Tensor
    identities: list[str]
    samples: list[str]


def read_rgbd_faces(root: Path, split: str, size: int | None = None) -> RgbdFaces:
    """Read a split of ROOT/rgbd_faces (RGB resized bilinearly, depth by nearest neighbour, when size is given)."""
    splits = read_rgbd_split(root)
    identities = sorted({s.split("/")[0] for s in splits["train"]})
    label = {name: i for i, name in enumerate(identities)}
    rgbs, depths = [], []
    for sample in splits[split]:
        rgb = load_face_image(root / RGBD / f"{sample}_rgb.jpg", size)
        depth_path = root / RGBD / f"{sample}_depth.png"
        depth = load_depth(depth_path, size)
        if depth.shape != rgb.shape[:2]:
            raise DataLayoutError(f"depth map {depth_path} is {depth.shape}, its colour image {rgb.shape[:2]}")
        rgbs.append(rgb)
        depths.append(depth)
    if len({r.shape for r in rgbs}) > 1:
        raise DataLayoutError(f"the {split} images of {root / RGBD} differ in size; pass a size to resize them")
    return RgbdFaces(
        torch.from_numpy(np.stack(rgbs)).permute(0, 3, 1, 2).contiguous(),
        torch.from_numpy(np.stack(depths))[:, None],
        torch.tensor([label[s.split("/")[0]] for s in splits[split]], dtype=torch.int64),
        identities,
        splits[split],
    )


def check_face_verification(root: Path) -> None:
    """VGGFace2's folders hold images and LFW's pairs.txt parses, naming every image that exists (C7)."""
    faces = read_vggface2(root)
    load_face_image(faces.paths[0])
    pairs = read_lfw_pairs(root)
    load_face_image(pairs.images[0])


def check_rgbd_faces(root: Path) -> None:
    """split.txt parses, its files exist and the first sample decodes (C8)."""
    sample = read_rgbd_split(root)["train"][0]
    load_face_image(root / RGBD / f"{sample}_rgb.jpg")
    load_depth(root / RGBD / f"{sample}_depth.png")


# ---------------------------------------------------------------------------------------------------- generator
@dataclass(frozen=True)
class FaceParams:
    """Size of the embedded face data. A count of 0 identities leaves that layout out (C7 needs VGGFace2 and LFW,
    C8 RGB-D); `samples_per_identity` applies to VGGFace2 and RGB-D, of which the last `rgbd_test_fraction` of
    each RGB-D identity's samples are its test samples (in the test poses and lighting)."""

    vggface2_identities: int = 100
    lfw_identities: int = 40
    rgbd_identities: int = 40
    samples_per_identity: int = 20
    lfw_images_per_identity: int = 6
    pairs_per_fold: int = 30  # LFW's release: 300
    rgbd_test_fraction: float = 0.3
    image_size: int = 64
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        counts = (self.vggface2_identities, self.lfw_identities, self.rgbd_identities)
        if min(counts) < 0 or max(counts) == 0:
            raise ValueError(f"identity counts must be >= 0 with at least one layout, got {counts}")
        if self.image_size < 16:
            raise ValueError(f"image_size must be >= 16 pixels, got {self.image_size}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1..100, got {self.jpeg_quality}")
        if self.vggface2_identities == 1:
            raise ValueError("VGGFace2 needs >= 2 training identities (a triplet's negative is another identity)")
        if (self.vggface2_identities or self.rgbd_identities) and self.samples_per_identity < 2:
            raise ValueError(f"samples_per_identity must be >= 2 (a positive pair), got {self.samples_per_identity}")
        if self.rgbd_identities:
            test = self.rgbd_test_samples
            if not 1 <= test < self.samples_per_identity:
                raise ValueError(
                    f"rgbd_test_fraction {self.rgbd_test_fraction} of {self.samples_per_identity} samples gives "
                    f"{test} test samples per identity; at least one test and one training sample are needed"
                )
        if self.lfw_identities:
            if self.lfw_identities < 2 * FOLDS:
                raise ValueError(
                    f"LFW's {FOLDS} folds are disjoint in people and each needs two for a mismatched pair: "
                    f"lfw_identities must be >= {2 * FOLDS}, got {self.lfw_identities}"
                )
            m = self.lfw_images_per_identity
            if m < 2 or self.pairs_per_fold < 1:
                raise ValueError(
                    f"LFW needs >= 2 images per identity and >= 1 pair per fold, got {m} and {self.pairs_per_fold}"
                )
            people = self.lfw_identities // FOLDS  # in the smallest fold
            matched, mismatched = people * m * (m - 1) // 2, people * (people - 1) // 2 * m * m
            if min(matched, mismatched) < self.pairs_per_fold:
                raise ValueError(
                    f"the smallest LFW fold has {people} people of {m} images: {matched} distinct matched and "
                    f"{mismatched} mismatched pairs, fewer than pairs_per_fold={self.pairs_per_fold}"
                )

    @property
    def rgbd_test_samples(self) -> int:
        return round(self.samples_per_identity * self.rgbd_test_fraction)


_STREAMS = {"vggface2": 0, "lfw": 1, "rgbd": 2}  # each layout's identities are an independent random stream


def face_identities(params: FaceParams, seed: int) -> dict[str, list[Identity]]:
    """The identities of each layout: independent draws, so LFW's people are never VGGFace2's."""
    counts = {"vggface2": params.vggface2_identities, "lfw": params.lfw_identities, "rgbd": params.rgbd_identities}
    return {
        layout: [random_identity(np.random.default_rng([seed, _STREAMS[layout], k])) for k in range(count)]
        for layout, count in counts.items()
    }


_ONSETS = ("b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "ch", "sh", "tr")
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ea", "io")


def lfw_names(count: int, seed: int) -> list[str]:
    """Distinct made-up "Given_Family" names, LFW's folder style."""
    rng = np.random.default_rng([seed, _STREAMS["lfw"], 1 << 20])

    def word(syllables: int) -> str:
        text = "".join(str(rng.choice(_ONSETS)) + str(rng.choice(_VOWELS)) for _ in range(syllables))
        return text.capitalize()

    names: list[str] = []
    while len(names) < count:
        name = f"{word(int(rng.integers(2, 4)))}_{word(int(rng.integers(2, 4)))}"
        if name not in names:
            names.append(name)
    return names


def lfw_pair_lines(names: Sequence[str], images: int, pairs_per_fold: int, seed: int) -> list[str]:
    """pairs.txt's lines: the header, then per fold its matched then mismatched pairs, each fold's pairs drawn
    from its own tenth of the people (as the release's folds are)."""
    rng = np.random.default_rng([seed, _STREAMS["lfw"], 1 << 21])
    people = [names[i] for i in rng.permutation(len(names))]
    lines = [f"{FOLDS}\t{pairs_per_fold}"]
    for fold in range(FOLDS):
        group = people[fold::FOLDS]
        matched = [(p, i, j) for p in group for i in range(1, images + 1) for j in range(i + 1, images + 1)]
        for k in sorted(rng.choice(len(matched), pairs_per_fold, replace=False)):
            p, i, j = matched[k]
            lines.append(f"{p}\t{i}\t{j}")
        seen: set[tuple[str, int, str, int]] = set()
        while len(seen) < pairs_per_fold:
            a, b = rng.choice(len(group), 2, replace=False)
            pair = (group[a], int(rng.integers(1, images + 1)), group[b], int(rng.integers(1, images + 1)))
            if pair not in seen and (pair[2], pair[3], pair[0], pair[1]) not in seen:
                seen.add(pair)
                lines.append("\t".join(str(v) for v in pair))
    return lines


def _save_jpeg(path: Path, rgb: np.ndarray, quality: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, quality=quality)


def generate_faces(root: Path, params: FaceParams | Mapping[str, Any], seed: int) -> None:
    """Write the embedded faces in every layout with identities: VGGFace2's folders, LFW's folders and pairs.txt,
    RGB-D faces and their split.txt."""
    if isinstance(params, Mapping):
        params = FaceParams(**params)
    people = face_identities(params, seed)
    size, quality = params.image_size, params.jpeg_quality
    train, test = FaceRenderer(_TRAIN_PHOTOS, size), FaceRenderer(_TEST_PHOTOS, size)
    for k, face in enumerate(people["vggface2"]):
        rng = np.random.default_rng([seed, _STREAMS["vggface2"], k, 1])
        for j in range(params.samples_per_identity):
            rgb, _, _ = train.sample(face, rng)
            _save_jpeg(root / VGGFACE2 / f"n{k + 1:06d}" / f"{j + 1:04d}_01.jpg", rgb, quality)
    if people["lfw"]:
        names = lfw_names(params.lfw_identities, seed)
        for k, (name, face) in enumerate(zip(names, people["lfw"], strict=True)):
            rng = np.random.default_rng([seed, _STREAMS["lfw"], k, 1])
            for j in range(params.lfw_images_per_identity):
                rgb, _, _ = test.sample(face, rng)
                _save_jpeg(lfw_image(root, name, j + 1), rgb, quality)
        lines = lfw_pair_lines(names, params.lfw_images_per_identity, params.pairs_per_fold, seed)
        (root / PAIRS).write_text("\n".join(lines) + "\n")
    split_lines = []
    for split, sample, rgb, depth, _ in rgbd_samples(people["rgbd"], params, seed, train, test):
        _save_jpeg(root / RGBD / f"{sample}_rgb.jpg", rgb, quality)
        Image.fromarray(depth).save(root / RGBD / f"{sample}_depth.png")
        split_lines.append(f"{split} {sample}")
    if split_lines:
        (root / SPLIT).write_text("\n".join(split_lines) + "\n")


def rgbd_samples(
    people: Sequence[Identity], params: FaceParams, seed: int, train: FaceRenderer, test: FaceRenderer
) -> Iterator[tuple[str, str, np.ndarray, np.ndarray, Condition]]:
    """(split, "<id>/<n>", rgb, depth, condition) of every RGB-D sample: per identity, the first samples in the
    training poses and lighting over training photographs, the last `rgbd_test_samples` in the test ones."""
    n_train = params.samples_per_identity - params.rgbd_test_samples
    for k, face in enumerate(people):
        rng = np.random.default_rng([seed, _STREAMS["rgbd"], k, 1])
        for j in range(params.samples_per_identity):
            split, renderer, poses = ("train", train, TRAIN_POSES) if j < n_train else ("test", test, TEST_POSES)
            rgb, depth, cond = renderer.sample(face, rng, poses)
            yield split, f"id{k + 1:04d}/{j + 1:04d}", rgb, depth, cond


VGGFACE2_LFW = DatasetSpec(
    name="vggface2_lfw",
    required=(str(VGGFACE2), str(PAIRS)),
    generate=generate_faces,
    params=FaceParams,
    validate=check_face_verification,
    version=1,
    layout_hint=f"{VGGFACE2_LAYOUT}; {LFW_LAYOUT}",
)
RGBD_FACES = DatasetSpec(
    name="rgbd_faces",
    required=(str(SPLIT),),
    generate=generate_faces,
    params=FaceParams,
    validate=check_rgbd_faces,
    version=1,
    layout_hint=RGBD_LAYOUT,
)


def _check_all(root: Path) -> None:
    check_face_verification(root)
    check_rgbd_faces(root)


FACES = DatasetSpec(  # every layout at once: `generate-data` for both benchmarks, the sample picture
    name="faces",
    required=(str(VGGFACE2), str(PAIRS), str(SPLIT)),
    generate=generate_faces,
    params=FaceParams,
    validate=_check_all,
    version=1,
    layout_hint=f"{VGGFACE2_LAYOUT}; {LFW_LAYOUT}; {RGBD_LAYOUT}",
)
