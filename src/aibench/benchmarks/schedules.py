"""Learning-rate schedules built from `torch.optim.lr_scheduler`, with the MLPerf `opt_*` keys that describe them.

The recipes of the suite warm up per step and decay per epoch (ResNet-50: /10 every 30 epochs; Faster R-CNN:
/10 after epochs 5, 11 and 17). Both schedulers are chainable, so a `LinearLR` stepped every iteration and a
`MultiStepLR` stepped every epoch multiply on the same optimizer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR, LinearLR, MultiStepLR


class WarmupStepDecay:
    """Linear warm-up over the first `warmup_steps` steps, then x`factor` after each epoch in `decay_epochs`.

    The benchmark calls `step()` after every optimizer step and `end_epoch()` after every epoch.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        warmup_steps: int = 0,
        decay_epochs: Sequence[int] = (),
        factor: float = 0.1,
    ) -> None:
        self.warmup_steps, self.decay_epochs, self.factor = int(warmup_steps), tuple(decay_epochs), factor
        # Warm-up starts at 1/warmup_steps of the rate (step 1 trains at lr/warmup_steps, step warmup_steps at lr).
        self.warmup = (
            LinearLR(optimizer, start_factor=1.0 / self.warmup_steps, total_iters=self.warmup_steps - 1)
            if self.warmup_steps > 1
            else None
        )
        # MultiStepLR counts its own steps: epoch e ends with its e-th step, so the milestones are the epochs.
        self.decay = MultiStepLR(optimizer, milestones=list(self.decay_epochs), gamma=factor)

    def step(self) -> None:
        if self.warmup is not None and self.warmup.last_epoch < self.warmup.total_iters:
            self.warmup.step()

    def end_epoch(self) -> None:
        self.decay.step()

    def mlperf_keys(self) -> dict[str, Any]:
        return {
            "opt_learning_rate_warmup_steps": self.warmup_steps,
            "opt_learning_rate_decay_boundary_epochs": list(self.decay_epochs),
            "opt_learning_rate_decay_factor": self.factor,
        }


class InverseSqrt:
    """The Transformer's schedule (Vaswani et al. 2017, 5.3): linear warm-up over `warmup_steps` steps to the
    optimizer's rate, then decay with the inverse square root of the step. The paper writes the peak as
    d_model^-0.5 * warmup_steps^-0.5 (7.0e-4 for d_model 512 and 4,000 steps); here the optimizer's rate is that
    peak, so the logged base learning rate is the highest rate the run trains at."""

    def __init__(self, optimizer: torch.optim.Optimizer, warmup_steps: int) -> None:
        if warmup_steps < 1:
            raise ValueError(f"warmup_steps must be >= 1, got {warmup_steps}")
        self.warmup_steps = int(warmup_steps)
        w = self.warmup_steps
        # LambdaLR calls the factor with the number of steps taken so far (0 before the first step).
        self.schedule = LambdaLR(optimizer, lambda n: min((n + 1) / w, (w / (n + 1)) ** 0.5))

    def step(self) -> None:
        self.schedule.step()

    def end_epoch(self) -> None:
        pass  # per step only

    def mlperf_keys(self) -> dict[str, Any]:
        return {"opt_learning_rate_warmup_steps": self.warmup_steps, "opt_learning_rate_decay_schedule": "inverse sqrt"}


def every(interval: int, max_epochs: int) -> tuple[int, ...]:
    """Decay boundaries every `interval` epochs up to `max_epochs` (the step-decay recipe of ResNet-50)."""
    return tuple(range(interval, max_epochs, interval))
