"""Where the harness computes: resolving `--device` names, and waiting for a device before reading a clock."""

from __future__ import annotations

import torch


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but no CUDA device is available")
    return device


def synchronize(device: torch.device) -> None:
    """CUDA runs asynchronously: a timer read without this would time the kernel launches, not the work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
