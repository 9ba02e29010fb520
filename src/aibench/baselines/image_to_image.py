"""Labels -> photo without a model: paint every class of a label map with that class's mean colour in the
training photos. It returns, for every evaluation query, an image in the format of the CycleGAN benchmark's
`infer` (H x W x 3 uint8), which the FCN scorer then segments.

On the embedded Cityscapes every class draws its colour from one shared palette and differs from the others by
texture, so a flat mean-colour painting carries the layout (where the classes are) but none of what the scorer
learned to recognise them by: it must score clearly below the target, or the data has a shortcut.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def class_mean_colours(photos: np.ndarray, ids: np.ndarray, num_classes: int = 256) -> np.ndarray:
    """(num_classes, 3) uint8: the mean colour of each class's pixels over N x H x W x 3 photos with their
    N x H x W class ids; a class without pixels gets the mean colour of all pixels."""
    flat_ids = ids.reshape(-1).astype(np.int64)
    flat = photos.reshape(-1, 3).astype(np.float64)
    counts = np.bincount(flat_ids, minlength=num_classes)[:num_classes]
    sums = np.stack([np.bincount(flat_ids, weights=flat[:, c], minlength=num_classes)[:num_classes] for c in range(3)])
    means = np.where(counts > 0, sums / np.maximum(counts, 1), flat.mean(0)[:, None]).T
    return np.clip(np.rint(means), 0, 255).astype(np.uint8)


def paint_class_means(
    train_photos: np.ndarray, train_ids: np.ndarray, eval_ids: np.ndarray
) -> Mapping[int, np.ndarray]:
    """Every evaluation label map (N x H x W ids, 255 = ignored) painted with the training classes' mean colours."""
    colours = class_mean_colours(train_photos, train_ids)
    return {i: colours[eval_ids[i]] for i in range(len(eval_ids))}
