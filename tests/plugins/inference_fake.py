"""Tiny benchmarks for the LoadGen inference harness (tests only): a linear classifier over 12 fixed samples.

They borrow catalog ids that have no implementation yet (DC-AI-C7, DC-AI-C8) and exist only while a test's
fixture has imported this module (which registers them) and until it unregisters them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aibench.benchmarks.base import Benchmark, ProfileSettings, StepOutput
from aibench.datasets.embedded import DatasetSpec
from aibench.registry import register

SAMPLES, FEATURES, CLASSES = 12, 4, 3
POISON_INDEX = SAMPLES - 1   # FailingInference.infer raises on it (the harness's warm-up uses the first samples)
# Simulated compute per infer() call: a fixed cost plus a per-sample one, so that batching pays, as on hardware.
CALL_S, PER_SAMPLE_S = 0.001, 0.0002


def _write(root: Path, params: Mapping[str, Any], seed: int) -> None:
    (root / "inference-fake").mkdir(parents=True, exist_ok=True)


FAKE = DatasetSpec(name="inference-fake", required=(), generate=_write)


@register("DC-AI-C7")
class LinearInference(Benchmark):
    dataset = FAKE
    quality_metric = "accuracy"
    profiles = {"tiny": ProfileSettings(batch_size=4, learning_rate=0.5, max_epochs=3, target=0.5, time_limit_s=60)}

    def build(self) -> None:
        self.model = torch.nn.Linear(FEATURES, CLASSES).to(self.device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self.settings.learning_rate)

    def load_data(self) -> None:
        gen = torch.Generator().manual_seed(1234)  # fixed data, whatever the session's seed
        self.x = torch.randn(SAMPLES, FEATURES, generator=gen)
        self.y = torch.randint(0, CLASSES, (SAMPLES,), generator=gen)

    def train_batches(self, epoch: int) -> Iterable[Any]:
        return [(self.x, self.y)]

    def train_step(self, batch: Any) -> StepOutput:
        x, y = batch
        self.model.train()
        loss = torch.nn.functional.cross_entropy(self.model(x), y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return StepOutput(loss=loss.detach(), samples=len(y))

    @torch.no_grad()
    def infer(self, indices: Sequence[int]) -> list[np.ndarray]:
        time.sleep(CALL_S + PER_SAMPLE_S * len(indices))
        logits = self.model.eval()(self.x[list(indices)])
        top2 = torch.topk(logits, 2, dim=1).indices.numpy()   # (n, 2) int64: a shape and dtype to round-trip
        return list(top2)

    def score(self, outputs: Mapping[int, np.ndarray]) -> dict[str, float]:
        top1 = np.array([outputs[i][0] for i in range(SAMPLES)])
        return {"accuracy": float((top1 == self.y.numpy()).mean()), "samples": float(len(outputs))}

    def train_samples(self) -> int:
        return SAMPLES

    def eval_samples(self) -> int:
        return SAMPLES


@register("DC-AI-C8")
class FailingInference(LinearInference):
    """infer() raises whenever the batch holds the last sample: after warm-up, inside LoadGen's test."""

    def infer(self, indices: Sequence[int]) -> list[np.ndarray]:
        if POISON_INDEX in indices:
            raise RuntimeError(f"injected inference failure on sample {POISON_INDEX}")
        return super().infer(indices)


IDS = ("DC-AI-C7", "DC-AI-C8")
