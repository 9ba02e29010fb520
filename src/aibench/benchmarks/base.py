"""The contract between the harness and a benchmark.

A benchmark owns its models, its data, one training step and its evaluation. It knows nothing of timing,
logging, processes or stopping rules: the harness (`aibench.harness.session`) calls these methods in order

    build()            -- off the clock (MLPerf "init"): models and optimizers, declared with add_trained()
    load_data()        -- on the clock: read the dataset from disk
    prelude()          -- on the clock: work that must precede the measured epochs (e.g. a teacher model)
    for each epoch:
        for batch in train_batches(epoch): train_step(batch)
        end_epoch(epoch)
        evaluate()     -- every eval_interval epochs

and decides when to stop: when `settings.target` (a rule over evaluate()'s metrics, see `quality.py`) is met.
The harness seeds Python, NumPy and torch with the session's seed before build().

Every module a session trains (a GAN's generator and critic, a teacher and a student) is declared with
`add_trained(name, module, optimizer, schedule)`: the harness logs each optimizer, saves every module's weights,
and counts their parameters.

More hooks serve the measurements around training:

    model_probe(settings, device)  -- classmethod: the model and one synthetic batch at a profile's shapes, for
                                      counting parameters and FLOPs (`aibench characterize`), ideally on `meta`
    infer(indices) / score(outputs) -- inference on evaluation samples and quality from the collected outputs,
                                      which `aibench infer` drives through MLCommons LoadGen; the default
                                      evaluate() is score(infer(every evaluation sample)), so a training
                                      session and LoadGen's accuracy mode compute quality the same way
    baselines                      -- cheap non-deep methods for the task, scored like the model (the embedded
                                      data must defeat them: `aibench baselines`)
    assets                         -- evaluation assets that are not the dataset (a scorer network), built off
                                      the clock before the session and handed over in `ctx.assets`
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar, cast

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from aibench.benchmarks.quality import Rule
from aibench.catalog import BenchmarkInfo
from aibench.datasets.embedded import DatasetSpec

PROFILES = ("tiny", "small", "full")
PRECISIONS = ("fp32", "bf16")
MEMORY_FORMATS = ("contiguous", "channels_last")

OptionsT = TypeVar("OptionsT")  # a benchmark's options: a frozen dataclass of its own
M = TypeVar("M", bound=torch.nn.Module)


@dataclass(frozen=True)
class ProfileSettings(Generic[OptionsT]):
    """Hyperparameters, stopping rule and data size of one benchmark at one profile.

    `options` is the benchmark's own frozen dataclass (validated in its __post_init__); `data` is its dataset
    generator's parameter dataclass (None at the full profile, which reads the real data).
    """

    batch_size: int
    learning_rate: float
    max_epochs: int
    target: Rule  # when the session has reached quality
    options: OptionsT
    data: Any = None  # embedded-data generator parameters (DatasetSpec.params type), or None
    convergent: Rule | None = None  # the paper's lower "convergent quality" bar (epochs to converge, 5.2.1)
    eval_interval: int = 1  # evaluate every N epochs (and after the last one)
    time_limit_s: float = 3600.0  # wall-clock limit of one session

    def with_overrides(self, **changes: Any) -> ProfileSettings[OptionsT]:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class BenchmarkContext:
    """What the harness hands a benchmark: where the data is, where to compute, and the settings to use."""

    profile: str
    settings: ProfileSettings[Any]
    data_root: Path
    device: torch.device
    precision: str = "fp32"
    seed: int = 0
    memory_format: str = "contiguous"
    assets: Mapping[str, Path] = field(default_factory=dict)  # built evaluation assets, by AssetSpec.name
    backbone_weights: Path | None = None  # a trained backbone to start from (benchmarks with `backbone`)
    rank: int = 0  # data parallel: this process's rank of world_size (torchrun)
    world_size: int = 1
    sync_batchnorm: bool = False  # data parallel on GPUs: BatchNorm statistics over all ranks

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Mixed precision around a forward pass; a no-op at fp32."""
        if self.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def sampler(self, dataset: Dataset[Any], shuffle: bool, epoch: int) -> DistributedSampler[Any] | None:
        """This rank's shard of a training set for one epoch (a DistributedSampler with the epoch set), or None
        in a single-process session, where the DataLoader shuffles by itself. Shards have equal length (the last
        incomplete round of samples is dropped), so every rank takes the same number of steps."""
        if self.world_size == 1:
            return None
        sampler: DistributedSampler[Any] = DistributedSampler(
            dataset, num_replicas=self.world_size, rank=self.rank, shuffle=shuffle, seed=self.seed, drop_last=True
        )
        sampler.set_epoch(epoch)
        return sampler

    def train_loader(self, dataset: Dataset[Any], batch_size: int, epoch: int, **kwargs: Any) -> DataLoader[Any]:
        """One epoch of a training set: this rank's shard (see `sampler`), shuffled with a generator seeded by the
        session's seed and the epoch, the last incomplete batch dropped when there is more than one batch.
        Extra keyword arguments go to the DataLoader (num_workers, pin_memory, ...)."""
        sampler = self.sampler(dataset, True, epoch)
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=sampler is None,
            sampler=sampler,
            generator=self.epoch_generator(epoch),
            drop_last=len(dataset) > batch_size,  # type: ignore[arg-type]
            **kwargs,
        )

    def epoch_generator(self, epoch: int) -> torch.Generator:
        """The CPU generator that shuffles one epoch: seeded by the session's seed and the epoch, the same on
        every rank (so ranks agree on an order before taking their shards)."""
        return torch.Generator().manual_seed(self.seed * 1000 + epoch)

    def shard(self, n: int) -> slice:
        """This rank's share of n items that the benchmark orders itself (a permutation, a list of windows):
        items rank, rank + world_size, ... up to a whole number of rounds, so every rank gets the same count."""
        return slice(self.rank, n - n % self.world_size, self.world_size)

    def to_memory_format(self, x: torch.Tensor) -> torch.Tensor:
        """A 4-D input in the session's memory layout (channels-last when the run asks for it)."""
        if self.memory_format == "channels_last" and x.dim() == 4:
            return x.contiguous(memory_format=torch.channels_last)
        return x


Losses = torch.Tensor | float | Mapping[str, torch.Tensor | float]


@dataclass
class StepOutput:
    """What one training step reports: its loss (or named losses: a GAN's generator and critic) and its size."""

    loss: Losses
    samples: int

    def losses(self) -> dict[str, float]:
        """Every loss as a float (for a tensor, `.item()`, which also waits for the device)."""
        items = self.loss.items() if isinstance(self.loss, Mapping) else (("loss", self.loss),)
        return {name: float(v.item() if isinstance(v, torch.Tensor) else v) for name, v in items}


@dataclass
class Trained:
    """A module the session trains, with its optimizer and learning-rate schedule (if any)."""

    module: torch.nn.Module
    optimizer: torch.optim.Optimizer | None = None
    schedule: Any = None  # an object with mlperf_keys() -> dict, e.g. schedules.WarmupStepDecay


@dataclass
class ModelProbe:
    """A model and one synthetic batch at some profile's shapes, for counting, not for training.

    `inference()` runs one eval-mode forward pass on `samples` samples; `training_loss()` runs one train-mode
    forward pass on the same number of samples and returns the scalar loss that a training step would
    back-propagate. Both must work on the `meta` device where the model allows it (no data-dependent
    control flow); a probe that cannot sets `meta_ok=False` and is then run for real on the CPU.
    """

    model: torch.nn.Module  # learnable parameters are counted on this module
    inference: Callable[[], Any]
    training_loss: Callable[[], torch.Tensor]
    samples: int
    sample_shape: str  # what one sample is, for people: "3x224x224 image", "L=5 sequence", ...
    meta_ok: bool = True
    notes: str = ""


@dataclass(frozen=True)
class Baseline:
    """A cheap non-deep method for the benchmark's task (colour histogram + kNN, item-transition counts, ...).

    `predict(bench)` gets a benchmark whose data is loaded and returns inference outputs for every evaluation
    sample (the format of `infer`), which `bench.score` turns into the same metrics the model is judged by.
    Embedded data on which a baseline meets the target measures nothing about the real workload.

    An `oracle` is told something the model is not (e.g. the object's category), or is the field's strong classical
    method that the benchmark reports beside the cheap ones (item-kNN for recommendation): it shows how much of the
    target that knowledge or method alone reaches, so it must miss the target, but not by the 20% a cheap baseline
    must.
    """

    name: str
    predict: Callable[[Any], Mapping[int, np.ndarray]]
    description: str = ""
    oracle: bool = False


@dataclass(frozen=True)
class AssetSpec:
    """An evaluation asset that is not the dataset: e.g. CycleGAN's FCN scorer, trained on real photos.

    Located or built before the session, off the clock (MLPerf: evaluation is timed, building a scorer is
    not): if `user_path` exists under the data root (a published scorer), it is used as is; otherwise
    `build(out_dir, data_root, settings)` writes the asset into a cache folder once per data set and settings.
    The session finds its path in `ctx.assets[name]`; using it (evaluation) is on the clock.
    """

    name: str
    build: Callable[[Path, Path, ProfileSettings[Any]], None]
    description: str
    user_path: str | None = None
    version: int = 1


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

    info: ClassVar[BenchmarkInfo]  # filled in by the registry
    dataset: ClassVar[DatasetSpec[Any]]
    quality_metric: ClassVar[str]  # the headline metric of evaluate()'s dict (logged, summarized)
    higher_is_better: ClassVar[bool] = True
    profiles: ClassVar[Mapping[str, ProfileSettings[Any]]]
    requires_prelude: ClassVar[bool] = False  # train_batches() needs prelude() to have run (C16's teacher)
    channels_last: ClassVar[bool] = False  # convolutional: --memory-format channels_last applies
    backbone: ClassVar[str | None] = None  # what --backbone-weights initialises, if the benchmark accepts it
    baselines: ClassVar[tuple[Baseline, ...]] = ()
    assets: ClassVar[tuple[AssetSpec, ...]] = ()

    def __init__(self, ctx: BenchmarkContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.device = ctx.device
        self.trained: dict[str, Trained] = {}

    def add_trained(
        self,
        name: str,
        module: M,
        optimizer: torch.optim.Optimizer | None = None,
        schedule: Any = None,
        find_unused_parameters: bool = False,
    ) -> M:
        """Declare a module this session trains; returns the module to train and call.

        The harness logs its optimizer (MLPerf `opt_*` keys, one set per module), saves its weights in
        weights.pt under `name`, and counts its parameters. `find_unused_parameters` is for a module whose
        forward uses only part of its parameters in a step (ENAS's shared weights under a sampled cell): DDP then
        looks for the unused ones each step instead of waiting for their gradients forever.
        """
        if name in self.trained:
            raise ValueError(f"{type(self).__name__} declares the trained module {name!r} twice")
        if self.ctx.memory_format == "channels_last":
            module.to(memory_format=torch.channels_last)  # in place, like every Module.to
        self.trained[name] = Trained(module, optimizer, schedule)
        if self.ctx.world_size > 1:
            return cast(M, data_parallel(module, self.device, self.ctx.sync_batchnorm, find_unused_parameters))
        return module

    @abstractmethod
    def build(self) -> None:
        """Create the models and optimizers (untrained: the rules forbid starting from trained weights)."""

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
        """Per-epoch learning-rate schedules and other bookkeeping."""

    def evaluate(self) -> dict[str, float]:
        """Quality on the evaluation split; must contain `quality_metric` and every metric of the target.

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
        cache = getattr(self, "eval_inputs", None)
        if isinstance(cache, SampleCache):
            cache.load(indices)

    def unload_samples(self, indices: Sequence[int]) -> None:
        """Release what `load_samples` holds."""
        cache = getattr(self, "eval_inputs", None)
        if isinstance(cache, SampleCache):
            cache.unload(indices)

    def inference_batch_size(self) -> int:
        """Largest batch `infer` is given (Offline and Server scenarios batch queries up to it)."""
        return self.settings.batch_size

    # -- weights ------------------------------------------------------------------------------------------------
    def model_state(self) -> dict[str, dict[str, Any]]:
        """Weights of every trained module, by name (what weights.pt holds)."""
        return {name: t.module.state_dict() for name, t in self.trained.items()}

    def load_model_state(self, state: Mapping[str, Mapping[str, Any]]) -> None:
        """Load weights saved by `model_state` (after build() and load_data())."""
        missing = set(self.trained) - set(state)
        if missing:
            raise ValueError(f"the weights hold no {sorted(missing)} (they hold {sorted(state)})")
        for name, t in self.trained.items():
            t.module.load_state_dict(state[name])

    # -- characterization (aibench characterize) --------------------------------------------------------------
    @classmethod
    def model_probe(cls, settings: ProfileSettings[Any], device: torch.device) -> ModelProbe:
        """The model at `settings`' shapes with one synthetic batch, built on `device` (often `meta`)."""
        raise NotImplementedError(f"{cls.__name__} has no model probe")

    @abstractmethod
    def train_samples(self) -> int:
        """Number of training samples in one epoch."""

    @abstractmethod
    def eval_samples(self) -> int:
        """Number of evaluation samples."""

    def optimizer_settings(self) -> dict[str, dict[str, Any]]:
        """MLPerf `opt_*` keys per trained module: derived from each optimizer and schedule."""
        return {name: describe_optimizer(t) for name, t in self.trained.items() if t.optimizer is not None}


def data_parallel(
    module: torch.nn.Module, device: torch.device, sync_batchnorm: bool, find_unused_parameters: bool = False
) -> torch.nn.Module:
    """`module` under DistributedDataParallel: its gradients are averaged over the ranks at every backward.

    Buffers are not broadcast (`broadcast_buffers=False`): BatchNorm keeps per-rank running statistics (rank 0's
    evaluate the model), unless `sync_batchnorm` makes them global (SyncBatchNorm; GPUs only). Without the
    broadcast, forward passes need no collective, so rank 0 can evaluate alone.
    """
    from torch.nn.parallel import DistributedDataParallel

    if sync_batchnorm:
        module = torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return DistributedDataParallel(
        module,
        device_ids=[device.index] if device.type == "cuda" else None,
        broadcast_buffers=False,
        find_unused_parameters=find_unused_parameters,
    )


def describe_optimizer(trained: Trained) -> dict[str, Any]:
    """MLPerf's `opt_*` keys for one optimizer, read off the torch optimizer itself (so they cannot drift)."""
    opt = trained.optimizer
    assert opt is not None
    group = opt.param_groups[0]
    keys: dict[str, Any] = {
        "opt_name": type(opt).__name__.lower(),
        "opt_base_learning_rate": float(group.get("initial_lr", group["lr"])),
    }
    if "momentum" in group:
        keys["opt_momentum"] = float(group["momentum"])
    if "weight_decay" in group:
        keys["opt_weight_decay"] = float(group["weight_decay"])
    if "betas" in group:
        keys["opt_adam_beta_1"], keys["opt_adam_beta_2"] = (float(b) for b in group["betas"])
    if "eps" in group:
        keys["opt_epsilon"] = float(group["eps"])
    if "alpha" in group:  # RMSprop's smoothing constant
        keys["opt_rmsprop_alpha"] = float(group["alpha"])
    if trained.schedule is not None:
        keys.update(trained.schedule.mlperf_keys())
    return keys
