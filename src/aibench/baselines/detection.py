"""Object detection without learning features: colour segmentation, connected components, nearest class colour.

Pixels whose colour stands out (HSV saturation above a threshold) are foreground; each connected component of
foreground larger than a minimum area is a detection, scored by its area, and labelled with the class whose
mean object colour in the training annotations is nearest to the component's mean colour. On data where colour
alone names the class and objects stand out from a dull background, this scores near-perfect mAP; on data that
measures detection, it must not.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image
from scipy import ndimage


class _Record(Protocol):  # aibench.datasets.voc.VOCRecord
    image_path: Path
    boxes: np.ndarray
    labels: np.ndarray


def _rgb_and_saturation(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with Image.open(path) as img:
        rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
        sat = np.asarray(img.convert("HSV"), dtype=np.float32)[..., 1] / 255.0
    return rgb, sat


def class_colours(train: Sequence[_Record], threshold: float) -> dict[int, np.ndarray]:
    """Mean RGB of the salient pixels inside each class's training boxes."""
    sums: dict[int, list[np.ndarray]] = {}
    for rec in train:
        rgb, sat = _rgb_and_saturation(rec.image_path)
        for (x0, y0, x1, y1), label in zip(rec.boxes.astype(int), rec.labels):
            inside = sat[y0:y1, x0:x1] > threshold
            if inside.any():
                sums.setdefault(int(label), []).append(rgb[y0:y1, x0:x1][inside].mean(0))
    return {label: np.mean(colours, axis=0) for label, colours in sums.items()}


def colour_segmentation(train: Sequence[_Record], test: Sequence[_Record], threshold: float = 0.35,
                        min_area: float = 0.004) -> dict[int, np.ndarray]:
    """Per test image an (N, 6) array x1, y1, x2, y2, score, label (the detection benchmark's `infer` format)."""
    colours = class_colours(train, threshold)
    labels = np.array(sorted(colours))
    means = np.stack([colours[c] for c in labels]) if len(labels) else np.zeros((0, 3))
    out: dict[int, np.ndarray] = {}
    for i, rec in enumerate(test):
        rgb, sat = _rgb_and_saturation(rec.image_path)
        components, _ = ndimage.label(sat > threshold, structure=np.ones((3, 3)))
        dets = []
        for index, sl in enumerate(ndimage.find_objects(components), start=1):
            if sl is None or not len(labels):
                continue
            mask = components[sl] == index
            area = mask.sum() / sat.size
            if area < min_area:
                continue
            colour = rgb[sl][mask].mean(0)
            label = labels[np.argmin(((means - colour) ** 2).sum(1))]
            ys, xs = sl
            dets.append((xs.start, ys.start, xs.stop, ys.stop, area, label))
        out[i] = np.asarray(dets, np.float32).reshape(-1, 6)
    return out
