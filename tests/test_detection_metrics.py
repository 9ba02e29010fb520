"""VOC mAP: hand-computed cases, the devkit's difficult rule, and a cross-check of the PR curves with pycocotools."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

from aibench.metrics.detection import box_iou, eval_detection_voc, precision_recall, voc_ap


def _one_image(dets, gts, difficult=None):
    """Wrap one image's detections [(box, label, score)] and ground truth [(box, label)] as eval inputs."""
    pb = np.array([d[0] for d in dets], dtype=np.float64).reshape(-1, 4)
    pl = np.array([d[1] for d in dets], dtype=np.int64)
    ps = np.array([d[2] for d in dets], dtype=np.float64)
    gb = np.array([g[0] for g in gts], dtype=np.float64).reshape(-1, 4)
    gl = np.array([g[1] for g in gts], dtype=np.int64)
    gd = np.zeros(len(gts), bool) if difficult is None else np.array(difficult, bool)
    return [pb], [pl], [ps], [gb], [gl], [gd]


A, B, C = [0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]
FAR = [100, 100, 110, 110]


def test_hand_computed_11_point_differs_from_all_point():
    # Ranking: TP (A), FP, TP (B) over 2 positives -> precision 1, 1/2, 2/3; recall 1/2, 1/2, 1.
    result = eval_detection_voc(*_one_image([(A, 1, 0.9), (FAR, 1, 0.8), (B, 1, 0.7)], [(A, 1), (B, 1)]))
    # All-point: recall 0->0.5 at envelope precision 1, 0.5->1 at 2/3.
    assert result["map50_allpoint"] == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # 11-point: thresholds 0..0.5 (6 of them) see precision 1, 0.6..1.0 (5) see 2/3.
    assert result["map50"] == pytest.approx((6 * 1 + 5 * 2 / 3) / 11)
    assert result["map50"] != pytest.approx(result["map50_allpoint"])


def test_voc_ap_on_explicit_curve():
    precision = np.array([1.0, 0.5, 2 / 3, 0.5])
    recall = np.array([1 / 3, 1 / 3, 2 / 3, 2 / 3])  # never reaches full recall
    assert voc_ap(precision, recall, use_07_metric=False) == pytest.approx(1 / 3 * 1 + 1 / 3 * 2 / 3)
    # thresholds 0, .1, .2, .3 -> 1; .4, .5, .6 -> 2/3; .7 .. 1.0 -> 0
    assert voc_ap(precision, recall, use_07_metric=True) == pytest.approx((4 * 1 + 3 * 2 / 3) / 11)


def test_detection_on_difficult_is_neither_tp_nor_fp():
    base = eval_detection_voc(*_one_image([(A, 1, 0.9), (FAR, 1, 0.8), (B, 1, 0.7)], [(A, 1), (B, 1)]))
    with_difficult = eval_detection_voc(
        *_one_image(
            [(A, 1, 0.9), (C, 1, 0.85), (FAR, 1, 0.8), (B, 1, 0.7)],
            [(A, 1), (B, 1), (C, 1)],
            difficult=[False, False, True],
        )
    )
    assert with_difficult["map50"] == pytest.approx(base["map50"])
    assert with_difficult["map50_allpoint"] == pytest.approx(base["map50_allpoint"])
    curve = precision_recall(*_one_image([(C, 1, 0.9)], [(A, 1), (C, 1)], difficult=[False, True]))[1]
    assert curve.n_positives == 1  # difficult boxes do not count towards recall
    assert curve.precision.tolist() == [0.0] and curve.recall.tolist() == [0.0]


def test_undetected_difficult_does_not_lower_recall():
    result = eval_detection_voc(*_one_image([(A, 1, 0.9)], [(A, 1), (C, 1)], difficult=[False, True]))
    assert result["map50"] == pytest.approx(1.0)
    assert result["map50_allpoint"] == pytest.approx(1.0)


def test_duplicate_detection_is_false_positive():
    curve = precision_recall(*_one_image([(A, 1, 0.9), ([0, 0, 10, 9], 1, 0.8)], [(A, 1)]))[1]
    assert curve.precision.tolist() == [1.0, 0.5]
    assert curve.recall.tolist() == [1.0, 1.0]


def test_iou_threshold_is_inclusive_and_classes_must_match():
    half = [0, 0, 10, 5]  # IoU with A is exactly 0.5: a match, as in the devkit (ovmax >= minoverlap)
    assert box_iou(np.array([half], float), np.array([A], float))[0, 0] == 0.5
    assert eval_detection_voc(*_one_image([(half, 1, 0.9)], [(A, 1)]))["map50"] == pytest.approx(1.0)
    assert eval_detection_voc(*_one_image([([0, 0, 10, 4.9], 1, 0.9)], [(A, 1)]))["map50"] == 0.0
    assert eval_detection_voc(*_one_image([(A, 2, 0.9)], [(A, 1)]))["map50"] == 0.0  # wrong class


def test_classes_without_ground_truth_are_excluded_from_the_mean():
    result = eval_detection_voc(
        *_one_image(
            [(A, 1, 0.9), (B, 7, 0.9), (C, 9, 0.8)],  # class 7 and 9 have no positive ground truth
            [(A, 1), (B, 3), (C, 9)],
            difficult=[False, False, True],
        )
    )
    assert set(result["ap"]) == {1, 3}  # class 3 has ground truth but no detection: AP 0, counted
    assert result["ap"][1] == pytest.approx(1.0) and result["ap"][3] == 0.0
    assert result["map50"] == pytest.approx(0.5)


def test_accepts_tensors_and_images_without_objects():
    pb = [torch.tensor([[0.0, 0.0, 10.0, 10.0]]), torch.zeros((0, 4))]
    pl = [torch.tensor([1]), torch.zeros(0, dtype=torch.int64)]
    ps = [torch.tensor([0.5]), torch.zeros(0)]
    gb = [torch.tensor([[0.0, 0.0, 10.0, 10.0]]), torch.zeros((0, 4))]
    gl = [torch.tensor([1]), torch.zeros(0, dtype=torch.int64)]
    gd = [torch.tensor([False]), torch.zeros(0, dtype=torch.bool)]
    assert eval_detection_voc(pb, pl, ps, gb, gl, gd)["map50"] == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------------------
# Cross-check against pycocotools.
#
# COCO's AP integrates over 101 recall points, so its AP differs from both VOC variants. What must agree exactly
# is the precision/recall curve (the matching): COCO's `eval["precision"]` holds, at each of its 101 recall
# thresholds t, the largest precision at recall >= t, which we recompute from our curve. The fixture avoids the
# two places where COCO's rules differ from VOC's: no difficult/crowd boxes, and ground-truth boxes of one
# class in one image are far apart, so no detection reaches IoU 0.5 with two of them (COCO would then fall
# back to the second box, VOC would not). Scores are distinct, so the rankings agree. As a second check the
# all-point mAP must lie within 0.01 of COCO's 101-point mAP: for a non-increasing precision envelope f on
# [0, 1], both the integral and the 101-point mean lie between the left and right Riemann sums with step 0.01,
# which differ by (f(0) - f(1)) / 100 <= 0.01.
# ---------------------------------------------------------------------------------------------------------


def _random_fixture(seed: int, n_images: int = 25, n_classes: int = 3):
    rng = np.random.default_rng(seed)
    preds, gts = [], []
    for _ in range(n_images):
        cells = rng.permutation(16)[: rng.integers(1, 6)]  # GT boxes in distinct cells of a 4x4 grid of 100px
        g_boxes, g_labels = [], []
        for cell in cells:
            x, y = (cell % 4) * 100 + rng.uniform(5, 30), (cell // 4) * 100 + rng.uniform(5, 30)
            g_boxes.append([x, y, x + rng.uniform(30, 60), y + rng.uniform(30, 60)])
            g_labels.append(int(rng.integers(1, n_classes + 1)))
        p_boxes, p_labels = [], []
        for box, label in zip(g_boxes, g_labels):
            for _ in range(rng.integers(0, 3)):  # 0-2 detections per object: misses, hits, duplicates
                jitter = rng.normal(0, rng.choice([1.5, 8.0]), size=4)  # some good, some too loose
                p_boxes.append(list(np.asarray(box) + jitter))
                p_labels.append(label if rng.random() < 0.85 else int(rng.integers(1, n_classes + 1)))
        for _ in range(rng.integers(0, 3)):  # background false positives
            x, y = rng.uniform(0, 350, size=2)
            p_boxes.append([x, y, x + rng.uniform(10, 50), y + rng.uniform(10, 50)])
            p_labels.append(int(rng.integers(1, n_classes + 1)))
        p_boxes = np.asarray(p_boxes, float).reshape(-1, 4)
        p_boxes[:, 2:] = np.maximum(p_boxes[:, 2:], p_boxes[:, :2] + 1)
        preds.append((p_boxes, np.asarray(p_labels, np.int64), rng.uniform(0, 1, size=len(p_labels))))
        gts.append((np.asarray(g_boxes, float), np.asarray(g_labels, np.int64)))
    return preds, gts, n_classes


def _coco_eval(preds, gts, n_classes):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(b):
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    images, anns, dets = [], [], []
    for i, ((pb, pl, ps), (gb, gl)) in enumerate(zip(preds, gts)):
        images.append({"id": i, "width": 400, "height": 400})
        for b, lab in zip(gb, gl):
            w, h = b[2] - b[0], b[3] - b[1]
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": int(lab),
                    "bbox": xywh(b),
                    "area": float(w * h),
                    "iscrowd": 0,
                }
            )
        for b, lab, s in zip(pb, pl, ps):
            dets.append({"image_id": i, "category_id": int(lab), "bbox": xywh(b), "score": float(s)})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": c} for c in range(1, n_classes + 1)]}
        gt.createIndex()
        coco_eval = COCOeval(gt, gt.loadRes(dets), "bbox")
        coco_eval.params.iouThrs = np.array([0.5])
        coco_eval.evaluate()
        coco_eval.accumulate()
    return coco_eval


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_precision_recall_curves_match_pycocotools(seed):
    preds, gts, n_classes = _random_fixture(seed)
    ours = precision_recall(
        [p[0] for p in preds], [p[1] for p in preds], [p[2] for p in preds], [g[0] for g in gts], [g[1] for g in gts]
    )
    coco_eval = _coco_eval(preds, gts, n_classes)
    rec_thrs = coco_eval.params.recThrs
    for k, cat in enumerate(coco_eval.params.catIds):
        curve = ours[cat]
        envelope = np.maximum.accumulate(curve.precision[::-1])[::-1]
        expected = np.array([envelope[curve.recall >= t].max() if (curve.recall >= t).any() else 0.0 for t in rec_thrs])
        coco = coco_eval.eval["precision"][0, :, k, 0, -1]  # IoU 0.5, all areas, maxDets 100
        np.testing.assert_allclose(expected, coco, atol=1e-9)
    coco_map = float(coco_eval.eval["precision"][0, :, :, 0, -1].mean())
    ours_map = eval_detection_voc(
        [p[0] for p in preds], [p[1] for p in preds], [p[2] for p in preds], [g[0] for g in gts], [g[1] for g in gts]
    )["map50_allpoint"]
    assert abs(ours_map - coco_map) <= 0.01
    assert 0.2 < coco_map < 0.95  # the fixture exercises both hits and misses
