"""Typed configuration that flows one way: command line -> RunPlan -> SessionConfig -> benchmark settings."""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aibench.benchmarks.base import PRECISIONS, PROFILES, ProfileSettings


class ConfigError(ValueError):
    """A bad command-line value: reported with exit code 2."""


@dataclass(frozen=True)
class Overrides:
    """The knobs the reimplementation rules let a system under test tune: not the model, not the data."""

    batch_size: int | None = None
    learning_rate: float | None = None
    precision: str = "fp32"
    epochs: int | None = None          # quasi-entire session: exactly N epochs, no early stop
    max_epochs: int | None = None
    eval_interval: int | None = None
    time_limit_s: float | None = None

    def __post_init__(self) -> None:
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"--batch-size must be a positive integer, got {self.batch_size}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ConfigError(f"--lr must be a positive number, got {self.learning_rate}")
        check_precision(self.precision)
        for name in ("epochs", "max_epochs", "eval_interval"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
        if self.time_limit_s is not None and not self.time_limit_s > 0:
            raise ConfigError(f"--time-limit must be positive seconds, got {self.time_limit_s}")

    def apply(self, settings: ProfileSettings) -> ProfileSettings:
        return settings.with_overrides(
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            max_epochs=self.epochs or self.max_epochs,
            eval_interval=self.eval_interval,
            time_limit_s=self.time_limit_s,
        )


def check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


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
    data_source: str          # "embedded" or "user"
    device: str
    overrides: Overrides = Overrides()
    save_weights: bool = True
    peak_file: str | None = None  # the device's matmul peak, measured by the first session and shared (JSON)

    def __post_init__(self) -> None:
        check_profile(self.profile)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "SessionConfig":
        raw: dict[str, Any] = json.loads(text)
        raw["overrides"] = Overrides(**raw.get("overrides", {}))
        return cls(**raw)

    @property
    def path(self) -> Path:
        return Path(self.session_dir)

    @property
    def data_root_path(self) -> Path:
        return Path(self.data_root)
