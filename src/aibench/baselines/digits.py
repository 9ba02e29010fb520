"""Digit classification without deep learning: k-nearest neighbours and logistic regression on raw pixels.

Both read the same IDX arrays the model trains on and return, for every test image, its predicted class in the
format of the STN benchmark's `infer` (a one-element array).
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier


def _pixels(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def knn_pixels(train: tuple[np.ndarray, np.ndarray], test: np.ndarray, k: int = 5) -> dict[int, np.ndarray]:
    """Distance-weighted k-NN over the raw pixel vectors."""
    knn = KNeighborsClassifier(n_neighbors=min(k, len(train[0])), weights="distance").fit(_pixels(train[0]), train[1])
    return {i: np.array([p]) for i, p in enumerate(knn.predict(_pixels(test)))}


def logistic_pixels(train: tuple[np.ndarray, np.ndarray], test: np.ndarray) -> dict[int, np.ndarray]:
    """Multinomial logistic regression (L2, C=0.01) on raw pixels in [0, 1], at most 100 L-BFGS iterations (on
    the small data it converges in about 55, at training accuracy 0.21: no linear map of pixels fits the poses)."""
    model = LogisticRegression(C=0.01, max_iter=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(_pixels(train[0]), train[1])
    return {i: np.array([p]) for i, p in enumerate(model.predict(_pixels(test)))}
