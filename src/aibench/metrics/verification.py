"""Face verification accuracy under LFW's protocol (view 2): for each of the folds, the distance threshold that
best separates matched from mismatched pairs on the other folds decides the held-out fold's pairs; the quality
is the mean of the held-out folds' accuracies (Huang et al. 2007; FaceNet reports it, Schroff et al. 2015).

A pair is called "same" when its distance is below the threshold, as in FaceNet's evaluation code
(davidsandberg/facenet `calculate_accuracy`). That code scans a fixed grid of thresholds; here the search is
exact: every split between consecutive distinct training distances (at their midpoint), and the two extremes,
so its training accuracy is at least the grid's. Among equally good thresholds the smallest is taken.
"""

from __future__ import annotations

import numpy as np


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The threshold t maximizing the accuracy of "same iff distance < t" on these pairs (the smallest of ties)."""
    d, s = np.asarray(distances, np.float64), np.asarray(same, bool)
    if d.shape != s.shape or d.ndim != 1 or len(d) == 0:
        raise ValueError(f"distances {d.shape} and same {s.shape} must be equal-length, non-empty vectors")
    order = np.argsort(d, kind="stable")
    ds, ss = d[order], s[order]
    # Cut k (0..n): the k smallest distances are called "same".
    same_below = np.concatenate([[0], np.cumsum(ss)])
    diff_above = (~ss).sum() - np.concatenate([[0], np.cumsum(~ss)])
    correct = same_below + diff_above
    valid = np.ones(len(ds) + 1, bool)
    valid[1:-1] = ds[1:] > ds[:-1]  # equal distances cannot be split
    k = int(np.argmax(np.where(valid, correct, -1)))
    if k == 0:
        return float(ds[0])
    if k == len(ds):
        return float(np.nextafter(ds[-1], np.inf))
    return float((ds[k - 1] + ds[k]) / 2)


def fold_accuracies(distances: np.ndarray, same: np.ndarray, folds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(accuracy, threshold) of each fold, in sorted fold order: the threshold is chosen on the other folds."""
    d, s, f = np.asarray(distances, np.float64), np.asarray(same, bool), np.asarray(folds)
    if not d.shape == s.shape == f.shape:
        raise ValueError(f"distances {d.shape}, same {s.shape} and folds {f.shape} must have one entry per pair")
    ids = np.unique(f)
    if len(ids) < 2:
        raise ValueError(f"the protocol needs >= 2 folds (LFW has 10), got {len(ids)}")
    accuracies, thresholds = [], []
    for fold in ids:
        held = f == fold
        threshold = best_threshold(d[~held], s[~held])
        accuracies.append(float(((d[held] < threshold) == s[held]).mean()))
        thresholds.append(threshold)
    return np.array(accuracies), np.array(thresholds)


def verification_accuracy(distances: np.ndarray, same: np.ndarray, folds: np.ndarray) -> float:
    """Mean held-out accuracy over the folds (LFW's reported number)."""
    return float(fold_accuracies(distances, same, folds)[0].mean())
