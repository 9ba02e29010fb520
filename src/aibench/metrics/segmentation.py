"""The FCN score of CycleGAN / pix2pix: per-pixel accuracy, per-class accuracy and class IoU of a segmentation
against the ground truth, over a fixed set of classes with one ignored label (Cityscapes: 19 classes, 255).

Computed with torchmetrics (MulticlassAccuracy micro / macro, MulticlassJaccardIndex macro), the field's standard
implementations, accumulated over every evaluation image before averaging: per-class numbers are means over the
classes that occur in the ground truth or the prediction of the whole evaluation set (a class absent from both
is left out of the mean, as the Cityscapes scripts and torchmetrics do), not means of per-image scores.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex


def fcn_scores(pairs: Iterable[tuple[torch.Tensor, torch.Tensor]], num_classes: int, ignore: int) -> dict[str, float]:
    """pixel_accuracy, class_accuracy and class_iou of (predicted ids, true ids) pairs of integer maps.

    Pixels whose true id is `ignore` count in none of the three.
    """
    # Rank 0 evaluates alone in a distributed session: torchmetrics must not wait for the other ranks.
    pixel = MulticlassAccuracy(num_classes, average="micro", ignore_index=ignore, sync_on_compute=False)
    per_class = MulticlassAccuracy(num_classes, average="macro", ignore_index=ignore, sync_on_compute=False)
    iou = MulticlassJaccardIndex(num_classes, average="macro", ignore_index=ignore, sync_on_compute=False)
    seen = False
    for pred, target in pairs:
        p, t = pred.reshape(-1).long(), target.reshape(-1).long()
        for metric in (pixel, per_class, iou):
            metric.update(p, t)
        seen = True
    if not seen:
        raise ValueError("fcn_scores needs at least one segmentation")
    return {
        "pixel_accuracy": float(pixel.compute()),
        "class_accuracy": float(per_class.compute()),
        "class_iou": float(iou.compute()),
    }
