"""PASCAL VOC detection mAP at IoU 0.5, as the VOC devkit computes it.

Per class, detections of all images are ranked by score. In its image, each detection is matched to the
ground-truth box of that class with the highest IoU; if that IoU is >= the threshold (the devkit's
`ovmax >= minoverlap`), the detection is
  - ignored (neither TP nor FP) when that box is difficult,
  - a TP when that box is not yet taken (it is then taken),
  - a FP when it was already taken (the devkit does not fall back to the next-best box);
otherwise it is a FP. Recall counts only non-difficult boxes.

Two AP integrations are provided: VOC2007's 11-point interpolation (mean over recall thresholds 0, 0.1, ..., 1
of the highest precision at recall >= threshold) and VOC2010+'s all-point area under the monotone precision
envelope. mAP is the mean over classes that have at least one non-difficult ground-truth box in the evaluated
set; classes without one are excluded from the mean (their AP is undefined), as in the reference code.

Boxes are continuous xyxy and IoU is computed without the devkit's "+1": the VOC reader already converts
1-based inclusive pixel boxes to continuous ones (see aibench.datasets.voc), which makes the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


def _np(x: ArrayLike) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix [len(a), len(b)] of continuous xyxy boxes."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).clip(0).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).clip(0).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


@dataclass
class ClassPR:
    """Precision and recall after each detection of one class, in descending score order."""

    precision: np.ndarray
    recall: np.ndarray
    n_positives: int  # non-difficult ground-truth boxes


def precision_recall(
    pred_boxes: Sequence[ArrayLike],
    pred_labels: Sequence[ArrayLike],
    pred_scores: Sequence[ArrayLike],
    gt_boxes: Sequence[ArrayLike],
    gt_labels: Sequence[ArrayLike],
    gt_difficult: Sequence[ArrayLike] | None = None,
    iou_threshold: float = 0.5,
) -> dict[int, ClassPR]:
    """Per-class precision/recall curves over a set of images (one sequence entry per image)."""
    n_pos: dict[int, int] = {}
    scores: dict[int, list[np.ndarray]] = {}
    matches: dict[int, list[np.ndarray]] = {}  # per detection: 1 TP, 0 FP, -1 ignored (difficult)
    for i in range(len(gt_boxes)):
        pb, pl, ps = _np(pred_boxes[i]).reshape(-1, 4), _np(pred_labels[i]).reshape(-1), _np(pred_scores[i]).reshape(-1)
        gb, gl = _np(gt_boxes[i]).reshape(-1, 4), _np(gt_labels[i]).reshape(-1)
        gd = np.zeros(len(gl), bool) if gt_difficult is None else _np(gt_difficult[i]).reshape(-1).astype(bool)
        for c in np.unique(np.concatenate([pl, gl]).astype(np.int64)).tolist():
            gt_c, diff_c = gb[gl == c], gd[gl == c]
            n_pos[c] = n_pos.get(c, 0) + int((~diff_c).sum())
            order = np.argsort(-ps[pl == c], kind="stable")
            det_c, score_c = pb[pl == c][order], ps[pl == c][order]
            scores.setdefault(c, []).append(score_c)
            match = np.zeros(len(det_c), np.int8)
            if len(det_c) and len(gt_c):
                iou = box_iou(det_c.astype(np.float64), gt_c.astype(np.float64))
                best, best_iou = iou.argmax(axis=1), iou.max(axis=1)
                taken = np.zeros(len(gt_c), bool)
                for d in range(len(det_c)):
                    if best_iou[d] < iou_threshold:
                        continue
                    g = best[d]
                    if diff_c[g]:
                        match[d] = -1
                    elif not taken[g]:
                        match[d], taken[g] = 1, True
            matches.setdefault(c, []).append(match)

    out: dict[int, ClassPR] = {}
    for c, npos in n_pos.items():
        s, m = np.concatenate(scores[c]), np.concatenate(matches[c])
        m = m[np.argsort(-s, kind="stable")]
        tp, fp = np.cumsum(m == 1), np.cumsum(m == 0)
        denom = np.maximum(tp + fp, 1)  # ignored detections at the head of the ranking count as neither
        precision = np.where(tp + fp > 0, tp / denom, 0.0)
        recall = tp / npos if npos > 0 else np.full(len(tp), np.nan)
        out[c] = ClassPR(precision.astype(np.float64), recall.astype(np.float64), npos)
    return out


def voc_ap(precision: np.ndarray, recall: np.ndarray, use_07_metric: bool) -> float:
    """AP of one class from its precision/recall curve (VOC2007 11-point, or all-point)."""
    if use_07_metric:
        ap = 0.0
        # np.arange, as in the devkit's Python port and the reference code: its thresholds carry float error
        # (the fourth is 0.30000000000000004), which the reference numbers include.
        for t in np.arange(0.0, 1.1, 0.1):
            above = recall >= t
            ap += (precision[above].max() if above.any() else 0.0) / 11.0
        return float(ap)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[0.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]  # the monotone envelope
    i = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def eval_detection_voc(
    pred_boxes: Sequence[ArrayLike],
    pred_labels: Sequence[ArrayLike],
    pred_scores: Sequence[ArrayLike],
    gt_boxes: Sequence[ArrayLike],
    gt_labels: Sequence[ArrayLike],
    gt_difficult: Sequence[ArrayLike] | None = None,
    iou_threshold: float = 0.5,
) -> dict[str, object]:
    """VOC mAP. Returns {"map50": 11-point mAP, "map50_allpoint": all-point mAP, "ap": {class: 11-point AP},
    "ap_allpoint": {class: all-point AP}}; classes without non-difficult ground truth are left out."""
    curves = precision_recall(pred_boxes, pred_labels, pred_scores, gt_boxes, gt_labels, gt_difficult, iou_threshold)
    ap07 = {c: voc_ap(pr.precision, pr.recall, True) for c, pr in sorted(curves.items()) if pr.n_positives > 0}
    ap_all = {c: voc_ap(pr.precision, pr.recall, False) for c, pr in sorted(curves.items()) if pr.n_positives > 0}
    return {
        "map50": float(np.mean(list(ap07.values()))) if ap07 else 0.0,
        "map50_allpoint": float(np.mean(list(ap_all.values()))) if ap_all else 0.0,
        "ap": ap07,
        "ap_allpoint": ap_all,
    }
