"""The contract between the harness and a benchmark.

A benchmark owns its model, its data, one training step and its evaluation. It knows nothing of timing,
logging, processes or stopping rules: the harness (`aibench.harness.session`) calls these methods in order

    build()            -- off the clock (MLPerf "init"): model, optimizer
    load_data()        -- on the clock: read the dataset from disk
    prelude()          -- on the clock: work that must precede the measured epochs (e.g. a teacher model)
    for each epoch:
        for batch in train_batches(epoch): train_step(batch)
        end_epoch(epoch)
        evaluate()     -- every eval_interval epochs

and decides when to stop. The harness seeds Python, NumPy and torch with the session's seed before build().

Two more hooks serve the measurements around training:

    model_probe(settings, device)  -- classmethod: the model and one synthetic batch at a profile's shapes, for
                                      counting parameters and FLOPs (`aibench characterize`), ideally on `meta`
    infer(indices) / score(outputs) -- inference on evaluation samples and quality from the collected outputs,
                                      which `aibench infer` drives through MLCommons LoadGen; the default
                                      evaluate() is score(infer(every evaluation sample)), so a training
                                      session and LoadGen's accuracy mode compute quality the same way
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from aibench.catalog import BenchmarkInfo
from aibench.datasets.embedded import DatasetSpec

PROFILES = ("tiny", "small", "full")
PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class ProfileSettings:
    """Hyperparameters, stopping rule and data size of one benchmark at one profile."""

    batch_size: int
    learning_rate: float
    max_epochs: int
    target: float                 # quality target for this profile, in the unit of Benchmark.quality_metric
    eval_interval: int = 1        # evaluate every N epochs (and after the last one)
    time_limit_s: float = 3600.0  # wall-clock limit of one session
    data: Mapping[str, Any] = field(default_factory=dict)     # embedded-data generator parameters
    options: Mapping[str, Any] = field(default_factory=dict)  # benchmark-specific knobs (input size, ...)

    def with_overrides(self, **changes: Any) -> "ProfileSettings":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class BenchmarkContext:
    """What the harness hands a benchmark: where the data is, where to compute, and the settings to use."""

    profile: str
    settings: ProfileSettings
    data_root: Path
    device: torch.device
    precision: str = "fp32"
    seed: int = 0

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision around a forward pass; a no-op at fp32."""
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()


@dataclass
class StepOutput:
    loss: torch.Tensor | float
    samples: int

    def loss_value(self) -> float:
        """The loss as a float (for a tensor, `.item()`, which also waits for the device)."""
        return float(self.loss.item() if isinstance(self.loss, torch.Tensor) else self.loss)


@dataclass
class ModelProbe:
    """A model and one synthetic batch at some profile's shapes, for counting, not for training.

    `inference()` runs one eval-mode forward pass on `samples` samples; `training_loss()` runs one train-mode
    forward pass on the same number of samples and returns the scalar loss that a training step would
    back-propagate. Both must work on the `meta` device where the model allows it (no data-dependent
    control flow); a probe that cannot sets `meta_ok=False` and is then run for real on the CPU.
    """

    model: torch.nn.Module            # learnable parameters are counted on this module
    inference: Callable[[], Any]
    training_loss: Callable[[], torch.Tensor]
    samples: int
    sample_shape: str                 # what one sample is, for people: "3x224x224 image", "L=5 sequence", ...
    meta_ok: bool = True
    notes: str = ""


class SampleCache:
    """Evaluation inputs by index: read on demand, or held in memory between LoadGen's load and unload calls."""

    def __init__(self, read: Callable[[int], Any]) -> None:
        self.read = read
        self.held: dict[int, Any] = {}

    def load(self, indices: Sequence[int]) -> None:
        self.held.update((i, self.read(i)) for i in indices if i not in self.held)

    def unload(self, indices: Sequence[int]) -> None:
        for i in indices:
            self.held.pop(i, None)

    def __getitem__(self, index: int) -> Any:
        return self.held[index] if index in self.held else self.read(index)


class Benchmark(ABC):
    """One component benchmark. Subclasses are registered with `aibench.registry.register`."""

    info: ClassVar[BenchmarkInfo]              # filled in by the registry
    dataset: ClassVar[DatasetSpec]
    quality_metric: ClassVar[str]              # key of evaluate()'s dict that is compared with the target
    higher_is_better: ClassVar[bool] = True
    profiles: ClassVar[Mapping[str, ProfileSettings]]

    def __init__(self, ctx: BenchmarkContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.device = ctx.device

    @abstractmethod
    def build(self) -> None:
        """Create the model and optimizer (untrained: the rules forbid starting from trained weights)."""

    @abstractmethod
    def load_data(self) -> None:
        """Read the dataset from `self.ctx.data_root` in its real on-disk format."""

    def prelude(self) -> Iterator[StepOutput]:
        """Training that precedes the measured epochs, on the clock. Yields one output per step."""
        return iter(())

    @abstractmethod
    def train_batches(self, epoch: int) -> Iterable[Any]:
        """The batches of one epoch (epochs count from 1)."""

    @abstractmethod
    def train_step(self, batch: Any) -> StepOutput:
        """Forward, backward and optimizer step on one batch."""

    def end_epoch(self, epoch: int) -> None:
        """Learning-rate schedules and other per-epoch bookkeeping."""

    def evaluate(self) -> dict[str, float]:
        """Quality on the evaluation split; must contain `quality_metric`.

        By default the quality of `infer` on every evaluation sample, in batches of `inference_batch_size()`,
        as scored by `score`: the same computation LoadGen's accuracy mode performs.
        """
        n, batch = self.eval_samples(), self.inference_batch_size()
        outputs: dict[int, np.ndarray] = {}
        for start in range(0, n, batch):
            indices = list(range(start, min(start + batch, n)))
            outputs.update(zip(indices, self.infer(indices)))
        return self.score(outputs)

    # -- inference (aibench infer) ----------------------------------------------------------------------------
    def infer(self, indices: Sequence[int]) -> list[np.ndarray]:
        """Model outputs for evaluation samples `indices` (0..eval_samples()-1), one array per sample.

        Eval mode, no gradients. An output holds what `score` needs and nothing that reveals the label
        (top-5 class ids, detections, top-K items). It travels through LoadGen's accuracy log as bytes.
        """
        raise NotImplementedError(f"{type(self).__name__} has no inference path")

    def score(self, outputs: Mapping[int, np.ndarray]) -> dict[str, float]:
        """Quality from the outputs of every evaluation sample (keyed by index); contains `quality_metric`."""
        raise NotImplementedError(f"{type(self).__name__} has no inference path")

    def load_samples(self, indices: Sequence[int]) -> None:
        """Read and preprocess evaluation samples into memory before LoadGen times queries on them.

        LoadGen's query sample library calls this off the clock, so `infer` on these indices measures the model,
        not the storage. The default fills `self.eval_inputs` when a benchmark keeps one (a `SampleCache`).
        """
        if isinstance(getattr(self, "eval_inputs", None), SampleCache):
            self.eval_inputs.load(indices)

    def unload_samples(self, indices: Sequence[int]) -> None:
        """Release what `load_samples` holds."""
        if isinstance(getattr(self, "eval_inputs", None), SampleCache):
            self.eval_inputs.unload(indices)

    def inference_batch_size(self) -> int:
        """Largest batch `infer` is given (Offline and Server scenarios batch queries up to it)."""
        return self.settings.batch_size

    def load_model_state(self, state: Mapping[str, Any]) -> None:
        """Load weights saved by `model_state` (after build() and load_data())."""
        model = getattr(self, "model", None)
        if not isinstance(model, torch.nn.Module):
            raise NotImplementedError(f"{type(self).__name__} has no `model` to load weights into")
        model.load_state_dict(state)

    # -- characterization (aibench characterize) --------------------------------------------------------------
    @classmethod
    def model_probe(cls, settings: ProfileSettings, device: torch.device) -> ModelProbe:
        """The model at `settings`' shapes with one synthetic batch, built on `device` (often `meta`)."""
        raise NotImplementedError(f"{cls.__name__} has no model probe")

    @abstractmethod
    def train_samples(self) -> int:
        """Number of training samples in one epoch."""

    @abstractmethod
    def eval_samples(self) -> int:
        """Number of evaluation samples."""

    def optimizer_settings(self) -> dict[str, Any]:
        """Optimizer name and hyperparameters, for the log (MLPerf `opt_*` keys)."""
        return {}

    def model_state(self) -> dict[str, Any]:
        """Weights to save at the end of a session."""
        model = getattr(self, "model", None)
        return model.state_dict() if isinstance(model, torch.nn.Module) else {}

    @classmethod
    def reached(cls, value: float, target: float) -> bool:
        return value >= target if cls.higher_is_better else value <= target
