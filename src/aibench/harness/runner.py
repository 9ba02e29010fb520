"""Runs a plan of sessions, each in its own child process with a wall-clock limit.

A crash, exception, kill or timeout in one session is recorded with its status and error text; the others go on.
Ctrl-C (SIGINT) and SIGTERM (what a batch scheduler sends) stop the running session cleanly (it logs run_stop with
status `aborted`) and keep what finished. A results folder belongs to one run: a second run is refused while the
first holds it, or once it holds results. If the folder stops being writable (disk full), the run stops cleanly
with what it measured.
"""

from __future__ import annotations

import fcntl
import hashlib
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

from aibench.benchmarks.base import AssetSpec, Benchmark, ProfileSettings
from aibench.datasets.embedded import build_once, cache_home, check_layout, ensure_embedded, params_json
from aibench.harness.allocator import AllocatorError, session_environment
from aibench.harness.config import ConfigError, Overrides, SessionConfig, check_device, check_profile, check_seed
from aibench.harness.display import Display
from aibench.harness.distributed import RANK_FAILURE, Launch, torchrun_root_cause
from aibench.harness.mlperf_log import C, SessionLog
from aibench.harness.results import ResultFileError, read_result, write_json_atomic
from aibench.harness.session import curve_metrics, result_header
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
    benchmarks: tuple[str, ...]  # catalog ids, all runnable
    profile: str = "small"
    runs: int = 1
    seed: int = field(default_factory=lambda: secrets.randbelow(2**31))
    out_dir: Path = Path("results")
    data_root: Path | None = None
    device: str = "auto"
    overrides: Overrides = Overrides()
    save_weights: bool = True
    backbone_weights: Path | None = None
    launch: Launch = Launch()  # data-parallel sessions through torchrun (--nproc-per-node, --nnodes, ...)

    def __post_init__(self) -> None:
        check_profile(self.profile)
        if self.runs < 1:
            raise ConfigError(f"--runs must be at least 1, got {self.runs}")
        check_seed(self.seed)
        check_seed(self.seed + self.runs - 1)
        if self.backbone_weights is not None:
            if not self.backbone_weights.is_file():
                raise ConfigError(f"--backbone-weights {self.backbone_weights}: no such file")
            refuse = [b for b in self.benchmarks if get_benchmark(b).backbone is None]
            if refuse:
                raise ConfigError(
                    f"--backbone-weights: {', '.join(refuse)} cannot start from a trained backbone; "
                    "run it separately without --backbone-weights"
                )
        for bench_id in self.benchmarks:  # a --target or a batch that cannot apply is a usage error up front
            settings = self.overrides.apply(get_benchmark(bench_id).profiles[self.profile])
            if self.overrides.sync_batchnorm and not (self.launch.enabled and self.device.startswith("cuda")):
                raise ConfigError(
                    "--sync-batchnorm needs a data-parallel session on GPUs (--nproc-per-node N "
                    "--device cuda): PyTorch's SyncBatchNorm works only on GPUs"
                )
            if settings.batch_size % self.launch.world_size:
                raise ConfigError(
                    f"{bench_id}: the global batch size {settings.batch_size} does not divide among "
                    f"{self.launch.world_size} ranks; pass --batch-size with a multiple of "
                    f"{self.launch.world_size}"
                )
        try:
            session_environment()
        except AllocatorError as exc:
            raise ConfigError(str(exc)) from None
        if self.profile == "full" and self.data_root is None:
            raise ConfigError(
                "the full profile trains on the real datasets: pass --data-root DIR "
                "(see README, 'Real data'); the tiny and small profiles use embedded data"
            )
        check_device(self.device)
        if self.data_root is not None and not self.data_root.is_dir():
            raise ConfigError(f"--data-root {self.data_root} is not a directory")


def default_out_dir(kind: str = "") -> Path:
    """results/[kind-]<UTC time>, with -2, -3 ... when another run took that second's name."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    base = Path("results") / (f"{kind}-{stamp}" if kind else stamp)
    path, n = base, 1
    while path.exists() or path.with_name(path.name + ".json").exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


@dataclass(frozen=True)
class PreparedData:
    root: Path
    source: str  # "embedded" or "user"
    assets: dict[str, str]  # evaluation assets by name


def prepare_data(plan: RunPlan, display: Display) -> dict[str, PreparedData]:
    """Per benchmark: the data root, its source and its evaluation assets. Checks a user's layout, or generates
    embedded data (once, cached); locates or builds assets. All of it off the clock, before any session, so a
    bad root wastes no training (DataLayoutError)."""
    prepared: dict[str, PreparedData] = {}
    for bench_id in plan.benchmarks:
        cls = get_benchmark(bench_id)
        settings = cls.profiles[plan.profile]
        if plan.data_root is not None:
            check_layout(cls.dataset, plan.data_root)
            root, source = plan.data_root, "user"
        else:
            t0 = time.perf_counter()
            root, source = ensure_embedded(cls.dataset, settings.data), "embedded"
            took = time.perf_counter() - t0
            if took > 0.5:
                display.message(f"generated embedded {cls.dataset.name} data for {bench_id} in {took:.1f} s: {root}")
        assets = {a.name: str(prepare_asset(cls, a, settings, root, display)) for a in cls.assets}
        prepared[bench_id] = PreparedData(root, source, assets)
    return prepared


def prepare_asset(
    cls: type[Benchmark], asset: AssetSpec, settings: ProfileSettings, data_root: Path, display: Display
) -> Path:
    """A user's copy under the data root if there is one, else a built one, cached per data set, version and the
    profile's options (a scorer's width or input size is an option; a stale one would score the wrong shapes)."""
    if asset.user_path and (data_root / asset.user_path).exists():
        return data_root / asset.user_path
    key = json.dumps(
        {
            "root": str(data_root.resolve()),
            "data": params_json(settings.data),
            "options": params_json(settings.options),
            "v": asset.version,
        },
        sort_keys=True,
    )
    folder = cache_home() / "assets" / f"{cls.info.id}-{asset.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    if not (folder / ".complete").exists():
        display.message(
            f"building {cls.info.id}'s evaluation asset {asset.name!r} ({asset.description}); off the clock, once"
        )
    return build_once(
        folder,
        lambda tmp: asset.build(tmp, data_root, settings),
        {"benchmark": cls.info.id, "asset": asset.name, "key": key},
    )


class Interrupted(Exception):
    """Ctrl-C or SIGTERM: the plan stopped; results so far are kept. args[0]: the signal's name."""


class Terminated(BaseException):
    """Raised in the main thread by the SIGTERM handler (like KeyboardInterrupt for SIGINT)."""


class ResultsUnwritable(Exception):
    """The results folder cannot take a session's files (disk full, permissions): the plan stops cleanly."""


def raise_on_sigterm() -> None:
    """Make SIGTERM interrupt the main thread like Ctrl-C does (see `Terminated`)."""

    def handler(signum: int, frame: Any) -> None:
        raise Terminated("SIGTERM")

    signal.signal(signal.SIGTERM, handler)


LOCK_NAME = ".aibench-run.lock"


class ResultsFolder:
    """A results folder claimed by one run: created, checked writable, and locked (flock) for the run's life.

    Refused (ConfigError, exit 2) when another run holds its lock, when it already holds sessions of an
    earlier run (a later run never overwrites them), or when it cannot be written (a file in the way, /proc).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.mkdir(parents=True, exist_ok=True)
            self._lock = open(path / LOCK_NAME, "a+")
        except OSError as exc:
            raise ConfigError(
                f"--out {path}: cannot create a results folder there ({exc.strerror or exc}); choose another folder"
            ) from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise ConfigError(
                f"--out {path}: another `aibench run` is writing its results there; give this run "
                "its own folder (the default is a new results/<time>)"
            ) from None
        earlier = sorted(path.glob("*/run-*/result.json")) + sorted(path.glob("*/run-*/mllog.txt"))
        if earlier:
            self.close()
            raise ConfigError(
                f"--out {path} already holds the results of an earlier run ({earlier[0]} ...); a run "
                "never overwrites another's sessions: give a new folder (the default is a new "
                "results/<time>)"
            )

    def close(self) -> None:
        self._lock.close()
        (self.path / LOCK_NAME).unlink(missing_ok=True)


def _session_configs(plan: RunPlan, prepared: dict[str, PreparedData]) -> list[SessionConfig]:
    configs = []
    for bench_id in plan.benchmarks:
        data = prepared[bench_id]
        for run_index in range(1, plan.runs + 1):
            configs.append(
                SessionConfig(
                    benchmark=bench_id,
                    profile=plan.profile,
                    seed=plan.seed + run_index - 1,
                    run_index=run_index,
                    session_dir=str(plan.out_dir / bench_id / f"run-{run_index}"),
                    data_root=str(data.root),
                    data_source=data.source,
                    device=plan.device,
                    overrides=plan.overrides,
                    save_weights=plan.save_weights,
                    peak_file=str(plan.out_dir / "peak_flops.json"),
                    assets=data.assets,
                    backbone_weights=str(plan.backbone_weights.resolve()) if plan.backbone_weights else None,
                    launch=plan.launch.to_json() if plan.launch.enabled else None,
                )
            )
    return configs


def run_plan(
    plan: RunPlan, display: Display, on_result: Callable[[dict[str, Any]], None] = lambda r: None
) -> list[dict[str, Any]]:
    prepared = prepare_data(plan, display)
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    for cfg in _session_configs(plan, prepared):
        label = f"{cfg.benchmark} run {cfg.run_index}/{plan.runs} seed {cfg.seed}"
        try:
            result, interrupted = run_isolated(cfg, display, label)
        except ResultsUnwritable as exc:
            results.append(exc.args[0])
            on_result(exc.args[0])
            raise
        results.append(result)
        on_result(result)
        if interrupted:
            raise Interrupted(interrupted)
    return results


def serve_plan(plan: RunPlan, display: Display) -> list[int]:
    """A node other than node 0 of a multi-node run: start this node's ranks of every session, in the same order
    as node 0, and wait for them; node 0's rank 0 writes the results. Returns torchrun's exit codes."""
    prepared = prepare_data(plan, display)
    codes = []
    for cfg in _session_configs(plan, prepared):
        display.message(f"node {plan.launch.node_rank}: ranks of {cfg.benchmark} run {cfg.run_index} (seed {cfg.seed})")
        cfg.path.mkdir(parents=True, exist_ok=True)
        config_path = cfg.path / "session.json"
        config_path.write_text(cfg.to_json())
        with open(cfg.path / f"node-{plan.launch.node_rank}.log", "w", encoding="utf-8") as log:
            proc = subprocess.Popen(
                plan.launch.torchrun_command([str(config_path)], _run_id(cfg)),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**session_environment(), "AIBENCH_PARENT_PID": str(os.getpid())},
            )
            try:
                codes.append(proc.wait())
            except (KeyboardInterrupt, Terminated) as exc:
                _interrupt(proc, signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
                raise Interrupted("SIGTERM" if isinstance(exc, Terminated) else "SIGINT") from None
    return codes


def _run_id(cfg: SessionConfig) -> str:
    """The rendezvous id of a session: the same on every node (hence the seed must be given, not drawn)."""
    return f"aibench-{cfg.benchmark}-{cfg.run_index}-{cfg.seed}"


def run_isolated(cfg: SessionConfig, display: Display, label: str) -> tuple[dict[str, Any], str | None]:
    """Run one session in a child process. Returns its result and the signal that interrupted it, if any.

    Raises ResultsUnwritable when the session's folder cannot be written (its result then exists in memory only).
    """
    settings = cfg.overrides.apply(get_benchmark(cfg.benchmark).profiles[cfg.profile])
    run_limit = settings.time_limit_s + KILL_GRACE_S
    display.session_started(label)
    config_path = cfg.path / "session.json"
    try:
        cfg.path.mkdir(parents=True, exist_ok=True)
        config_path.write_text(cfg.to_json())
        errfile = open(cfg.path / "stderr.log", "w", encoding="utf-8")
    except OSError as exc:
        failed = _synthesized_result(cfg, settings, "error", f"cannot write the session's files: {exc}", [], 0)
        display.session_finished(failed)
        raise ResultsUnwritable(failed) from exc

    launch = Launch(**cfg.launch) if cfg.launch else None
    command = (
        [sys.executable, "-m", "aibench.harness.worker", str(config_path)]
        if launch is None
        else launch.torchrun_command([str(config_path)], run_id=_run_id(cfg))
    )
    for stale in cfg.path.glob(RANK_FAILURE.format(rank="*")):
        stale.unlink()
    events: queue.Queue[str | None] = queue.Queue()
    with errfile:
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=errfile,
            text=True,
            start_new_session=True,
            env={**session_environment(), "AIBENCH_PARENT_PID": str(os.getpid())},
        )
        threading.Thread(target=_pump, args=(proc.stdout, events), daemon=True).start()
        deadline = time.monotonic() + INIT_LIMIT_S
        seen: list[dict[str, Any]] = []
        epochs_done = 0
        killed_for_time = False
        interrupted: str | None = None
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
                elif event.get("type") == "epoch":
                    epochs_done = int(event["epoch"])
                display.event(event)
        except (KeyboardInterrupt, Terminated) as exc:
            interrupted = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
            _interrupt(proc, signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT)
        proc.wait()

    result = _read_result(cfg)
    if launch is not None and not interrupted:
        result = _group_outcome(cfg, settings, result, proc.returncode, seen, epochs_done)
    if result is None:
        if interrupted:
            status, error = "aborted", f"interrupted ({interrupted}) before the session could record its result"
        elif killed_for_time:
            status, error = (
                "timeout",
                (
                    f"killed: still running {KILL_GRACE_S:g} s past its time limit "
                    f"({settings.time_limit_s:g} s from run_start)"
                ),
            )
        else:
            status, error = "crashed", _crash_text(proc.returncode, cfg.path / "stderr.log")
        result = _synthesized_result(cfg, settings, status, error, seen, epochs_done)
        try:
            _close_log(cfg.path / "mllog.txt", status)
            write_json_atomic(cfg.path / "result.json", result)
        except OSError as exc:
            display.session_finished(result)
            raise ResultsUnwritable(result) from exc
    display.session_finished(result)
    return result, interrupted


def _group_outcome(
    cfg: SessionConfig,
    settings: ProfileSettings,
    result: dict[str, Any] | None,
    returncode: int | None,
    seen: list[dict[str, Any]],
    epochs_done: int,
) -> dict[str, Any] | None:
    """A data-parallel session's status: rank 0's result, unless another rank ended the session.

    A rank that failed on its own (exception, divergence, time limit) left rank-<r>.failure.json; one that was
    killed left nothing, and torchrun's failure report names it. Either way the other ranks were stopped, so
    rank 0's `aborted` is replaced by what really ended the session, with the failing rank named.
    """
    failures = []
    for path in sorted(cfg.path.glob(RANK_FAILURE.format(rank="*"))):
        try:
            failures.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    if returncode == 0 and not failures:
        return result
    cause = torchrun_root_cause(_tail(cfg.path / "stderr.log", 20_000))
    if failures:
        first = failures[0]
        status, error = first["status"], f"rank {first['rank']}: {first['error']}"
    elif cause and not cause.startswith("rank 0 "):
        # a rank died without a word (killed): what rank 0 saw (a lost connection, SIGTERM) is the consequence
        seen_by_0 = f" (rank 0: {result['error'].splitlines()[0]})" if result and result.get("error") else ""
        status, error = "crashed", f"{cause}; the other ranks were stopped{seen_by_0}"
    elif result is not None and result["status"] not in ("aborted", "crashed"):
        return result  # rank 0 itself ended the session (its result says how); the others were stopped
    else:
        status, error = "crashed", f"{cause or f'torchrun exited with {returncode}'}; the other ranks were stopped"
    _close_log(cfg.path / "mllog.txt", status)
    if result is None:
        return _synthesized_result(cfg, settings, status, error, seen, epochs_done)
    result.update(status=status, error=error)
    write_json_atomic(cfg.path / "result.json", result)
    return result


def _tail(path: Path, size: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _pump(stream: Any, events: queue.Queue[str | None]) -> None:
    for line in stream:
        events.put(line)
    events.put(None)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _interrupt(proc: subprocess.Popen, signum: int) -> None:
    """Ask the child to stop (it records `aborted`), then kill it if it does not."""
    try:
        os.killpg(proc.pid, signum)
        proc.wait(timeout=INTERRUPT_GRACE_S)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        _kill(proc)


def _read_result(cfg: SessionConfig) -> dict[str, Any] | None:
    """The result the session wrote, if it wrote a valid one."""
    try:
        return read_result(cfg.path / "result.json")
    except ResultFileError:
        return None


def _crash_text(returncode: int | None, stderr_path: Path) -> str:
    how = (
        f"killed by signal {signal.Signals(-returncode).name}"
        if returncode and returncode < 0
        else f"exited with code {returncode}"
    )
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


def _synthesized_result(
    cfg: SessionConfig,
    settings: ProfileSettings,
    status: str,
    error: str,
    evals: list[dict[str, Any]],
    epochs_done: int,
) -> dict[str, Any]:
    """What the parent knows of a session that died without writing its own result: its configuration, and the
    epochs and evaluations it reported before dying."""
    cls = get_benchmark(cfg.benchmark)
    curve = [{k: e.get(k) for k in ("epoch", "elapsed_s", "train_loss", "train_losses", "quality")} for e in evals]
    return {
        **result_header(cls, cfg, settings, status, error),
        "started_at": None,
        "finished_at": datetime.now(timezone.utc).isoformat(),
        "system": {**describe_system(), "device": cfg.device},
        "metrics": {
            "time_to_quality_s": None,
            "epochs_to_quality": None,
            **curve_metrics(cls, curve),
            "throughput_samples_per_s": None,
            "epochs_completed": max([epochs_done, *(int(e["epoch"]) for e in evals)]),
            "time_per_epoch_s": None,
            "eval_time_s": None,
            "run_time_s": None,
            "peak_rss_mib": None,
            "unavailable": {"all": f"the session ended as {status} before reporting its measurements"},
        },
        "curve": curve,
        "files": {"mllog": "mllog.txt", "stderr": "stderr.log"},
    }


__all__ = ["RunPlan", "run_plan", "run_isolated", "prepare_data", "Interrupted", "default_out_dir", "PreparedData"]
