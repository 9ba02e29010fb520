"""Runs a plan of sessions, each in its own child process with a wall-clock limit.

A crash, exception, kill or timeout in one session is recorded with its status and error text; the others go on.
Ctrl-C stops the running session cleanly (it logs run_stop with status `aborted`) and keeps what finished.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aibench.datasets.embedded import check_layout, ensure_embedded
from aibench.harness.config import ConfigError, Overrides, SessionConfig, check_device, check_profile
from aibench.harness.display import Display
from aibench.harness.mlperf_log import C, SessionLog
from aibench.harness.results import RESULT_SCHEMA_VERSION, write_json_atomic
from aibench.harness.system import describe_system
from aibench.registry import get_benchmark

# Beyond its own time limit (counted from run_start) a session gets this long to stop by itself before it is
# killed; before run_start (imports, model build) it gets INIT_LIMIT_S.
KILL_GRACE_S = 120.0
INIT_LIMIT_S = 900.0
# After Ctrl-C a session gets this long to write its `aborted` result.
INTERRUPT_GRACE_S = 30.0


@dataclass(frozen=True)
class RunPlan:
    benchmarks: tuple[str, ...]        # catalog ids, all runnable
    profile: str = "small"
    runs: int = 1
    seed: int = field(default_factory=lambda: secrets.randbelow(2**31))
    out_dir: Path = Path("results")
    data_root: Path | None = None
    device: str = "auto"
    overrides: Overrides = Overrides()
    save_weights: bool = True

    def __post_init__(self) -> None:
        check_profile(self.profile)
        if self.runs < 1:
            raise ConfigError(f"--runs must be at least 1, got {self.runs}")
        if self.profile == "full" and self.data_root is None:
            raise ConfigError("the full profile trains on the real datasets: pass --data-root DIR "
                              "(see README, 'Real data'); the tiny and small profiles use embedded data")
        check_device(self.device)
        if self.data_root is not None and not self.data_root.is_dir():
            raise ConfigError(f"--data-root {self.data_root} is not a directory")


def default_out_dir() -> Path:
    return Path("results") / datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def prepare_data(plan: RunPlan, display: Display) -> dict[str, tuple[Path, str]]:
    """Per benchmark: the data root and its source. Checks a user's layout, or generates embedded data
    (once, cached). Raises DataLayoutError before any session starts, so a bad root wastes no training."""
    roots: dict[str, tuple[Path, str]] = {}
    for bench_id in plan.benchmarks:
        cls = get_benchmark(bench_id)
        if plan.data_root is not None:
            check_layout(cls.dataset, plan.data_root)
            roots[bench_id] = (plan.data_root, "user")
        else:
            params = cls.profiles[plan.profile].data
            t0 = time.perf_counter()
            root = ensure_embedded(cls.dataset, params)
            took = time.perf_counter() - t0
            if took > 0.5:
                display.message(f"generated embedded {cls.dataset.name} data for {bench_id} in {took:.1f} s: {root}")
            roots[bench_id] = (root, "embedded")
    return roots


class Interrupted(Exception):
    """Ctrl-C: the plan stopped; results so far are kept."""


def run_plan(plan: RunPlan, display: Display,
             on_result: Callable[[dict[str, Any]], None] = lambda r: None) -> list[dict[str, Any]]:
    roots = prepare_data(plan, display)
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    for bench_id in plan.benchmarks:
        root, source = roots[bench_id]
        for run_index in range(1, plan.runs + 1):
            cfg = SessionConfig(
                benchmark=bench_id, profile=plan.profile, seed=plan.seed + run_index - 1, run_index=run_index,
                session_dir=str(plan.out_dir / bench_id / f"run-{run_index}"), data_root=str(root),
                data_source=source, device=plan.device, overrides=plan.overrides, save_weights=plan.save_weights,
                peak_file=str(plan.out_dir / "peak_flops.json"))
            label = f"{bench_id} run {run_index}/{plan.runs} seed {cfg.seed}"
            result, interrupted = run_isolated(cfg, display, label)
            results.append(result)
            on_result(result)
            if interrupted:
                raise Interrupted(results)
    return results


def run_isolated(cfg: SessionConfig, display: Display, label: str) -> tuple[dict[str, Any], bool]:
    """Run one session in a child process. Returns its result and whether the user interrupted it."""
    cfg.path.mkdir(parents=True, exist_ok=True)
    (cfg.path / "result.json").unlink(missing_ok=True)
    config_path = cfg.path / "session.json"
    config_path.write_text(cfg.to_json())
    settings = cfg.overrides.apply(get_benchmark(cfg.benchmark).profiles[cfg.profile])
    run_limit = settings.time_limit_s + KILL_GRACE_S

    display.session_started(label)
    events: queue.Queue[str | None] = queue.Queue()
    with open(cfg.path / "stderr.log", "w", encoding="utf-8") as errfile:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aibench.harness.worker", str(config_path)],
            stdout=subprocess.PIPE, stderr=errfile, text=True, start_new_session=True,
        )
        threading.Thread(target=_pump, args=(proc.stdout, events), daemon=True).start()
        deadline = time.monotonic() + INIT_LIMIT_S
        seen: list[dict[str, Any]] = []
        killed_for_time = interrupted = False
        try:
            while True:
                try:
                    line = events.get(timeout=0.5)
                except queue.Empty:
                    if time.monotonic() > deadline:
                        _kill(proc)
                        killed_for_time = True
                        break
                    continue
                if line is None:
                    break
                try:
                    event = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if event.get("type") == "run_start":
                    deadline = time.monotonic() + run_limit
                elif event.get("type") == "eval":
                    seen.append(event)
                display.event(event)
        except KeyboardInterrupt:
            interrupted = True
            _interrupt(proc)
        proc.wait()

    result = _read_result(cfg)
    if result is None:
        if interrupted:
            status, error = "aborted", "interrupted (SIGINT) before the session could record its result"
        elif killed_for_time:
            status, error = "timeout", (f"killed: still running {KILL_GRACE_S:g} s past its time limit "
                                       f"({settings.time_limit_s:g} s from run_start)")
        else:
            status, error = "crashed", _crash_text(proc.returncode, cfg.path / "stderr.log")
        result = _synthesized_result(cfg, settings, status, error, seen)
        _close_log(cfg.path / "mllog.txt", status)
        write_json_atomic(cfg.path / "result.json", result)
    display.session_finished(result)
    return result, interrupted


def _pump(stream: Any, events: "queue.Queue[str | None]") -> None:
    for line in stream:
        events.put(line)
    events.put(None)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _interrupt(proc: subprocess.Popen) -> None:
    """Ask the child to stop (it records `aborted`), then kill it if it does not."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=INTERRUPT_GRACE_S)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        _kill(proc)


def _read_result(cfg: SessionConfig) -> dict[str, Any] | None:
    path = cfg.path / "result.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _crash_text(returncode: int | None, stderr_path: Path) -> str:
    how = (f"killed by signal {signal.Signals(-returncode).name}" if returncode and returncode < 0
           else f"exited with code {returncode}")
    try:
        tail = stderr_path.read_text(errors="replace").strip().splitlines()[-15:]
    except OSError:
        tail = []
    return f"session process {how} without writing a result" + ("\n" + "\n".join(tail) if tail else "")


def _close_log(path: Path, status: str) -> None:
    """A killed session never logged run_stop; record how it ended so the log says what happened."""
    try:
        text = path.read_text()
    except OSError:
        return
    if '"key": "run_start"' in text and '"key": "run_stop"' not in text:
        log = SessionLog(path, mode="a")
        log.end(C.RUN_STOP, status="error" if status == "crashed" else status)
        log.close()


def _synthesized_result(cfg: SessionConfig, settings: Any, status: str, error: str,
                        evals: list[dict[str, Any]]) -> dict[str, Any]:
    """What the parent knows of a session that died without writing its own result."""
    cls = get_benchmark(cfg.benchmark)
    info = cls.info
    curve = [{k: e[k] for k in ("epoch", "elapsed_s", "train_loss", "quality")} for e in evals]
    values = [e["value"] for e in evals]
    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "kind": "training",
        "benchmark": {"id": info.id, "task": info.task, "model": info.model, "dataset": info.dataset,
                      "metric": info.metric, "quality_metric": cls.quality_metric,
                      "higher_is_better": cls.higher_is_better, "paper_target": info.paper_target},
        "profile": cfg.profile, "run_index": cfg.run_index, "seed": cfg.seed,
        "status": status, "error": error, "started_at": None,
        "finished_at": datetime.now(timezone.utc).isoformat(),
        "hyperparameters": {"batch_size": settings.batch_size, "learning_rate": settings.learning_rate,
                            "max_epochs": settings.max_epochs, "eval_interval": settings.eval_interval,
                            "quasi_entire_epochs": cfg.overrides.epochs, "precision": cfg.overrides.precision,
                            "target": settings.target, "time_limit_s": settings.time_limit_s},
        "data": {"root": cfg.data_root, "source": cfg.data_source},
        "system": {**describe_system(), "device": cfg.device},
        "metrics": {
            "time_to_quality_s": None, "epochs_to_quality": None,
            "final_quality": values[-1] if values else None, "best_quality": None,
            "throughput_samples_per_s": None, "epochs_completed": evals[-1]["epoch"] if evals else 0, "time_per_epoch_s": None,
            "eval_time_s": None, "run_time_s": None, "peak_rss_mib": None,
            "unavailable": {"all": f"the session ended as {status} before reporting its measurements"},
        },
        "curve": curve,
        "files": {"mllog": "mllog.txt", "stderr": "stderr.log"},
    }


__all__ = ["RunPlan", "run_plan", "run_isolated", "prepare_data", "Interrupted", "default_out_dir"]
