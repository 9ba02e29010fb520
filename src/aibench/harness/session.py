"""One training session: one benchmark, one profile, one seed, timed as MLPerf times a run.

init (off the clock) -> run_start -> read data -> prelude -> epochs with evaluation -> run_stop(status).
Time to quality runs from run_start to the end of the evaluation that first meets the target.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import resource
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping, Sized
from dataclasses import asdict, dataclass, field, is_dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aibench.benchmarks.base import Benchmark, BenchmarkContext, ProfileSettings
from aibench.benchmarks.quality import Rule, first_met, metrics_of
from aibench.datasets.embedded import params_json
from aibench.harness.config import SessionConfig
from aibench.harness.devices import resolve_device, synchronize
from aibench.harness.distributed import Group, failure_path, join_group, rank_device
from aibench.harness.energy import energy_between, open_energy_meter, read_energy
from aibench.harness.flops import characterize_model
from aibench.harness.mlperf_log import C, SessionLog
from aibench.harness.peak import achieved, measure_peaks
from aibench.harness.results import (
    RESULT_SCHEMA_VERSION,
    benchmark_identity,
    file_mode,
    finite_or_null,
    write_json_atomic,
)
from aibench.harness.system import describe_system, platform_name
from aibench.registry import get_benchmark

Emit = Callable[[dict[str, Any]], None]

# Statuses every rank reaches together (the ranks stay in step); any other ends one rank first.
ENDED_TOGETHER = ("success", "target_not_reached", "completed")
# Steps at the start of the first epoch that are excluded from throughput (allocator and cache warm-up).
WARMUP_STEPS = 5
PROGRESS_INTERVAL_S = 0.5


class Diverged(RuntimeError):
    pass


class TimeLimit(RuntimeError):
    pass


@dataclass
class _Clock:
    """Wall-clock accounting of one session."""

    run_start: float = 0.0
    deadline: float = math.inf
    steady_time: float = 0.0
    steady_samples: int = 0
    epoch_times: list[float] = field(default_factory=list)
    eval_times: list[float] = field(default_factory=list)
    prelude_time: float = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.run_start

    def check_deadline(self) -> None:
        if time.perf_counter() > self.deadline:
            raise TimeLimit("wall-clock limit reached")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _check_finite(values: Mapping[str, float], where: str, what: str = "loss") -> None:
    for name, value in values.items():
        if not math.isfinite(value):
            raise Diverged(f"non-finite {what} {name} = {value} at {where}")


def _signal_name(exc: KeyboardInterrupt) -> str:
    """The worker raises KeyboardInterrupt("SIGTERM") for SIGTERM; Python's own is SIGINT."""
    return str(exc.args[0]) if exc.args else "SIGINT"


def _main_loss(losses: Mapping[str, float]) -> float | None:
    """The first named loss (the only one for most benchmarks): the curve's `train_loss`."""
    return next(iter(losses.values()), None)


def _sha256(path: Path) -> str | None:
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()
    except OSError:
        return None


def save_atomic(state: Any, path: Path) -> None:
    """torch.save through a temporary file in the same folder, renamed into place; removed if saving fails."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save_error(path: Path, exc: BaseException) -> str:
    """Why weights could not be saved. torch.save reports a full disk as an opaque RuntimeError, so the free
    space is measured and said."""
    try:
        free = f"; {shutil.disk_usage(path.parent).free / 2**20:.1f} MiB free on its filesystem"
    except OSError:
        free = ""
    return f"could not save the weights to {path}: {str(exc).strip().splitlines()[-1]}{free}"


def _jsonable(options: Any) -> Any:
    return asdict(options) if is_dataclass(options) and not isinstance(options, type) else options


def result_header(
    cls: type[Benchmark], cfg: SessionConfig, settings: ProfileSettings[Any], status: str, error: str | None
) -> dict[str, Any]:
    """What identifies a session's result: the benchmark, configuration, hyperparameters and data."""
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "kind": "training",
        "benchmark": benchmark_identity(cls),
        "profile": cfg.profile,
        "run_index": cfg.run_index,
        "seed": cfg.seed,
        "status": status,
        "error": error,
        "hyperparameters": {
            "batch_size": settings.batch_size,
            "learning_rate": settings.learning_rate,
            "max_epochs": settings.max_epochs,
            "eval_interval": settings.eval_interval,
            "quasi_entire_epochs": cfg.overrides.epochs,
            "precision": cfg.overrides.precision,
            "memory_format": cfg.overrides.memory_format,
            "target": settings.target.describe(),
            "target_rule": settings.target.to_json(),
            "target_overridden": cfg.overrides.target is not None,
            "convergent": settings.convergent.describe() if settings.convergent else None,
            "convergent_rule": settings.convergent.to_json() if settings.convergent else None,
            "time_limit_s": settings.time_limit_s,
            "options": _jsonable(settings.options),
            "backbone_weights": (
                {"path": cfg.backbone_weights, "sha256": _sha256(Path(cfg.backbone_weights))}
                if cfg.backbone_weights
                else None
            ),
        },
        "data": {
            "root": cfg.data_root,
            "source": cfg.data_source,
            "generator": params_json(settings.data),
            "assets": dict(cfg.assets),
        },
    }


def curve_metrics(cls: type[Benchmark], curve: list[dict[str, Any]]) -> dict[str, Any]:
    """Final and best value of the headline metric over a quality curve."""
    values = [p["quality"][cls.quality_metric] for p in curve if cls.quality_metric in p["quality"]]
    best = (max(values) if cls.higher_is_better else min(values)) if values else None
    return {
        "final_quality": values[-1] if values else None,
        "best_quality": best,
        "final_quality_all": curve[-1]["quality"] if curve else {},
    }


class Session:
    """One session in this process; under torchrun, this process's rank of it (rank 0 times, logs, evaluates
    and writes the result; every rank trains its shard of the data)."""

    def __init__(self, cfg: SessionConfig, emit: Emit, group: Group | None = None) -> None:
        self.cfg = cfg
        self.group = group or Group()
        self.emit = emit if self.group.is_main else (lambda event: None)
        self.cls: type[Benchmark] = get_benchmark(cfg.benchmark)
        self.settings = cfg.overrides.apply(self.cls.profiles[cfg.profile])  # global: what is logged
        if self.settings.batch_size % self.group.world_size:
            raise ValueError(
                f"the global batch size {self.settings.batch_size} does not divide among {self.group.world_size} ranks"
            )
        # Each rank trains on its share of every global batch; DDP averages the gradients over the ranks.
        self.rank_settings = replace(self.settings, batch_size=self.settings.batch_size // self.group.world_size)
        self.target: Rule = self.settings.target
        self.quasi_entire = cfg.overrides.epochs is not None
        self.clock = _Clock()
        self.curve: list[dict[str, Any]] = []
        self.log = SessionLog(cfg.path / "mllog.txt" if self.group.is_main else Path(os.devnull))
        self._last_emit = 0.0
        self._epoch_losses: dict[str, float] = {}
        self.energy: dict[str, Any] = {}  # meter readings at run_start, at the target, at run_stop
        self.energy_reason: str | None = None

    # -- progress ---------------------------------------------------------------------------------------
    def _progress(
        self, phase: str, epoch: int, step: int, steps: int | None, losses: dict[str, float], force: bool = False
    ) -> None:
        now = time.perf_counter()
        if force or now - self._last_emit >= PROGRESS_INTERVAL_S:
            self._last_emit = now
            last_q = self.curve[-1]["quality"].get(self.cls.quality_metric) if self.curve else None
            self.emit(
                {
                    "type": "progress",
                    "phase": phase,
                    "epoch": epoch,
                    "max_epochs": self.settings.max_epochs,
                    "step": step,
                    "steps": steps,
                    "losses": losses,
                    "quality": last_q,
                    "elapsed_s": self.clock.elapsed(),
                }
            )

    # -- the session ------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        cfg, log = self.cfg, self.log
        started_at = datetime.now(timezone.utc).isoformat()
        device = resolve_device(rank_device(cfg.device, self.group))
        log.start(C.INIT_START)
        log.event(C.SUBMISSION_BENCHMARK, self.cls.info.id)
        log.event(C.SUBMISSION_ORG, "AIBench")
        log.event(C.SUBMISSION_DIVISION, "closed" if cfg.profile == "full" else "open")
        log.event(C.SUBMISSION_STATUS, "research")
        log.event(C.SUBMISSION_PLATFORM, platform_name())
        log.event("aibench_profile", cfg.profile)
        log.event(C.SEED, cfg.seed)
        log.event(C.GLOBAL_BATCH_SIZE, self.settings.batch_size)
        log.event(
            "aibench_quality_target",
            self.target.describe(),
            rule=self.target.to_json(),
            override=cfg.overrides.target is not None,
        )
        log.event("aibench_precision", cfg.overrides.precision)
        log.event("aibench_memory_format", cfg.overrides.memory_format)
        log.event("aibench_world_size", self.group.world_size, backend=self.group.backend)
        if cfg.backbone_weights:
            log.event("aibench_backbone_weights", cfg.backbone_weights, sha256=_sha256(Path(cfg.backbone_weights)))
        seed_everything(cfg.seed)
        ctx = BenchmarkContext(
            profile=cfg.profile,
            settings=self.rank_settings,
            data_root=cfg.data_root_path,
            device=device,
            precision=cfg.overrides.precision,
            seed=cfg.seed,
            rank=self.group.rank,
            world_size=self.group.world_size,
            sync_batchnorm=cfg.overrides.sync_batchnorm,
            memory_format=cfg.overrides.memory_format,
            assets={k: Path(v) for k, v in cfg.assets.items()},
            backbone_weights=Path(cfg.backbone_weights) if cfg.backbone_weights else None,
        )
        bench = self.cls(ctx)
        status: str | None = None
        error: str | None = None
        t_init = time.perf_counter()
        try:
            bench.build()
        except KeyboardInterrupt as exc:
            status, error = "aborted", f"interrupted ({_signal_name(exc)}) while building the model"
        except Exception as exc:
            status, error = "error", f"build() failed: {type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        init_time = time.perf_counter() - t_init
        meter, self.energy_reason = (
            open_energy_meter(device)
            if not self.group.distributed
            else (
                None,
                "energy of a multi-process session is not measured: each rank's GPU "
                "and each node's CPU would have to be summed without double counting",
            )
        )
        self._read_energy(meter, "start")  # just before run_start: the closest reading to it
        log.end(C.INIT_STOP)

        synchronize(device)
        if status is None:
            self.group.barrier()  # every rank built its model: the clock starts for all at once
        # A session that failed to build still logs run_start/run_stop, so its log is complete and checkable.
        log.start(C.RUN_START)
        self.clock.run_start = time.perf_counter()
        self.emit({"type": "run_start"})
        self.clock.deadline = self.clock.run_start + self.settings.time_limit_s
        ttq = epochs_to_quality = None
        epoch = 0
        if status is None:
            try:
                bench.load_data()
                log.event(C.TRAIN_SAMPLES, bench.train_samples())
                log.event(C.EVAL_SAMPLES, bench.eval_samples())
                self._log_optimizers(bench)  # after load_data: some benchmarks size their models by the data
                self._prelude(bench, device)
                for epoch in range(1, self.settings.max_epochs + 1):
                    self._train_epoch(bench, epoch, device)
                    last = epoch == self.settings.max_epochs
                    if epoch % self.settings.eval_interval == 0 or last:
                        met = self._evaluate(bench, epoch, device)
                        if epochs_to_quality is None and met:
                            ttq, epochs_to_quality = self.clock.elapsed(), epoch
                            self._read_energy(meter, "quality")
                            if not self.quasi_entire:
                                break
                if self.quasi_entire:
                    status = "completed"
                else:
                    status = "success" if epochs_to_quality is not None else "target_not_reached"
            except Diverged as exc:
                status, error = "diverged", str(exc)
            except TimeLimit as exc:
                status, error = "timeout", f"{exc} ({self.settings.time_limit_s:g} s) during epoch {epoch}"
            except KeyboardInterrupt as exc:
                status, error = "aborted", f"interrupted ({_signal_name(exc)})"
            except Exception as exc:
                status, error = "error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        assert status is not None
        synchronize(device)
        if status in ENDED_TOGETHER:
            self.group.barrier()  # a failed rank is not waited for: torchrun ends the others when it exits
        run_time = self.clock.elapsed()
        self._read_energy(meter, "stop")
        if meter:
            meter.close()
        log.end(C.RUN_STOP, status=status, target=self.target.describe())
        log.close()

        weights = None
        if cfg.save_weights and status in ENDED_TOGETHER and self.group.is_main:
            weights = "weights.pt"
            try:
                save_atomic(bench.model_state(), cfg.path / weights)
            except (OSError, RuntimeError) as exc:  # disk full, read-only folder (torch.save raises RuntimeError)
                weights = None
                status, error = "error", _save_error(cfg.path / "weights.pt", exc)

        return self._result(
            bench, status, error, ttq, epochs_to_quality, run_time, init_time, device, started_at, weights
        )

    def _log_optimizers(self, bench: Benchmark) -> None:
        """MLPerf `opt_*` keys, one set per trained module (metadata names the module)."""
        self.optimizers = bench.optimizer_settings()
        for module, keys in self.optimizers.items():
            for key, value in keys.items():
                self.log.event(key, value, module=module)

    def _prelude(self, bench: Benchmark, device: torch.device) -> None:
        t0 = time.perf_counter()
        step = 0
        for out in bench.prelude():
            if step == 0:  # MLPerf logs on-the-clock phases outside the epochs as blocks
                self.log.start(C.BLOCK_START, first_epoch_num=0, epoch_count=0, phase="prelude")
            step += 1
            losses = out.losses()
            _check_finite(losses, f"prelude step {step}")
            self._progress("prelude", 0, step, None, losses)
            self.clock.check_deadline()
        if step:
            synchronize(device)
            self.clock.prelude_time = time.perf_counter() - t0
            self.log.end(C.BLOCK_STOP, first_epoch_num=0, phase="prelude", steps=step)

    def _train_epoch(self, bench: Benchmark, epoch: int, device: torch.device) -> None:
        log = self.log
        log.start(C.EPOCH_START, epoch_num=epoch)
        t0 = time.perf_counter()
        batches = bench.train_batches(epoch)
        steps = len(batches) if isinstance(batches, Sized) else None
        sums: dict[str, float] = {}
        count = 0
        t_step = time.perf_counter()
        for i, batch in enumerate(batches, start=1):
            out = bench.train_step(batch)
            losses = out.losses()  # .item() synchronises, so the step time below is the step's real time
            now = time.perf_counter()
            if epoch > 1 or i > WARMUP_STEPS:
                self.clock.steady_time += now - t_step
                self.clock.steady_samples += out.samples
            t_step = now
            _check_finite(losses, f"epoch {epoch} step {i}")
            for name, value in losses.items():
                sums[name] = sums.get(name, 0.0) + value
            count += 1
            self._progress("train", epoch, i, steps, losses)
            self.clock.check_deadline()
        bench.end_epoch(epoch)
        synchronize(device)
        self.clock.epoch_times.append(time.perf_counter() - t0)
        self._epoch_losses = {name: total / count for name, total in sums.items()}
        log.end(C.EPOCH_STOP, epoch_num=epoch)
        self.emit({"type": "epoch", "epoch": epoch})

    def _evaluate(self, bench: Benchmark, epoch: int, device: torch.device) -> bool:
        """Rank 0 evaluates the whole evaluation set (the same number as one process: no sharded metric to merge)
        while the other ranks wait; every rank learns whether the target is met, so all stop together."""
        met = self._evaluate_main(bench, epoch, device) if self.group.is_main else False
        return bool(self.group.broadcast(met))

    def _evaluate_main(self, bench: Benchmark, epoch: int, device: torch.device) -> bool:
        """Evaluate, log and record; returns whether the target rule is met."""
        log = self.log
        self._progress("eval", epoch, 0, None, self._epoch_losses, force=True)
        log.start(C.EVAL_START, epoch_num=epoch)
        t0 = time.perf_counter()
        quality = {k: float(v) for k, v in bench.evaluate().items()}
        synchronize(device)
        self.clock.eval_times.append(time.perf_counter() - t0)
        needed = [m for m in (self.cls.quality_metric, *metrics_of(self.target)) if m not in quality]
        if needed:
            raise KeyError(f"{self.cls.info.id} evaluate() returned no {needed[0]!r} (it returned {sorted(quality)})")
        value = quality[self.cls.quality_metric]
        _check_finite(quality, f"evaluation after epoch {epoch}", what="quality metric")
        met = self.target.met(quality)
        log.event(
            C.EVAL_ACCURACY,
            value,
            epoch_num=epoch,
            metric=self.cls.quality_metric,
            metrics={m: quality[m] for m in metrics_of(self.target)},
            target_met=met,
        )
        log.end(C.EVAL_STOP, epoch_num=epoch)
        point = {
            "epoch": epoch,
            "elapsed_s": self.clock.elapsed(),
            "train_loss": _main_loss(self._epoch_losses),
            "train_losses": self._epoch_losses,
            "quality": quality,
        }
        self.curve.append(point)
        self.emit({"type": "eval", **point, "metric": self.cls.quality_metric, "value": value, "target_met": met})
        return met

    def _result(
        self,
        bench: Benchmark,
        status: str,
        error: str | None,
        ttq: float | None,
        epochs_to_quality: int | None,
        run_time: float,
        init_time: float,
        device: torch.device,
        started_at: str,
        weights: str | None,
    ) -> dict[str, Any]:
        cfg, clock = self.cfg, self.clock
        unavailable: dict[str, str] = {}
        throughput = clock.steady_samples / clock.steady_time if clock.steady_time > 0 else None
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        cuda_mem = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
        ranks: list[dict[str, Any]] = [
            {
                "rank": 0,
                "throughput_samples_per_s": throughput,
                "peak_rss_mib": peak_rss,
                "cuda_max_allocated_mib": cuda_mem,
            }
        ]
        if self.group.distributed:
            if status in ENDED_TOGETHER:  # the ranks are in step: gather what each measured
                ranks = self.group.gather({**ranks[0], "rank": self.group.rank})
                # Ranks train concurrently on disjoint shards: the session's rate is the sum of theirs.
                rates = [r["throughput_samples_per_s"] for r in ranks]
                throughput = sum(rates) if all(r is not None for r in rates) else None
            else:
                unavailable["per_rank"] = "the session ended on one rank first: the others' figures are lost"
        if throughput is None:
            unavailable["throughput_samples_per_s"] = f"no steady-state steps (the first {WARMUP_STEPS} are warm-up)"
        if ttq is None:
            unavailable["time_to_quality_s"] = "target quality not reached"
        if device.type != "cuda":
            unavailable["cuda_max_allocated_mib"] = "not a CUDA session"
        convergent = first_met(self.settings.convergent, self.curve) if self.settings.convergent else None
        if self.settings.convergent is None:
            unavailable["epochs_to_convergent"] = "no convergent quality defined for this benchmark and profile"
        elif convergent is None:
            unavailable["epochs_to_convergent"] = "convergent quality not reached"
        energy = self._energy(unavailable, reached=ttq is not None)
        characterization, efficiency = self._efficiency(bench, throughput, device)
        header = result_header(self.cls, cfg, self.settings, status, error)
        header["data"].update(train_samples=_safe(bench.train_samples), eval_samples=_safe(bench.eval_samples))
        return {
            **header,
            "started_at": started_at,
            "finished_at": datetime.now(timezone.utc).isoformat(),
            "system": {**describe_system(), "device": str(device)},
            "metrics": {
                "time_to_quality_s": ttq,
                "epochs_to_quality": epochs_to_quality,
                "epochs_to_convergent": convergent["epoch"] if convergent else None,
                "time_to_convergent_s": convergent["elapsed_s"] if convergent else None,
                **curve_metrics(self.cls, self.curve),
                "throughput_samples_per_s": throughput,
                "epochs_completed": len(clock.epoch_times),
                "time_per_epoch_s": sum(clock.epoch_times) / len(clock.epoch_times) if clock.epoch_times else None,
                "epoch_times_s": clock.epoch_times,
                "eval_time_s": sum(clock.eval_times),
                "eval_count": len(clock.eval_times),
                "prelude_time_s": clock.prelude_time,
                "run_time_s": run_time,
                "init_time_s": init_time,
                "peak_rss_mib": peak_rss,
                "cuda_max_allocated_mib": cuda_mem,
                "energy_to_quality_j": energy.get("to_quality_j"),
                "energy_j": energy.get("run_j"),
                "unavailable": unavailable,
            },
            "optimizers": getattr(self, "optimizers", {}),
            "distributed": {
                "world_size": self.group.world_size,
                "backend": self.group.backend,
                "launch": cfg.launch,
                "per_rank": ranks,
                "batch_size_per_rank": self.rank_settings.batch_size,
                "evaluation": "rank 0 evaluates the whole evaluation set",
            },
            "energy": energy,
            "characterization": characterization,
            "efficiency": efficiency,
            "curve": self.curve,
            "files": {"mllog": "mllog.txt", "weights": weights},
        }

    def _read_energy(self, meter: Any, point: str) -> None:
        sample, reason = read_energy(meter)
        if sample is not None:
            self.energy[point] = sample
        elif reason:
            self.energy_reason = reason

    def _energy(self, unavailable: dict[str, str], reached: bool) -> dict[str, Any]:
        """Measured joules from run_start to the target and to run_stop, per domain and in total."""
        if "start" not in self.energy:
            for key in ("energy_to_quality_j", "energy_j"):
                unavailable[key] = str(self.energy_reason)
            return {"unavailable": str(self.energy_reason)}
        start = self.energy["start"]
        out: dict[str, Any] = {"domains": sorted(start.joules)}
        if "stop" in self.energy:
            out["run_by_domain_j"] = energy_between(start, self.energy["stop"])
            out["run_j"] = out["run_by_domain_j"]["total"]
        else:
            unavailable["energy_j"] = str(self.energy_reason)
        if "quality" in self.energy:
            out["to_quality_by_domain_j"] = energy_between(start, self.energy["quality"])
            out["to_quality_j"] = out["to_quality_by_domain_j"]["total"]
        else:
            unavailable["energy_to_quality_j"] = str(self.energy_reason) if reached else "target quality not reached"
        return out

    def _efficiency(
        self, bench: Benchmark, throughput: float | None, device: torch.device
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Counted FLOPs at this session's shapes, and achieved FLOP/s against the device's matmul peak."""
        try:
            counts = characterize_model(self.cls, self.settings)
            characterization = {
                k: counts[k]
                for k in (
                    "parameters",
                    "forward_flops_per_sample",
                    "train_step_flops_per_sample",
                    "sample",
                    "counted_on",
                    "counter",
                )
            }
        except Exception as exc:
            characterization = {"unavailable": f"FLOPs not counted: {type(exc).__name__}: {exc}"}
        if "unavailable" in characterization:
            return characterization, {"unavailable": characterization["unavailable"]}
        # The trained modules are at hand: their exact sizes (the probe sizes data-dependent tables from the
        # generator's parameters, before the data's filtering).
        characterization["trained_parameters"] = {
            name: sum(p.numel() for p in t.module.parameters() if p.requires_grad) for name, t in bench.trained.items()
        }
        peaks = _peaks(self.cfg, device)
        efficiency = achieved(
            characterization.get("train_step_flops_per_sample"), throughput, peaks, self.cfg.overrides.precision
        )
        return characterization, {**efficiency, "peak": peaks}


def _peaks(cfg: SessionConfig, device: torch.device) -> dict[str, Any]:
    """The device's matmul peak: measured once per results folder (by its first session) and shared."""
    path = Path(cfg.peak_file) if cfg.peak_file else None
    if path and path.is_file():
        cached = json.loads(path.read_text())
        if cached.get("device") == str(device) and cached.get("threads") == torch.get_num_threads():
            return cached
    peaks = {**measure_peaks(device), "threads": torch.get_num_threads()}
    if path:
        write_json_atomic(path, peaks)
    return peaks


def _safe(fn: Callable[[], int]) -> int | None:
    try:
        return fn()
    except Exception:
        return None


def run_session(cfg: SessionConfig, emit: Emit) -> dict[str, Any]:
    """Run one session in this process (or this rank of it, under torchrun) and write its result; returns it.

    Rank 0 writes result.json. Another rank whose session ended on its own (an exception, a divergence, its
    time limit) writes rank-<r>.failure.json, so the parent can say which rank failed and why.
    """
    cfg.path.mkdir(parents=True, exist_ok=True)
    group = join_group(cfg.device)
    result, not_finite = finite_or_null(Session(cfg, emit, group).run())
    result["metrics"]["unavailable"].update(not_finite)  # a NaN is missing, with the reason, never JSON NaN
    if group.is_main:
        write_json_atomic(cfg.path / "result.json", result)
    elif result["status"] not in ENDED_TOGETHER:
        write_json_atomic(
            failure_path(cfg.path, group.rank),
            {"rank": group.rank, "status": result["status"], "error": result["error"]},
        )
    if result["status"] in ENDED_TOGETHER:
        group.close()
    return result
