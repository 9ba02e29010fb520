"""Benchmarks that fail on purpose, to test the harness's isolation. They borrow catalog ids that have no
implementation yet and exist only when AIBENCH_PLUGINS names this module (tests only)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from aibench.benchmarks.base import Benchmark, ProfileSettings, StepOutput
from aibench.datasets.embedded import DatasetSpec
from aibench.registry import register


def _write(root: Path, params: Mapping[str, Any], seed: int) -> None:
    (root / "fake").mkdir(parents=True, exist_ok=True)
    (root / "fake" / "data.txt").write_text("1 2 3\n")


FAKE = DatasetSpec(name="fake", required=("fake/data.txt",), generate=_write)
TINY = {"tiny": ProfileSettings(batch_size=2, learning_rate=0.1, max_epochs=3, target=10.0, time_limit_s=60)}


class _Fake(Benchmark):
    dataset = FAKE
    quality_metric = "score"
    profiles = TINY

    def build(self) -> None:
        self.model = torch.nn.Linear(2, 1)
        self.epoch = 0

    def load_data(self) -> None:
        pass

    def train_batches(self, epoch: int) -> Iterable[Any]:
        self.epoch = epoch
        return range(8)

    def train_step(self, batch: Any) -> StepOutput:
        return StepOutput(loss=torch.tensor(1.0 / (batch + 1)), samples=2)

    def evaluate(self) -> dict[str, float]:
        return {"score": float(self.epoch)}

    def train_samples(self) -> int:
        return 16

    def eval_samples(self) -> int:
        return 4

    def optimizer_settings(self) -> dict[str, Any]:
        return {"opt_name": "none", "opt_base_learning_rate": self.settings.learning_rate}


@register("DC-AI-C2")
class Crashes(_Fake):
    """The process dies hard in epoch 2 (as a segfault or OOM kill would)."""

    def train_step(self, batch: Any) -> StepOutput:
        if self.epoch == 2:
            os._exit(3)
        return super().train_step(batch)


@register("DC-AI-C3")
class Hangs(_Fake):
    """A step that never returns: only the parent's kill can end it."""

    def train_step(self, batch: Any) -> StepOutput:
        if self.epoch == 2:
            time.sleep(3600)
        return super().train_step(batch)


@register("DC-AI-C4")
class Diverges(_Fake):
    def train_step(self, batch: Any) -> StepOutput:
        return StepOutput(loss=torch.tensor(float("nan") if self.epoch == 2 else 1.0), samples=2)


@register("DC-AI-C5")
class Slow(_Fake):
    """Reaches its target (score 3) at epoch 3, slowly enough to be interrupted or timed out."""

    profiles = {"tiny": ProfileSettings(batch_size=2, learning_rate=0.1, max_epochs=5, target=3.0,
                                        time_limit_s=60)}

    def train_step(self, batch: Any) -> StepOutput:
        time.sleep(float(os.environ.get("AIBENCH_FAKE_STEP_S", "0.05")))
        return super().train_step(batch)


@register("DC-AI-C6")
class Raises(_Fake):
    def load_data(self) -> None:
        raise ValueError("corrupt file /nowhere/x.jpg")


IDS = ("DC-AI-C2", "DC-AI-C3", "DC-AI-C4", "DC-AI-C5", "DC-AI-C6")
