"""Classification quality from each sample's top-k predicted classes."""

from __future__ import annotations

import numpy as np
import torch


def topk_classes(logits: torch.Tensor, k: int = 5) -> np.ndarray:
    """(N, min(k, classes)) class ids per row, best first: what top-1 and top-5 accuracy need."""
    return logits.float().topk(min(k, logits.shape[1]), dim=1).indices.cpu().numpy()


def topk_accuracy(top: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """top1 and top5 accuracy of (N, k) predicted class ids against (N,) labels."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        raise ValueError("accuracy of an empty evaluation set is undefined")
    hits = top == labels[:, None]
    return {"top1": float(hits[:, 0].mean()), "top5": float(hits[:, :5].any(axis=1).mean())}
