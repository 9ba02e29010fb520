"""Typed configuration that flows one way: command line -> RunPlan -> SessionConfig -> benchmark settings."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aibench.benchmarks.base import MEMORY_FORMATS, PRECISIONS, PROFILES, ProfileSettings


class ConfigError(ValueError):
    """A bad command-line value: reported with exit code 2."""


# Bounds that catch typos (10**23) before a session allocates or loops on them.
MAX_BATCH_SIZE = 1 << 20
MAX_EPOCHS = 100_000
MAX_SEED = 2**63 - 1  # torch.manual_seed takes a 64-bit seed


@dataclass(frozen=True)
class Overrides:
    """The knobs the reimplementation rules let a system under test tune: not the model, not the data."""

    batch_size: int | None = None
    learning_rate: float | None = None
    precision: str = "fp32"
    memory_format: str = "contiguous"  # channels_last: a layout choice the rules leave to the system under test
    epochs: int | None = None  # quasi-entire session: exactly N epochs, no early stop
    max_epochs: int | None = None
    eval_interval: int | None = None
    time_limit_s: float | None = None
    target: float | None = None  # a different value for the profile's (single-metric) target
    sync_batchnorm: bool = False  # data parallel on GPUs: BatchNorm statistics over all ranks

    def __post_init__(self) -> None:
        if self.batch_size is not None and not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ConfigError(f"--batch-size must be an integer from 1 to {MAX_BATCH_SIZE:,}, got {self.batch_size}")
        if self.learning_rate is not None and not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError(f"--lr must be a positive finite number, got {self.learning_rate}")
        if self.target is not None and not math.isfinite(self.target):
            raise ConfigError(f"--target must be a finite number, got {self.target}")
        check_precision(self.precision)
        if self.memory_format not in MEMORY_FORMATS:
            raise ConfigError(f"--memory-format must be one of {', '.join(MEMORY_FORMATS)}, got {self.memory_format!r}")
        for name in ("epochs", "max_epochs", "eval_interval"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= MAX_EPOCHS:
                raise ConfigError(f"--{name.replace('_', '-')} must be from 1 to {MAX_EPOCHS:,}, got {value}")
        if self.time_limit_s is not None and not (math.isfinite(self.time_limit_s) and self.time_limit_s > 0):
            raise ConfigError(f"--time-limit must be a positive finite number of seconds, got {self.time_limit_s}")

    def apply(self, settings: ProfileSettings[Any]) -> ProfileSettings[Any]:
        try:
            target = settings.target.with_value(self.target) if self.target is not None else None
        except ValueError as exc:
            raise ConfigError(f"--target: {exc}") from None
        return settings.with_overrides(
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            max_epochs=self.epochs or self.max_epochs,
            eval_interval=self.eval_interval,
            time_limit_s=self.time_limit_s,
            target=target,
        )


def check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


def threads_from_env() -> int | None:
    """AIBENCH_THREADS (torch threads of every session), validated; None when unset."""
    raw = os.environ.get("AIBENCH_THREADS", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 4096:
        raise ConfigError(f"AIBENCH_THREADS must be a whole number of threads from 1 to 4096, got {raw!r}")
    return int(raw)


def check_seed(seed: int) -> None:
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"--seed must be an integer from 0 to 2**63-1, got {seed}")


def check_device(device: str) -> None:
    """The form of a device name; whether CUDA is really there is checked where a device is opened."""
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", device):
        raise ConfigError(f"--device must be auto, cpu, cuda or cuda:N, got {device!r}")


@dataclass(frozen=True)
class SessionConfig:
    """Everything one child process needs to run one session; serialised as JSON between processes."""

    benchmark: str
    profile: str
    seed: int
    run_index: int
    session_dir: str
    data_root: str
    data_source: str  # "embedded" or "user"
    device: str
    overrides: Overrides = Overrides()
    save_weights: bool = True
    peak_file: str | None = None  # the device's matmul peak, measured by the first session and shared (JSON)
    assets: dict[str, str] = dataclasses.field(default_factory=dict)  # evaluation assets, by name
    backbone_weights: str | None = None
    launch: dict[str, Any] | None = None  # torchrun's flags when the session is data-parallel (distributed.Launch)

    def __post_init__(self) -> None:
        check_profile(self.profile)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> SessionConfig:
        raw: dict[str, Any] = json.loads(text)
        raw["overrides"] = Overrides(**raw.get("overrides", {}))
        return cls(**raw)

    @property
    def path(self) -> Path:
        return Path(self.session_dir)

    @property
    def data_root_path(self) -> Path:
        return Path(self.data_root)
