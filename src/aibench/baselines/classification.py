"""Image classification without deep learning: colour histograms, raw pixels and grey pixels, each with k-nearest
neighbours.

All read the same class-folder images the model trains on (torchvision `ImageFolder` samples) and return, for
every evaluation image, the top-5 classes in the format of the benchmark's `infer`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image
from sklearn.neighbors import KNeighborsClassifier

Samples = Sequence[tuple[str, int]]  # (path, class index), as ImageFolder.samples


def _features(samples: Samples, feature: Callable[[Image.Image], np.ndarray]) -> np.ndarray:
    out = []
    for path, _ in samples:
        with Image.open(path) as img:
            out.append(feature(img.convert("RGB")))
    return np.stack(out)


def colour_histogram(img: Image.Image, bins: int = 8) -> np.ndarray:
    """Joint RGB histogram (bins^3 cells), normalised: colour content with no spatial layout."""
    q = (np.asarray(img, dtype=np.uint16) * bins // 256).reshape(-1, 3)
    hist = np.bincount((q[:, 0] * bins + q[:, 1]) * bins + q[:, 2], minlength=bins**3).astype(np.float32)
    return hist / hist.sum()


def raw_pixels(img: Image.Image, size: int = 16) -> np.ndarray:
    """The image shrunk to size x size, as a vector of pixel values in [0, 1]."""
    return np.asarray(img.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32).reshape(-1) / 255.0


def grey_pixels(img: Image.Image, size: int = 16) -> np.ndarray:
    """The image in grey, shrunk to size x size and standardised (zero mean, unit norm): layout without colour,
    overall brightness or contrast."""
    pixels = np.asarray(img.convert("L").resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32).reshape(-1)
    pixels = pixels - pixels.mean()
    return pixels / max(float(np.linalg.norm(pixels)), 1e-6)


def knn_top5(
    train: Samples, test: Samples, feature: Callable[[Image.Image], np.ndarray], k: int = 5
) -> dict[int, np.ndarray]:
    """Top-5 classes of each test image by distance-weighted k-NN over `feature` vectors of the training images."""
    x_train, y_train = _features(train, feature), np.array([c for _, c in train])
    knn = KNeighborsClassifier(n_neighbors=min(k, len(train)), weights="distance").fit(x_train, y_train)
    proba = knn.predict_proba(_features(test, feature))
    # Ties (classes no neighbour voted for) are broken by class index, as a stable sort does.
    top = knn.classes_[np.argsort(-proba, axis=1, kind="stable")[:, :5]]
    return dict(enumerate(top))
