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


class _Record(Protocol):  # aibench.datasets.voc.VOCRecord (frozen, hence read-only properties here)
    @property
    def image_path(self) -> Path: ...
    @property
    def boxes(self) -> np.ndarray: ...
    @property
    def labels(self) -> np.ndarray: ...


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


def colour_segmentation(
    train: Sequence[_Record], test: Sequence[_Record], threshold: float = 0.35, min_area: float = 0.004
) -> dict[int, np.ndarray]:
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


# ----------------------------------------------------------------------------------------------------------
# Region segmentation + shape: a classical detector that looks for outlines, not colours
# ----------------------------------------------------------------------------------------------------------


def _regions(
    rgb: np.ndarray, scales: Sequence[float], min_area: float
) -> list[tuple[tuple[int, int, int, int], np.ndarray]]:
    """Candidate objects: the regions of a graph-based (Felzenszwalb) segmentation at several scales, each as
    (x0, y0, x1, y1) continuous box and its boolean mask inside that box. Regions touching most of the image
    are dropped (they are background)."""
    from skimage.segmentation import felzenszwalb

    h, w = rgb.shape[:2]
    out = []
    for scale in scales:
        segments = felzenszwalb(rgb, scale=scale, sigma=0.8, min_size=max(4, int(min_area * h * w)))
        for index, sl in enumerate(ndimage.find_objects(segments + 1), start=1):
            if sl is None:
                continue
            ys, xs = sl
            if (ys.stop - ys.start) * (xs.stop - xs.start) > 0.8 * h * w:
                continue
            out.append(((xs.start, ys.start, xs.stop, ys.stop), segments[sl] + 1 == index))
    return out


def _shape_feature(
    box: tuple[int, int, int, int], mask: np.ndarray, size: tuple[int, int], grid: int = 8
) -> np.ndarray:
    """The region's silhouette shrunk to grid x grid (what fraction of each cell it fills), with its box's
    position, size and aspect ratio: a description of the outline that ignores colour and texture."""
    h, w = size
    silhouette = (
        np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize((grid, grid), Image.Resampling.BOX), np.float32)
        / 255.0
    )
    x0, y0, x1, y1 = box
    geometry = np.array([(x1 - x0) / w, (y1 - y0) / h, np.log((x1 - x0) / (y1 - y0)), mask.mean()], np.float32)
    return np.concatenate([silhouette.reshape(-1), geometry])


def _box_iou(box: Sequence[float], boxes: np.ndarray) -> np.ndarray:
    if not len(boxes):
        return np.zeros(0)
    ix = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    iy = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = ix * iy
    area = (box[2] - box[0]) * (box[3] - box[1])
    return inter / (area + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter)


def region_shapes(
    train: Sequence[_Record],
    test: Sequence[_Record],
    scales: Sequence[float] = (100, 300, 1000),
    min_area: float = 0.004,
    k: int = 7,
    seed: int = 0,
) -> dict[int, np.ndarray]:
    """Segment every image into regions (Felzenszwalb, several scales), describe each region by its silhouette,
    and label it by distance-weighted k-NN against the training regions: a region whose box matches a training
    object (IoU >= 0.5) is an example of that object's class, one that overlaps no object (IoU < 0.3) an
    example of background. A test region becomes one detection per class, scored by that class's share of the
    vote; per-class NMS at IoU 0.5 removes duplicates across scales."""
    import torch
    from sklearn.neighbors import KNeighborsClassifier
    from torchvision.ops import nms

    rng = np.random.default_rng(seed)
    features, targets = [], []
    for rec in train:
        rgb = _rgb_and_saturation(rec.image_path)[0]
        positives, background = [], []
        for box, mask in _regions(rgb, scales, min_area):
            iou = _box_iou(box, rec.boxes)
            feature = _shape_feature(box, mask, rgb.shape[:2])
            if len(iou) and iou.max() >= 0.5:
                positives.append((feature, int(rec.labels[iou.argmax()])))
            elif not len(iou) or iou.max() < 0.3:
                background.append((feature, 0))
        keep = rng.permutation(len(background))[: max(3 * len(positives), 3)]
        for feature, label in positives + [background[i] for i in keep]:
            features.append(feature)
            targets.append(label)
    knn = KNeighborsClassifier(n_neighbors=min(k, len(features)), weights="distance")
    knn.fit(np.stack(features), np.asarray(targets))
    out: dict[int, np.ndarray] = {}
    for i, rec in enumerate(test):
        rgb = _rgb_and_saturation(rec.image_path)[0]
        regions = _regions(rgb, scales, min_area)
        if not regions:
            out[i] = np.zeros((0, 6), np.float32)
            continue
        proba = knn.predict_proba(np.stack([_shape_feature(b, m, rgb.shape[:2]) for b, m in regions]))
        boxes = torch.tensor([b for b, _ in regions], dtype=torch.float32)
        dets = []
        for column, label in enumerate(knn.classes_):
            if label == 0:
                continue
            scores = torch.from_numpy(proba[:, column]).float()
            positive = scores > 0
            if not positive.any():
                continue
            b, s = boxes[positive], scores[positive]
            for j in nms(b, s, 0.5).tolist():
                dets.append((*b[j].tolist(), float(s[j]), float(label)))
        out[i] = np.asarray(dets, np.float32).reshape(-1, 6)
    return out
