"""One training session: one benchmark, one profile, one seed, timed as MLPerf times a run.

init (off the clock) -> run_start -> read data -> prelude -> epochs with evaluation -> run_stop(status).
Time to quality runs from run_start to the end of the evaluation that first meets the target.
"""

from __future__ import annotations

import json
import math
import random
import resource
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aibench.benchmarks.base import Benchmark, BenchmarkContext
from aibench.harness.config import SessionConfig
from aibench.harness.devices import resolve_device, synchronize
from aibench.harness.energy import energy_between, open_energy_meter, read_energy
from aibench.harness.flops import characterize_model
from aibench.harness.mlperf_log import C, SessionLog
from aibench.harness.peak import achieved, measure_peaks
from aibench.harness.results import RESULT_SCHEMA_VERSION, write_json_atomic
from aibench.harness.system import describe_system, platform_name
from aibench.registry import get_benchmark

Emit = Callable[[dict[str, Any]], None]

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


class Session:
    def __init__(self, cfg: SessionConfig, emit: Emit) -> None:
        self.cfg = cfg
        self.emit = emit
        self.cls: type[Benchmark] = get_benchmark(cfg.benchmark)
        self.settings = cfg.overrides.apply(self.cls.profiles[cfg.profile])
        self.quasi_entire = cfg.overrides.epochs is not None
        self.clock = _Clock()
        self.curve: list[dict[str, Any]] = []
        self.log = SessionLog(cfg.path / "mllog.txt")
        self._last_emit = 0.0
        self.energy: dict[str, Any] = {}   # meter readings at run_start, at the target, at run_stop
        self.energy_reason: str | None = None

    # -- progress ---------------------------------------------------------------------------------------
    def _progress(self, phase: str, epoch: int, step: int, steps: int | None, loss: float, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self._last_emit >= PROGRESS_INTERVAL_S:
            self._last_emit = now
            last_q = self.curve[-1]["quality"][self.cls.quality_metric] if self.curve else None
            self.emit({"type": "progress", "phase": phase, "epoch": epoch, "max_epochs": self.settings.max_epochs,
                       "step": step, "steps": steps, "loss": loss, "quality": last_q,
                       "elapsed_s": self.clock.elapsed()})

    # -- the session ------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        cfg, log = self.cfg, self.log
        started_at = datetime.now(timezone.utc).isoformat()
        device = resolve_device(cfg.device)
        log.start(C.INIT_START)
        log.event(C.SUBMISSION_BENCHMARK, self.cls.info.id)
        log.event(C.SUBMISSION_ORG, "AIBench")
        log.event(C.SUBMISSION_DIVISION, "closed" if cfg.profile == "full" else "open")
        log.event(C.SUBMISSION_STATUS, "research")
        log.event(C.SUBMISSION_PLATFORM, platform_name())
        log.event("aibench_profile", cfg.profile)
        log.event(C.SEED, cfg.seed)
        log.event(C.GLOBAL_BATCH_SIZE, self.settings.batch_size)
        log.event("aibench_quality_target", self.settings.target, metric=self.cls.quality_metric)
        log.event("aibench_precision", cfg.overrides.precision)
        seed_everything(cfg.seed)
        ctx = BenchmarkContext(profile=cfg.profile, settings=self.settings, data_root=cfg.data_root_path,
                               device=device, precision=cfg.overrides.precision, seed=cfg.seed)
        bench = self.cls(ctx)
        t_init = time.perf_counter()
        bench.build()
        optimizer = bench.optimizer_settings()
        for key, value in optimizer.items():
            log.event(key, value)
        init_time = time.perf_counter() - t_init
        meter, self.energy_reason = open_energy_meter(device)
        self._read_energy(meter, "start")  # just before run_start: the closest reading to it
        log.end(C.INIT_STOP)

        synchronize(device)
        log.start(C.RUN_START)
        self.clock.run_start = time.perf_counter()
        self.emit({"type": "run_start"})
        self.clock.deadline = self.clock.run_start + self.settings.time_limit_s
        status, error = "error", None
        ttq = epochs_to_quality = None
        epoch = 0
        try:
            bench.load_data()
            log.event(C.TRAIN_SAMPLES, bench.train_samples())
            log.event(C.EVAL_SAMPLES, bench.eval_samples())
            self._prelude(bench, device)
            for epoch in range(1, self.settings.max_epochs + 1):
                self._train_epoch(bench, epoch, device)
                last = epoch == self.settings.max_epochs
                if epoch % self.settings.eval_interval == 0 or last:
                    value = self._evaluate(bench, epoch, device)
                    if epochs_to_quality is None and self.cls.reached(value, self.settings.target):
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
        except KeyboardInterrupt:
            status, error = "aborted", "interrupted (SIGINT)"
        except Exception as exc:  # noqa: BLE001 - a benchmark's failure is a result, not a harness crash
            status, error = "error", f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        synchronize(device)
        run_time = self.clock.elapsed()
        self._read_energy(meter, "stop")
        if meter:
            meter.close()
        log.end(C.RUN_STOP, status=status)
        log.close()

        weights = None
        if cfg.save_weights and status in ("success", "target_not_reached", "completed"):
            weights = "weights.pt"
            tmp = cfg.path / f".{weights}.tmp"
            torch.save(bench.model_state(), tmp)
            tmp.replace(cfg.path / weights)  # atomic: a reader never sees half-written weights

        return self._result(bench, status, error, ttq, epochs_to_quality, run_time, init_time, optimizer,
                            device, started_at, weights)

    def _prelude(self, bench: Benchmark, device: torch.device) -> None:
        t0 = time.perf_counter()
        step = 0
        for out in bench.prelude():
            step += 1
            loss = out.loss_value()
            if not math.isfinite(loss):
                raise Diverged(f"non-finite loss {loss} at prelude step {step}")
            self._progress("prelude", 0, step, None, loss)
            self.clock.check_deadline()
        if step:
            synchronize(device)
            self.clock.prelude_time = time.perf_counter() - t0
            self.log.event("aibench_prelude", self.clock.prelude_time, steps=step)

    def _train_epoch(self, bench: Benchmark, epoch: int, device: torch.device) -> None:
        log = self.log
        log.start(C.EPOCH_START, epoch_num=epoch)
        t0 = time.perf_counter()
        batches = bench.train_batches(epoch)
        steps = len(batches) if hasattr(batches, "__len__") else None
        losses: list[float] = []
        t_step = time.perf_counter()
        for i, batch in enumerate(batches, start=1):
            out = bench.train_step(batch)
            loss = out.loss_value()  # .item() synchronises, so the step time below is the step's real time
            now = time.perf_counter()
            if epoch > 1 or i > WARMUP_STEPS:
                self.clock.steady_time += now - t_step
                self.clock.steady_samples += out.samples
            t_step = now
            if not math.isfinite(loss):
                raise Diverged(f"non-finite loss {loss} at epoch {epoch} step {i}")
            losses.append(loss)
            self._progress("train", epoch, i, steps, loss)
            self.clock.check_deadline()
        bench.end_epoch(epoch)
        synchronize(device)
        self.clock.epoch_times.append(time.perf_counter() - t0)
        self._epoch_loss = sum(losses) / len(losses) if losses else float("nan")
        log.end(C.EPOCH_STOP, epoch_num=epoch)

    def _evaluate(self, bench: Benchmark, epoch: int, device: torch.device) -> float:
        log = self.log
        self._progress("eval", epoch, 0, None, self._epoch_loss, force=True)
        log.start(C.EVAL_START, epoch_num=epoch)
        t0 = time.perf_counter()
        quality = bench.evaluate()
        synchronize(device)
        self.clock.eval_times.append(time.perf_counter() - t0)
        if self.cls.quality_metric not in quality:
            raise KeyError(f"{self.cls.info.id} evaluate() returned no {self.cls.quality_metric!r}")
        value = float(quality[self.cls.quality_metric])
        log.event(C.EVAL_ACCURACY, value, epoch_num=epoch, metric=self.cls.quality_metric)
        log.end(C.EVAL_STOP, epoch_num=epoch)
        point = {"epoch": epoch, "elapsed_s": self.clock.elapsed(), "train_loss": self._epoch_loss,
                 "quality": {k: float(v) for k, v in quality.items()}}
        self.curve.append(point)
        self.emit({"type": "eval", **point, "metric": self.cls.quality_metric, "value": value})
        return value

    def _result(self, bench: Benchmark, status: str, error: str | None, ttq: float | None,
                epochs_to_quality: int | None, run_time: float, init_time: float, optimizer: dict[str, Any],
                device: torch.device, started_at: str, weights: str | None) -> dict[str, Any]:
        cfg, clock, info = self.cfg, self.clock, self.cls.info
        unavailable: dict[str, str] = {}
        throughput = clock.steady_samples / clock.steady_time if clock.steady_time > 0 else None
        if throughput is None:
            unavailable["throughput_samples_per_s"] = f"no steady-state steps (the first {WARMUP_STEPS} are warm-up)"
        if ttq is None:
            unavailable["time_to_quality_s"] = "target quality not reached"
        cuda_mem = None
        if device.type == "cuda":
            cuda_mem = torch.cuda.max_memory_allocated(device) / 2**20
        else:
            unavailable["cuda_max_allocated_mib"] = "not a CUDA session"
        last = self.curve[-1]["quality"] if self.curve else {}
        values = [p["quality"][self.cls.quality_metric] for p in self.curve]
        best = (max(values) if self.cls.higher_is_better else min(values)) if values else None
        energy = self._energy(unavailable, reached=ttq is not None)
        characterization, efficiency = self._efficiency(bench, throughput, device)
        return {
            "schema_version": RESULT_SCHEMA_VERSION,
            "kind": "training",
            "benchmark": {"id": info.id, "task": info.task, "model": info.model, "dataset": info.dataset,
                          "metric": info.metric, "quality_metric": self.cls.quality_metric,
                          "higher_is_better": self.cls.higher_is_better, "paper_target": info.paper_target},
            "profile": cfg.profile,
            "run_index": cfg.run_index,
            "seed": cfg.seed,
            "status": status,
            "error": error,
            "started_at": started_at,
            "finished_at": datetime.now(timezone.utc).isoformat(),
            "hyperparameters": {
                "batch_size": self.settings.batch_size, "learning_rate": self.settings.learning_rate,
                "max_epochs": self.settings.max_epochs, "eval_interval": self.settings.eval_interval,
                "quasi_entire_epochs": cfg.overrides.epochs, "precision": cfg.overrides.precision,
                "target": self.settings.target, "time_limit_s": self.settings.time_limit_s,
                "optimizer": optimizer, "options": dict(self.settings.options),
            },
            "data": {"root": cfg.data_root, "source": cfg.data_source, "generator": dict(self.settings.data),
                     "train_samples": _safe(bench.train_samples), "eval_samples": _safe(bench.eval_samples)},
            "system": {**describe_system(), "device": str(device)},
            "metrics": {
                "time_to_quality_s": ttq,
                "epochs_to_quality": epochs_to_quality,
                "final_quality": values[-1] if values else None,
                "best_quality": best,
                "final_quality_all": last,
                "throughput_samples_per_s": throughput,
                "epochs_completed": len(clock.epoch_times),
                "time_per_epoch_s": sum(clock.epoch_times) / len(clock.epoch_times) if clock.epoch_times else None,
                "epoch_times_s": clock.epoch_times,
                "eval_time_s": sum(clock.eval_times),
                "eval_count": len(clock.eval_times),
                "prelude_time_s": clock.prelude_time,
                "run_time_s": run_time,
                "init_time_s": init_time,
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "cuda_max_allocated_mib": cuda_mem,
                "energy_to_quality_j": energy.get("to_quality_j"),
                "energy_j": energy.get("run_j"),
                "unavailable": unavailable,
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

    def _efficiency(self, bench: Benchmark, throughput: float | None,
                    device: torch.device) -> tuple[dict[str, Any], dict[str, Any]]:
        """Counted FLOPs at this session's shapes, and achieved FLOP/s against the device's matmul peak."""
        try:
            counts = characterize_model(self.cls, self.settings)
            characterization = {k: counts[k] for k in ("parameters", "forward_flops_per_sample",
                                                       "train_step_flops_per_sample", "sample", "counted_on",
                                                       "counter")}
        except Exception as exc:  # noqa: BLE001 - a missing probe must not cost the session's result
            characterization = {"unavailable": f"FLOPs not counted: {type(exc).__name__}: {exc}"}
        if "unavailable" in characterization:
            return characterization, {"unavailable": characterization["unavailable"]}
        model = getattr(bench, "model", None)
        if isinstance(model, torch.nn.Module):
            # The trained model is at hand: its exact size beats the probe's (which sizes tables from the
            # generator's parameters, before the data's filtering).
            characterization["parameters"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
            characterization["parameters_of"] = "the session's model"
        peaks = _peaks(self.cfg, device)
        efficiency = achieved(characterization.get("train_step_flops_per_sample"), throughput, peaks,
                              self.cfg.overrides.precision)
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
    except Exception:  # noqa: BLE001 - data may not have been read (session failed early)
        return None


def run_session(cfg: SessionConfig, emit: Emit) -> dict[str, Any]:
    """Run one session in this process and write its result.json; returns the result."""
    cfg.path.mkdir(parents=True, exist_ok=True)
    result = Session(cfg, emit).run()
    write_json_atomic(cfg.path / "result.json", result)
    return result
