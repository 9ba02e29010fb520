"""Tiny benchmarks for the LoadGen inference harness (tests only): a linear classifier over 12 fixed samples.

They register under reserved TEST-* ids (tests/conftest.py imports this module through AIBENCH_PLUGINS).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from fault_benchmarks import info

from aibench.benchmarks.base import Benchmark, ProfileSettings, StepOutput
from aibench.benchmarks.quality import AtLeast
from aibench.datasets.embedded import DatasetSpec
from aibench.registry import register

SAMPLES, FEATURES, CLASSES = 12, 4, 3
POISON_INDEX = SAMPLES - 1  # FailingInference.infer raises on it (the harness's warm-up uses the first samples)
# Simulated compute per infer() call: a fixed cost plus a per-sample one, so that batching pays, as on hardware.
CALL_S, PER_SAMPLE_S = 0.001, 0.0002


def _write(root: Path, params: Mapping[str, Any], seed: int) -> None:
    (root / "inference-fake").mkdir(parents=True, exist_ok=True)


FAKE = DatasetSpec(name="inference-fake", required=(), generate=_write, params=type(None))


@register("TEST-infer", info("TEST-infer", "linear classifier for LoadGen tests"))
class LinearInference(Benchmark):
    dataset = FAKE
    quality_metric = "accuracy"
    profiles = {
        "tiny": ProfileSettings(
            batch_size=4,
            learning_rate=0.5,
            max_epochs=3,
            target=AtLeast("accuracy", 0.5),
            options=None,
            time_limit_s=60,
        )
    }

    def build(self) -> None:
        model = torch.nn.Linear(FEATURES, CLASSES).to(self.device)
        self.optimizer = torch.optim.SGD(model.parameters(), lr=self.settings.learning_rate)
        self.model = self.add_trained("model", model, self.optimizer)

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
        top2 = torch.topk(logits, 2, dim=1).indices.numpy()  # (n, 2) int64: a shape and dtype to round-trip
        return list(top2)

    def score(self, outputs: Mapping[int, np.ndarray]) -> dict[str, float]:
        top1 = np.array([outputs[i][0] for i in range(SAMPLES)])
        return {"accuracy": float((top1 == self.y.numpy()).mean()), "samples": float(len(outputs))}

    def train_samples(self) -> int:
        return SAMPLES

    def eval_samples(self) -> int:
        return SAMPLES


@register("TEST-infer-fails", info("TEST-infer-fails", "inference raises on one sample"))
class FailingInference(LinearInference):
    """infer() raises whenever the batch holds the last sample: after warm-up, inside LoadGen's test."""

    def infer(self, indices: Sequence[int]) -> list[np.ndarray]:
        if POISON_INDEX in indices:
            raise RuntimeError(f"injected inference failure on sample {POISON_INDEX}")
        return super().infer(indices)


IDS = ("TEST-infer", "TEST-infer-fails")
