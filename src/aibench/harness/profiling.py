"""`aibench profile`: operator hotspots and the runtime breakdown of training steps (paper, section 5.5).

One benchmark, in this process, on its real data and model:

    seed -> build() -> load_data() -> prelude() (optional) -> steps from train_batches(1), 2, ...:
      1. warm-up steps, untimed
      2. timed steps, split into data loading / forward / backward / optimizer / other
      3. profiled steps under torch.profiler -> top operators, operator classes, (CUDA) kernels, a Chrome trace
    -> one evaluate(), timed, beside an estimated training epoch

How a step is split without changing the benchmarks (their train_step is one method):

- data loading: the time `next()` takes on the batch iterator;
- forward: from the start of train_step to the first backward call (or the optimizer step if there is none):
  `torch.autograd.backward`, which `Tensor.backward` calls, is wrapped for the duration of the timed steps;
  anything a benchmark does between its forward pass and `loss.backward()` (zero_grad) counts as forward;
- backward: inside the wrapped `torch.autograd.backward` calls;
- optimizer: between torch.optim's global step pre- and post-hooks (`register_optimizer_step_pre_hook`);
- other: the rest of train_step plus reading the loss (`.item()`, as a session does): learning-rate setting,
  gradient clipping, the optimizer's own dispatch.
On CUDA every boundary synchronizes the device (in the timed steps only), so GPU work lands in its phase.
The profiled steps are separate from the timed ones: the profiler's overhead does not touch the breakdown.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import time
from collections.abc import Callable, Iterator, Sized
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from aibench.benchmarks.base import MEMORY_FORMATS, Benchmark, BenchmarkContext
from aibench.harness.config import ConfigError, check_device, check_precision, check_profile, threads_from_env
from aibench.harness.devices import resolve_device, synchronize
from aibench.harness.operator_classes import (
    CLASS_HELP,
    aggregate_classes,
    attribute,
    classify_kernel,
    classify_op,
    top_operators,
)
from aibench.harness.results import RESULT_SCHEMA_VERSION
from aibench.harness.session import seed_everything
from aibench.registry import get_benchmark

Emit = Callable[[str], None]
PHASES = ("data", "forward", "backward", "optimizer", "other")
PHASE_LABELS = {
    "data": "data loading",
    "forward": "forward",
    "backward": "backward",
    "optimizer": "optimizer step",
    "other": "other (zero_grad, lr, clipping, .item())",
}
TRACE_NAME = "trace.json"
PRELUDE_PROGRESS_S = 5.0


class ProfileError(RuntimeError):
    """A profile that cannot run as asked (e.g. a benchmark that needs its prelude, which was skipped)."""


@dataclass
class ProfileConfig:
    benchmark: str  # id, short id or slug
    data_root: Path  # prepared: embedded data generated, or a checked --data-root
    out_dir: Path  # trace.json is written here
    profile: str = "small"
    device: str = "auto"
    precision: str = "fp32"
    memory_format: str = "contiguous"
    seed: int = 0
    warmup_steps: int = 3
    profiled_steps: int = 5
    timed_steps: int = 10
    run_prelude: bool = True
    evaluate: bool = True
    top: int = 15
    threads: int | None = None  # torch threads; None: $AIBENCH_THREADS if set, else torch's choice
    assets: dict[str, Path] | None = None  # evaluation assets, built off the clock by the caller

    def __post_init__(self) -> None:
        self.data_root, self.out_dir = Path(self.data_root), Path(self.out_dir)
        check_profile(self.profile)
        check_precision(self.precision)
        check_device(self.device)
        if self.memory_format not in MEMORY_FORMATS:
            raise ConfigError(f"--memory-format must be one of {', '.join(MEMORY_FORMATS)}, got {self.memory_format!r}")
        if self.warmup_steps < 0:
            raise ConfigError(f"--warmup must be 0 or more, got {self.warmup_steps}")
        for name in ("timed_steps", "profiled_steps", "top"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be at least 1, got {getattr(self, name)}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be at least 1, got {self.threads}")


# -- helpers ------------------------------------------------------------------------------------------------------


def _has_prelude(bench: Benchmark) -> bool:
    return type(bench).prelude is not Benchmark.prelude


class _BatchStream:
    """Batches of epoch 1, then 2, 3 ... (calling end_epoch between epochs, as a session does)."""

    def __init__(self, bench: Benchmark) -> None:
        self.bench = bench
        self.epoch = 1
        self._it: Iterator[Any] | None = None

    def _open(self) -> None:
        self._it = iter(self.bench.train_batches(self.epoch))

    def next(self) -> Any:
        if self._it is None:
            self._open()
        try:
            return next(self._it)  # type: ignore[arg-type]
        except StopIteration:
            pass
        self.bench.end_epoch(self.epoch)
        self.epoch += 1
        self._open()
        try:
            return next(self._it)  # type: ignore[arg-type]
        except StopIteration:
            raise ProfileError(f"epoch {self.epoch} of {self.bench.info.id} has no training batches") from None


class _PhaseTimer:
    """Splits train_step into forward / backward / optimizer from outside (see the module docstring)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.active = False
        self._orig_backward: Callable[..., Any] | None = None
        self._handles: list[Any] = []
        self._bwd_depth = self._opt_depth = 0
        self.reset()

    def reset(self) -> None:
        self.first_boundary: float | None = None
        self.backward = self.optimizer = 0.0
        self._opt_t0 = 0.0

    def _mark(self) -> float:
        synchronize(self.device)
        return time.perf_counter()

    def install(self) -> None:
        orig = torch.autograd.backward
        self._orig_backward = orig

        @functools.wraps(orig)
        def timed_backward(*args: Any, **kwargs: Any) -> Any:
            if not self.active or self._bwd_depth:
                return orig(*args, **kwargs)
            t0 = self._mark()
            if self.first_boundary is None:
                self.first_boundary = t0
            self._bwd_depth += 1
            try:
                return orig(*args, **kwargs)
            finally:
                self._bwd_depth -= 1
                self.backward += self._mark() - t0

        def pre_hook(optimizer: Any, args: Any, kwargs: Any) -> None:
            if self.active and self._opt_depth == 0:
                self._opt_t0 = self._mark()
                if self.first_boundary is None:
                    self.first_boundary = self._opt_t0
            self._opt_depth += 1

        def post_hook(optimizer: Any, args: Any, kwargs: Any) -> None:
            self._opt_depth = max(self._opt_depth - 1, 0)
            if self.active and self._opt_depth == 0:
                self.optimizer += self._mark() - self._opt_t0

        self._handles = [register_optimizer_step_pre_hook(pre_hook), register_optimizer_step_post_hook(post_hook)]
        torch.autograd.backward = timed_backward

    def uninstall(self) -> None:
        self.active = False
        if self._orig_backward is not None:
            torch.autograd.backward = self._orig_backward
            self._orig_backward = None
        for handle in self._handles:
            handle.remove()
        self._handles = []


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    if threads is None:
        threads = threads_from_env()
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if threads is not None:
            torch.set_num_threads(before)


# -- the run ------------------------------------------------------------------------------------------------------


def run_profile(
    cfg: ProfileConfig, emit: Emit | None = None, counters: Callable[[], AbstractContextManager] | None = None
) -> dict[str, Any]:
    """Profile cfg.benchmark's training steps; writes cfg.out_dir/trace.json and returns the result dict.

    `counters`, if given, makes a context manager (e.g. a hardware-counter reader) that wraps the timed steps;
    its `.result` after exit goes to result["counters"].
    Raises ProfileError when the benchmark cannot train without the prelude that cfg.run_prelude skips.
    """
    say: Emit = emit or (lambda text: None)
    os.environ.setdefault("KINETO_LOG_LEVEL", "5")  # kineto's own log lines would clutter the output
    cls = get_benchmark(cfg.benchmark)
    settings = cls.profiles[cfg.profile]
    device = resolve_device(cfg.device)
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    with _torch_threads(cfg.threads):
        return _run(cfg, cls, settings, device, say, counters)


def _run(
    cfg: ProfileConfig,
    cls: type[Benchmark],
    settings: Any,
    device: torch.device,
    say: Emit,
    counters: Callable[[], AbstractContextManager] | None,
) -> dict[str, Any]:
    info = cls.info
    unavailable: dict[str, str] = {}
    seed_everything(cfg.seed)
    ctx = BenchmarkContext(
        profile=cfg.profile,
        settings=settings,
        data_root=cfg.data_root,
        device=device,
        precision=cfg.precision,
        seed=cfg.seed,
        memory_format=cfg.memory_format,
        assets=cfg.assets or {},
    )
    if cls.requires_prelude and not cfg.run_prelude:
        raise ProfileError(
            f"{info.id} cannot train without its prelude (it distils a model the prelude trains); "
            "run the profile without --skip-prelude"
        )
    bench = cls(ctx)
    say(f"{info.id}: building the model")
    bench.build()
    say(f"{info.id}: reading the data")
    t0 = time.perf_counter()
    bench.load_data()
    load_s = time.perf_counter() - t0

    prelude = _prelude(bench, cfg, device, say)

    stream = _BatchStream(bench)
    # 1. warm-up
    if cfg.warmup_steps:
        say(f"{info.id}: {cfg.warmup_steps} warm-up step(s)")
    for _ in range(cfg.warmup_steps):
        bench.train_step(stream.next()).losses()
    # 2. timed steps with the phase breakdown (and the optional counters around them)
    say(f"{info.id}: {cfg.timed_steps} timed step(s)")
    breakdown, counters_result = _timed_steps(bench, stream, cfg.timed_steps, device, counters)
    # 3. profiled steps
    say(f"{info.id}: {cfg.profiled_steps} profiled step(s) under torch.profiler")
    prof, profiled_wall_s = _profiled_steps(bench, stream, cfg.profiled_steps, device)

    trace_path = cfg.out_dir / TRACE_NAME
    prof.export_chrome_trace(str(trace_path))
    hot = _analyse(prof, device, cfg.top, cfg.profiled_steps)
    if hot["kernels"] is None:
        unavailable["kernels"] = f"device kernels are profiled on CUDA only; this profile ran on {device.type}"
    last_epoch = stream.epoch

    # 4. evaluation beside an estimated training epoch
    steps_per_epoch, spe_source = _steps_per_epoch(bench, settings.batch_size)
    step_s = breakdown["per_step_ms"]["total"] / 1000.0
    train_s = steps_per_epoch * step_s if steps_per_epoch is not None else None
    eval_s = None
    if cfg.evaluate:
        say(f"{info.id}: one evaluation")
        synchronize(device)
        t0 = time.perf_counter()
        bench.evaluate()
        synchronize(device)
        eval_s = time.perf_counter() - t0
    else:
        unavailable["eval_s"] = "evaluation not requested (--no-eval)"
    if train_s is None:
        unavailable["train_s_estimated"] = "the number of steps per epoch is unknown"
    epoch = {
        "train_s_estimated": train_s,
        "eval_s": eval_s,
        "eval_share": eval_s / (train_s + eval_s)
        if train_s is not None and eval_s is not None and train_s + eval_s > 0
        else None,
        "steps_per_epoch": steps_per_epoch,
        "steps_per_epoch_source": spe_source,
        "eval_interval": settings.eval_interval,
        "note": "train_s_estimated = steps per epoch x mean timed step (data loading included), estimated from "
        "the timed steps, not a measured epoch; eval_share = evaluation / (estimated epoch + one "
        f"evaluation); sessions evaluate every {settings.eval_interval} epoch(s)",
    }

    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "kind": "profile",
        "benchmark": {"id": info.id, "task": info.task, "model": info.model},
        "profile": cfg.profile,
        "device": str(device),
        "precision": cfg.precision,
        "threads": torch.get_num_threads(),
        "seed": cfg.seed,
        "batch_size": settings.batch_size,
        "steps": {
            "warmup": cfg.warmup_steps,
            "timed": cfg.timed_steps,
            "profiled": cfg.profiled_steps,
            "last_epoch": last_epoch,
        },
        "load_data_s": load_s,
        "prelude": prelude,
        "breakdown": breakdown,
        "epoch": epoch,
        "top_operators": hot["top_operators"],
        "operator_classes": hot["operator_classes"],
        "kernels": hot["kernels"],
        "kernel_classes": hot["kernel_classes"],
        "profiler": {
            "wall_s": profiled_wall_s,
            "cpu_self_s": hot["cpu_total_s"],
            "device_self_s": hot["device_total_s"],
            "note": "self times are summed over the profiled steps; shares are of the total self time "
            "of all events (CPU) or of all kernels (device)",
        },
        "counters": counters_result,
        "trace": TRACE_NAME,
        "out_dir": str(cfg.out_dir),
        "unavailable": unavailable,
    }


def _prelude(bench: Benchmark, cfg: ProfileConfig, device: torch.device, say: Emit) -> dict[str, Any]:
    bench_id = bench.info.id
    if not _has_prelude(bench):
        return {"ran": False, "time_s": None, "steps": 0, "note": "this benchmark has no prelude"}
    if not cfg.run_prelude:
        return {
            "ran": False,
            "time_s": None,
            "steps": 0,
            "note": "prelude skipped (--skip-prelude): the measured model's per-step cost is the same, but "
            "whatever the prelude trains (e.g. a teacher model) is untrained",
        }
    say(f"{bench_id}: running the prelude (on the clock in a session; untimed here except for its total)")
    t0 = last = time.perf_counter()
    steps = 0
    for out in bench.prelude():
        steps += 1
        loss = sum(out.losses().values())
        now = time.perf_counter()
        if now - last >= PRELUDE_PROGRESS_S:
            last = now
            say(f"{bench_id}: prelude step {steps}, loss {loss:.4f}, {now - t0:.0f} s")
    synchronize(device)
    took = time.perf_counter() - t0
    say(f"{bench_id}: prelude done, {steps} step(s) in {took:.1f} s")
    return {"ran": True, "time_s": took, "steps": steps, "note": None}


def _timed_steps(
    bench: Benchmark,
    stream: _BatchStream,
    n: int,
    device: torch.device,
    counters: Callable[[], AbstractContextManager] | None,
) -> tuple[dict[str, Any], Any]:
    timer = _PhaseTimer(device)
    sums = dict.fromkeys(PHASES, 0.0)
    totals: list[float] = []
    samples = 0
    losses: list[float] = []
    counter_cm: Any = None
    counters_result: Any = {"unavailable": "not requested"}
    with contextlib.ExitStack() as stack:
        if counters is not None:
            try:
                counter_cm = counters()
                stack.enter_context(counter_cm)
            except Exception as exc:
                counter_cm = None
                counters_result = {"unavailable": f"counters failed to start: {type(exc).__name__}: {exc}"}
        try:
            timer.install()
            for _ in range(n):
                t0 = time.perf_counter()
                batch = stream.next()
                synchronize(device)
                t1 = time.perf_counter()
                timer.reset()
                timer.active = True
                out = bench.train_step(batch)
                losses.append(sum(out.losses().values()))
                synchronize(device)
                t2 = time.perf_counter()
                timer.active = False
                fwd = (timer.first_boundary if timer.first_boundary is not None else t2) - t1
                step = t2 - t1
                sums["data"] += t1 - t0
                sums["forward"] += fwd
                sums["backward"] += timer.backward
                sums["optimizer"] += timer.optimizer
                sums["other"] += max(step - fwd - timer.backward - timer.optimizer, 0.0)
                totals.append(t2 - t0)
                samples += int(out.samples)
        finally:
            timer.uninstall()
    if counter_cm is not None:
        counters_result = getattr(counter_cm, "result", None)
        if counters_result is None:
            counters_result = {"unavailable": "the counters reported no result"}
    total = sum(totals)
    per_step = {k: 1000.0 * v / n for k, v in sums.items()}
    per_step["total"] = 1000.0 * total / n
    ordered = sorted(totals)
    finite = [x for x in losses if math.isfinite(x)]
    breakdown = {
        "per_step_ms": per_step,
        "share": {k: (v / total if total > 0 else 0.0) for k, v in sums.items()},
        "samples_per_s": samples / total if total > 0 else None,
        "step_ms_median": 1000.0 * ordered[len(ordered) // 2],
        "step_ms_min": 1000.0 * ordered[0],
        "samples": samples,
        "mean_loss": sum(finite) / len(finite) if finite else None,
        "nonfinite_losses": len(losses) - len(finite),
        "note": "forward = start of train_step to the first backward (or optimizer) call; backward = inside "
        "torch.autograd.backward; optimizer = Optimizer.step; other = the rest of train_step and "
        "reading the loss" + ("; the device is synchronized at each boundary" if device.type == "cuda" else ""),
    }
    return breakdown, counters_result


def _profiled_steps(bench: Benchmark, stream: _BatchStream, n: int, device: torch.device) -> tuple[Any, float]:
    from torch.profiler import ProfilerActivity, profile, record_function

    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    synchronize(device)
    t0 = time.perf_counter()
    with profile(activities=activities, record_shapes=False, with_stack=False) as prof:
        for i in range(1, n + 1):
            with record_function(f"aibench.step#{i}"):
                with record_function("aibench.data"):
                    batch = stream.next()
                with record_function("aibench.train_step"):
                    bench.train_step(batch).losses()
        synchronize(device)
    return prof, time.perf_counter() - t0


def _chain(evt: Any) -> list[str]:
    names = []
    while evt is not None:
        names.append(evt.name)
        evt = evt.cpu_parent
    return names


def _analyse(prof: Any, device: torch.device, top: int, steps: int) -> dict[str, Any]:
    """Top operators (from key_averages), operator classes (from the individual events and the ranges that
    enclose them) and, on CUDA, kernels and their classes."""
    from torch.autograd import DeviceType

    events = prof.events()
    cpu_items: list[tuple[str, float]] = []
    by_name: dict[str, dict[str, float]] = {}  # operator name -> class -> self seconds (context-aware)
    by_id: dict[int, Any] = {}
    kernel_events = []
    for evt in events:
        if evt.device_type == DeviceType.CPU:
            if not evt.is_async:
                if evt.id > 0:
                    by_id[evt.id] = evt
                cls, seconds = attribute(_chain(evt)), evt.self_cpu_time_total / 1e6
                cpu_items.append((cls, seconds))
                per_class = by_name.setdefault(evt.name, {})
                per_class[cls] = per_class.get(cls, 0.0) + seconds
        else:
            kernel_events.append(evt)
    cpu_total = sum(s for _, s in cpu_items)

    def dominant(name: str) -> str:
        per_class = by_name.get(name)
        return max(per_class, key=per_class.__getitem__) if per_class else classify_op(name)

    averages = prof.key_averages()
    rows = [
        (e.key, e.self_cpu_time_total / 1e6, e.count)
        for e in averages
        if e.device_type == DeviceType.CPU and not e.is_async
    ]
    top_ops = top_operators(rows, cpu_total, top, classify=dominant)
    for row in top_ops:
        per_class = by_name.get(row["name"], {})
        spent = sum(per_class.values())
        row["class_by_name"] = classify_op(row["name"])
        row["class_shares"] = {
            c: s / spent for c, s in sorted(per_class.items(), key=lambda kv: -kv[1]) if spent > 0 and s > 0
        }
        row["self_ms_per_step"] = 1000.0 * row["self_s"] / steps
        row["calls_per_step"] = row["calls"] / steps

    kernels = kernel_classes = None
    device_total = None
    if device.type == "cuda":
        per_name: dict[str, list[float]] = {}
        dev_items: list[tuple[str, float]] = []
        for evt in kernel_events:
            seconds = (evt.time_range.end - evt.time_range.start) / 1e6
            # A kernel's linked correlation id names the CPU event (operator or runtime call) that launched it.
            link = getattr(evt, "linked_correlation_id", 0) or 0
            launcher = by_id.get(link) if link > 0 else None
            dev_items.append((attribute(_chain(launcher) if launcher is not None else [], kernel=evt.name), seconds))
            acc = per_name.setdefault(evt.name, [0.0, 0])
            acc[0] += seconds
            acc[1] += 1
        device_total = sum(s for _, s in dev_items)
        ranked = sorted(per_name.items(), key=lambda kv: -kv[1][0])[:top]
        kernels = [
            {
                "name": name,
                "class": classify_kernel(name),
                "self_s": s,
                "share": s / device_total if device_total > 0 else 0.0,
                "calls": int(c),
                "self_ms_per_step": 1000.0 * s / steps,
                "calls_per_step": c / steps,
            }
            for name, (s, c) in ranked
        ]
        kernel_classes = aggregate_classes(dev_items)
        for row in kernel_classes:
            row["self_ms_per_step"] = 1000.0 * row["self_s"] / steps

    classes = aggregate_classes(cpu_items)
    for row in classes:
        row["self_ms_per_step"] = 1000.0 * row["self_s"] / steps
    return {
        "top_operators": top_ops,
        "operator_classes": classes,
        "kernels": kernels,
        "kernel_classes": kernel_classes,
        "cpu_total_s": cpu_total,
        "device_total_s": device_total,
    }


def _steps_per_epoch(bench: Benchmark, batch_size: int) -> tuple[int | None, str | None]:
    try:
        batches = bench.train_batches(1)
        if isinstance(batches, Sized):
            return len(batches), "len(train_batches(1))"
    except Exception:
        pass
    try:
        return math.ceil(bench.train_samples() / batch_size), "train_samples() / batch_size"
    except Exception:
        return None, None


# -- printing -----------------------------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100.0 * x:.1f}%"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _short(name: str, width: int = 70) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def print_profile(result: dict[str, Any], console: Any) -> None:
    """Rich tables: step breakdown, top operators, operator classes, (CUDA) kernels, and the trace path."""
    from rich.table import Table

    b = result["benchmark"]
    steps = result["steps"]
    console.print(
        f"{b['id']} {b['task']} ({b['model']}) | profile {result['profile']} | "
        f"{result['device']} {result['precision']} | {result['threads']} thread(s) | "
        f"batch {result.get('batch_size', '-')}"
    )
    pre = result["prelude"]
    if pre["ran"]:
        console.print(f"prelude: {pre['steps']} step(s) in {pre['time_s']:.1f} s")
    elif pre.get("note"):
        console.print(f"prelude: {pre['note']}")

    bd = result["breakdown"]
    table = Table(title=f"Step breakdown ({steps['timed']} timed steps after {steps['warmup']} warm-up)")
    table.add_column("phase")
    table.add_column("ms/step", justify="right")
    table.add_column("share", justify="right")
    for phase in PHASES:
        table.add_row(PHASE_LABELS[phase], _ms(bd["per_step_ms"][phase]), _pct(bd["share"][phase]))
    table.add_row("total", _ms(bd["per_step_ms"]["total"]), "100.0%")
    sps = bd.get("samples_per_s")
    table.caption = f"{sps:.1f} samples/s" if sps else None
    console.print(table)

    ep = result["epoch"]
    parts = []
    if ep.get("train_s_estimated") is not None:
        parts.append(
            f"one training epoch ≈ {ep['train_s_estimated']:.1f} s (estimated: {ep['steps_per_epoch']} "
            f"steps × mean timed step)"
        )
    if ep.get("eval_s") is not None:
        parts.append(
            f"one evaluation {ep['eval_s']:.1f} s"
            + (f" ({_pct(ep['eval_share'])} of epoch + evaluation)" if ep.get("eval_share") is not None else "")
        )
    if parts:
        console.print("; ".join(parts))

    n = steps["profiled"]
    table = Table(
        title=f"Top operators by self CPU time ({n} profiled steps)",
        caption="class: where the time was attributed (optimizer and data loading by enclosing range)",
    )
    for col in ("#", "operator", "class", "self ms/step", "share", "calls/step"):
        table.add_column(col, justify="right" if col not in ("operator", "class") else "left")
    for i, row in enumerate(result["top_operators"], 1):
        cls = row["class"]
        main = row.get("class_shares", {}).get(cls)
        if main is not None and main < 0.995:
            cls = f"{cls} ({100.0 * main:.0f}%)"
        table.add_row(
            str(i),
            _short(row["name"]),
            cls,
            _ms(row["self_ms_per_step"]),
            _pct(row["share"]),
            f"{row['calls_per_step']:g}",
        )
    console.print(table)

    table = Table(title="Operator classes (self CPU time)")
    for col in ("class", "self ms/step", "share", "what"):
        table.add_column(col, justify="right" if col in ("self ms/step", "share") else "left")
    for row in result["operator_classes"]:
        table.add_row(row["class"], _ms(row["self_ms_per_step"]), _pct(row["share"]), CLASS_HELP.get(row["class"], ""))
    console.print(table)

    if result.get("kernels"):
        table = Table(title="Top device kernels by self device time")
        for col in ("#", "kernel", "class", "ms/step", "share", "calls/step"):
            table.add_column(col, justify="right" if col not in ("kernel", "class") else "left")
        for i, row in enumerate(result["kernels"], 1):
            table.add_row(
                str(i),
                _short(row["name"]),
                row["class"],
                _ms(row["self_ms_per_step"]),
                _pct(row["share"]),
                f"{row['calls_per_step']:g}",
            )
        console.print(table)
        table = Table(title="Kernel classes (device time, by launching operator)")
        for col in ("class", "ms/step", "share"):
            table.add_column(col, justify="right" if col != "class" else "left")
        for row in result["kernel_classes"] or []:
            table.add_row(row["class"], _ms(row["self_ms_per_step"]), _pct(row["share"]))
        console.print(table)
    elif "kernels" in result.get("unavailable", {}):
        console.print(f"kernels: {result['unavailable']['kernels']}")

    _print_counters(result.get("counters"), result.get("gpu_counters"), console)

    trace = Path(result.get("out_dir", ".")) / result["trace"]
    console.print(f"trace: {trace} (open in chrome://tracing or https://ui.perfetto.dev)")


def _print_counters(cpu: Any, gpu: Any, console: Any) -> None:
    """perf stat events and derived rates, and the ncu summary of the paper's GPU metrics, or why not."""
    if isinstance(cpu, dict) and "events" in cpu:
        events = ", ".join(
            f"{name} {e['value']:,.0f}{' ' + e['unit'] if e['unit'] else ''}"
            if e["value"] is not None
            else f"{name} <{e['status']}>"
            for name, e in cpu["events"].items()
        )
        console.print(f"perf stat (timed steps): {events}")
        for name, value in cpu.get("derived", {}).items():
            console.print(f"  {name} = {value:.4g}")
        for name, reason in cpu.get("unavailable", {}).items():
            console.print(f"  {name}: unavailable ({reason})")
    elif isinstance(cpu, dict) and cpu.get("unavailable") not in (None, "not requested"):
        console.print(f"CPU counters: unavailable ({cpu['unavailable']})")
    if isinstance(gpu, dict) and "summary" in gpu:
        for name, m in gpu["summary"].items():
            console.print(f"ncu {name} = {m['mean']:.4g} {'/'.join(m['units'])} (mean of {m['launches']} launches)")
        for name, reason in gpu.get("unavailable", {}).items():
            console.print(f"  ncu {name}: unavailable ({reason})")
    elif isinstance(gpu, dict) and "unavailable" in gpu:
        console.print(f"GPU counters: unavailable ({gpu['unavailable']})")
