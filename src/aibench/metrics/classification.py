"""Classification quality."""

from __future__ import annotations

import torch


def top1_correct(logits: torch.Tensor, labels: torch.Tensor) -> int:
    """How many rows' highest logit is the true label."""
    return int((logits.argmax(dim=1) == labels).sum().item())


def top1_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    if labels.numel() == 0:
        raise ValueError("top-1 accuracy of an empty batch is undefined")
    return top1_correct(logits, labels) / labels.numel()
