"""Inference measured by MLCommons LoadGen (`aibench infer`): latency, tail latency, throughput, inference
accuracy and energy per inference (paper, section 4.2.1), in LoadGen's scenarios.

A benchmark is built and its data read as a training session would (seeded, `build()`, `load_data()`), then given
trained weights (`--checkpoint`, or the newest successful session of a results folder) or left freshly initialized:
untrained weights give representative latency and throughput but no quality, so AccuracyOnly needs weights.

LoadGen drives the benchmark's `infer(indices)` through a query sample library (QSL) over the evaluation samples
and a system under test (SUT) whose `issue_queries` only enqueues: one worker thread drains the queue and batches
up to `max_batch` samples per `infer` call (SingleStream ends up with batch 1, Offline with full batches, Server
with whatever has arrived), and answers each sample with its output serialized by `np.save` (dtype and shape
preserved), which is what LoadGen's accuracy log records.

    SingleStream  PerformanceOnly: one query of one sample at a time; latency percentiles
    Offline       PerformanceOnly: one query holding every sample at once; samples/s
    Server        PerformanceOnly: Poisson arrivals at a target QPS; valid only if the p99 latency is within a bound
    AccuracyOnly  LoadGen's accuracy mode (Offline scenario): every evaluation sample once; the outputs in
                  mlperf_log_accuracy.json are decoded and scored by the benchmark's `score`

Each scenario's LoadGen logs (mlperf_log_summary.txt, mlperf_log_detail.txt, mlperf_log_accuracy.json,
mlperf_log_trace.json) are kept in `out_dir/<scenario>/`; the verdict (VALID/INVALID and why) is LoadGen's own,
read back from those logs. LoadGen's default durations (10 min, 1024 or 270336 queries) are for accelerators; the
defaults here are the least LoadGen's early-stopping rules accept (see `SINGLE_STREAM_MIN_QUERIES`,
`SERVER_MIN_QUERIES`), over `min_duration_s` seconds.
"""

from __future__ import annotations

import io
import json
import math
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aibench.benchmarks.base import Benchmark, BenchmarkContext
from aibench.harness.config import ConfigError, check_device, check_precision, check_profile
from aibench.harness.devices import resolve_device
from aibench.harness.energy import energy_between, open_energy_meter, read_energy
from aibench.harness.results import RESULT_SCHEMA_VERSION, ResultFileError, benchmark_identity, read_result
from aibench.harness.session import seed_everything
from aibench.harness.system import describe_system
from aibench.registry import get_benchmark, resolve

Emit = Callable[[str], None]

SCENARIOS = ("SingleStream", "Offline", "Server", "AccuracyOnly")
PERFORMANCE_SCENARIOS = ("SingleStream", "Offline", "Server")

# The fewest queries LoadGen's early stopping accepts (loadgen/results.cc, confidence 0.99, tolerance 0): a
# SingleStream p90 estimate needs 64 queries; a Server run with no query over the latency bound needs 459 (one
# query over the bound raises that to 662). Fewer makes the run INVALID whatever its latencies.
SINGLE_STREAM_MIN_QUERIES = 64
SERVER_MIN_QUERIES = 459

DEFAULT_MIN_DURATION_S = 10.0
MIN_MAX_DURATION_S = 120.0  # LoadGen stops a scenario after max(this, 6 x min duration)
# Default Server target: this fraction of the Offline throughput. Not 50%: on the 2-core reference CPU, C1 (small)
# at 50% of Offline saturated the SUT (Server's batches of ~10 cost ~12 ms a sample, Offline's full batches ~6) and
# was INVALID (p99 over the bound); at 30% it was VALID with batches of ~2 and p99 well inside the bound.
SERVER_LOAD_FRACTION = 0.3
LATENCY_BOUND_SS_FACTOR = 4.0  # default Server bound: >= this x the SingleStream p99 ...
LATENCY_BOUND_BATCH_FACTOR = 2.0  # ... and >= this x the time of one full batch (wait for one, then run own)
OFFLINE_QPS_MARGIN = 1.5  # Offline expected QPS = this x the warm-up throughput (see _scenario_settings)
MIN_EXPECTED_LATENCY_S = 50e-6  # floor of the derived SingleStream expected latency (query pre-generation)
CALIBRATION_BUDGET_S = 5.0
ERROR_DRAIN_DELAY_S = 0.01  # after an infer() error, answer later queries empty, after this pause
DEFAULT_PERFORMANCE_SAMPLE_COUNT = 1024

LOG_FILES = {
    "summary": "mlperf_log_summary.txt",
    "detail": "mlperf_log_detail.txt",
    "accuracy": "mlperf_log_accuracy.json",
    "trace": "mlperf_log_trace.json",
}


class CheckpointError(ConfigError):
    """No usable trained weights: a missing or mismatched checkpoint, or none in a results folder."""


def _how_to_get_weights(bench_id: str, profile: str) -> str:
    return (
        f"`aibench run {bench_id} --profile {profile}` saves weights.pt in its session folder "
        f"(results/<time>/{bench_id}/run-1/weights.pt); pass it with --checkpoint PATH/weights.pt, "
        f"or pass that results folder with --results DIR"
    )


def _loadgen() -> Any:
    try:
        import mlperf_loadgen
    except ImportError as exc:  # pragma: no cover - the package is a dependency
        raise ConfigError("MLCommons LoadGen is not installed: pip install mlcommons-loadgen") from exc
    return mlperf_loadgen


def loadgen_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("mlcommons-loadgen")
    except Exception:
        return None


# -- configuration ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InferenceConfig:
    """One `aibench infer` run: one benchmark, its scenarios, where the LoadGen logs go.

    Unset knobs (None) are derived from what this run measures and recorded with their reason in each
    scenario's `settings`.
    """

    benchmark: str  # id, short id or name
    data_root: Path  # prepared (embedded data generated, or a checked --data-root)
    out_dir: Path  # results folder of this run; LoadGen logs in out_dir/<scenario>/
    profile: str = "small"
    device: str = "cpu"
    precision: str = "fp32"
    seed: int = 0
    scenarios: tuple[str, ...] | None = None  # default: all four with weights, the three performance ones without
    checkpoint: Path | None = None  # weights.pt of a training session; None = freshly initialized
    min_duration_s: float = DEFAULT_MIN_DURATION_S  # per performance scenario
    min_query_count: int | None = None  # default: SINGLE_STREAM_MIN_QUERIES / SERVER_MIN_QUERIES / 1 (Offline)
    max_duration_s: float | None = None  # default: max(MIN_MAX_DURATION_S, 6 x min_duration_s)
    target_qps: float | None = None  # Server; default SERVER_LOAD_FRACTION x Offline samples/s
    latency_bound_ms: float | None = None  # Server p99 bound; default from SingleStream p99 and batch time
    offline_expected_qps: float | None = None  # default OFFLINE_QPS_MARGIN x warm-up throughput
    single_stream_expected_latency_ms: float | None = None  # default half the warm-up latency
    max_batch: int | None = None  # default bench.inference_batch_size()
    performance_sample_count: int = DEFAULT_PERFORMANCE_SAMPLE_COUNT  # QSL samples held loaded at once
    trace: bool = True  # keep LoadGen's mlperf_log_trace.json
    assets: dict[str, Path] | None = None  # evaluation assets, built off the clock by the caller

    def __post_init__(self) -> None:
        check_profile(self.profile)
        check_precision(self.precision)
        check_device(self.device)
        if self.scenarios is not None:
            unknown = [s for s in self.scenarios if s not in SCENARIOS]
            if unknown or not self.scenarios:
                raise ConfigError(
                    f"unknown scenario {', '.join(unknown) or '(none given)'}; valid scenarios: {', '.join(SCENARIOS)}"
                )
        positive = {
            "min_duration_s": self.min_duration_s,
            "max_duration_s": self.max_duration_s,
            "target_qps": self.target_qps,
            "latency_bound_ms": self.latency_bound_ms,
            "offline_expected_qps": self.offline_expected_qps,
            "single_stream_expected_latency_ms": self.single_stream_expected_latency_ms,
        }
        for name, value in positive.items():
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ConfigError(f"{name} must be a positive number, got {value}")
        for name in ("min_query_count", "max_batch", "performance_sample_count"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}")
        if self.max_duration_s is not None and self.max_duration_s < self.min_duration_s:
            raise ConfigError(
                f"max_duration_s ({self.max_duration_s:g}) is below min_duration_s ({self.min_duration_s:g})"
            )
        if "AccuracyOnly" in self.resolved_scenarios() and self.checkpoint is None:
            bench_id = _safe_id(self.benchmark)
            raise CheckpointError(
                f"AccuracyOnly measures the quality of trained weights and none were given: "
                f"{_how_to_get_weights(bench_id, self.profile)}. Without weights run only the performance "
                f"scenarios ({', '.join(PERFORMANCE_SCENARIOS)})."
            )

    def resolved_scenarios(self) -> tuple[str, ...]:
        """The scenarios to run, in the order they run (each may use what the earlier ones measured)."""
        wanted = self.scenarios or (SCENARIOS if self.checkpoint is not None else PERFORMANCE_SCENARIOS)
        return tuple(s for s in SCENARIOS if s in wanted)

    def resolved_max_duration_s(self) -> float:
        return self.max_duration_s or max(MIN_MAX_DURATION_S, 6 * self.min_duration_s)


def _safe_id(name: str) -> str:
    try:
        return resolve(name).id
    except LookupError:
        return name


# -- finding trained weights --------------------------------------------------------------------------------------
def find_checkpoint(results_dir: Path, benchmark_id: str, profile: str | None = None) -> Path:
    """weights.pt of the newest successful `aibench run` session of a benchmark (and profile) below a folder."""
    bench_id = resolve(benchmark_id).id
    how = _how_to_get_weights(bench_id, profile or "small")
    if not results_dir.is_dir():
        raise CheckpointError(f"--results {results_dir} is not a directory; {how}")
    found: list[tuple[str, float, Path]] = []
    rejected: list[str] = []
    unsuccessful: list[Path] = []  # weights of sessions that did not reach their target
    for result_path in sorted(results_dir.glob("**/result.json")):
        try:
            result = read_result(result_path)
        except ResultFileError as exc:
            rejected.append(f"{result_path} (invalid: {exc})")
            continue
        if result.get("kind") != "training" or result["benchmark"]["id"] != bench_id:
            continue
        where = result_path.parent
        status = result.get("status")
        weights = (result.get("files") or {}).get("weights")
        if profile is not None and result.get("profile") != profile:
            rejected.append(f"{where} (profile {result.get('profile')})")
        elif status != "success":
            rejected.append(f"{where} (status {status})")
            if weights and (where / weights).is_file():
                unsuccessful.append(where / weights)
        elif not weights or not (where / weights).is_file():
            rejected.append(f"{where} (no weights saved)")
        else:
            found.append((str(result.get("finished_at") or ""), result_path.stat().st_mtime, where / weights))
    if not found:
        scope = f"{bench_id}" + (f" at profile {profile}" if profile else "")
        seen = f"; sessions of {bench_id} seen but not usable: {', '.join(rejected)}" if rejected else ""
        other = (
            f" To use the weights of a session that did not reach its target, pass them explicitly: "
            f"--checkpoint {unsuccessful[-1]}."
            if unsuccessful
            else ""
        )
        raise CheckpointError(
            f"no successful session of {scope} with saved weights under {results_dir} "
            f"(searched {results_dir}/**/result.json){seen}. {how}.{other}"
        )
    return max(found)[2]


def _weights_info(cfg: InferenceConfig, bench_id: str) -> dict[str, Any]:
    """What the run's weights are; checks a checkpoint against the session that wrote it, if that is beside it."""
    if cfg.checkpoint is None:
        return {
            "trained": False,
            "checkpoint": None,
            "session": None,
            "note": "freshly initialized (seeded) weights: latency and throughput are representative, "
            "quality is not claimed",
        }
    path = Path(cfg.checkpoint)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; {_how_to_get_weights(bench_id, cfg.profile)}")
    info: dict[str, Any] = {"trained": True, "checkpoint": str(path), "session": None}
    session = path.parent / "result.json"
    if session.is_file():
        try:
            result = json.loads(session.read_text())
        except (OSError, json.JSONDecodeError):
            result = None
        if isinstance(result, dict):
            info["session"] = str(session)
            trained_id = (result.get("benchmark") or {}).get("id")
            if trained_id and trained_id != bench_id:
                raise CheckpointError(f"checkpoint {path} holds {trained_id} weights (per {session}), not {bench_id}")
            trained_profile = result.get("profile")
            if trained_profile and trained_profile != cfg.profile:
                raise CheckpointError(
                    f"checkpoint {path} was trained at profile {trained_profile} (per {session}); "
                    f"run inference with --profile {trained_profile}"
                )
            metrics = result.get("metrics") or {}
            info.update(
                session_status=result.get("status"),
                session_seed=result.get("seed"),
                session_final_quality=metrics.get("final_quality"),
            )
    return info


def _load_weights(bench: Benchmark, path: Path, device: torch.device) -> None:
    try:
        state = torch.load(path, map_location=device, weights_only=True)
        bench.load_model_state(state)
    except NotImplementedError:
        raise
    except Exception as exc:
        raise CheckpointError(f"cannot load weights from {path}: {type(exc).__name__}: {exc}") from exc


# -- the system under test ----------------------------------------------------------------------------------------
def encode_output(output: Any) -> bytes:
    """One sample's output as bytes for LoadGen's accuracy log (`np.save`: dtype and shape kept, no pickle)."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(output), allow_pickle=False)
    return buf.getvalue()


def decode_output(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


class QueueSUT:
    """LoadGen's system under test: `issue_queries` enqueues; `work()` runs `bench.infer` on the calling thread.

    All torch work of a test runs on one thread, the caller's, while LoadGen's test runs on a side thread: once two
    threads have both run torch operators, each has its own OpenMP team and on a small CPU they compete for the
    cores (measured: 9.5 ms per ResNet-50 image on one thread, 15.8 ms when a second thread had run torch too).
    LoadGen's query-sample-library callbacks (load and unload samples, which decode and transform with torch) are
    therefore passed to the working thread as well (`run_on_worker`).

    The worker takes up to `max_batch` queued samples per call, so the batch is whatever has arrived. An
    exception in `infer` must not hang LoadGen (it waits for every issued sample): the samples in hand and every
    later one are answered with empty responses, and the first error is kept in `error` for the caller to fail
    the scenario with.
    """

    def __init__(self, bench: Benchmark, max_batch: int) -> None:
        self.bench = bench
        self.max_batch = max(1, int(max_batch))
        self.error: str | None = None
        self.calls = 0
        self.samples = 0  # samples answered with outputs
        self.failed_samples = 0  # samples answered empty after an error
        self.largest_batch = 0
        self.infer_s = 0.0
        self._pending: deque[tuple[int, int]] = deque()
        self._tasks: deque[tuple[Callable[[], Any], threading.Event]] = deque()
        self._cv = threading.Condition()
        self._stop = False
        self._lg = _loadgen()

    def stop(self) -> None:
        """Let `work()` return once everything queued is answered."""
        with self._cv:
            self._stop = True
            self._cv.notify_all()

    # LoadGen callbacks: called on LoadGen's threads; they must return quickly and never raise.
    def issue_queries(self, query_samples: Sequence[Any]) -> None:
        items = [(q.id, q.index) for q in query_samples]
        with self._cv:
            self._pending.extend(items)
            self._cv.notify()

    def flush_queries(self) -> None:
        pass

    def run_on_worker(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run fn(*args) on the working thread and wait for it (QSL callbacks); a failure is kept in `error`."""
        done = threading.Event()

        def task() -> None:
            try:
                fn(*args)
            except BaseException as exc:
                if self.error is None:
                    self.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"

        with self._cv:
            self._tasks.append((task, done))
            self._cv.notify()
        done.wait()

    def stats(self) -> dict[str, Any]:
        return {
            "infer_calls": self.calls,
            "samples": self.samples,
            "failed_samples": self.failed_samples,
            "mean_batch": self.samples / self.calls if self.calls else None,
            "max_batch_seen": self.largest_batch,
            "max_batch": self.max_batch,
            "infer_time_s": self.infer_s,
        }

    def work(self) -> None:
        """Serve queries and tasks on this thread until `stop()` and nothing is left."""
        while True:
            task: tuple[Callable[[], Any], threading.Event] | None = None
            with self._cv:
                while not self._pending and not self._tasks and not self._stop:
                    self._cv.wait()
                if self._tasks:
                    task = self._tasks.popleft()
                elif not self._pending:
                    return
                else:
                    # After an error nothing is inferred any more: answer everything queued at once.
                    take = len(self._pending) if self.error is not None else min(self.max_batch, len(self._pending))
                    batch = [self._pending.popleft() for _ in range(take)]
            if task is not None:
                task[0]()
                task[1].set()
                continue
            try:
                self._serve(batch)
            except BaseException as exc:
                if self.error is None:
                    self.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
                try:
                    self._complete(batch, None)
                except BaseException:
                    pass

    def _serve(self, batch: list[tuple[int, int]]) -> None:
        buffers: list[bytes] | None = None
        if self.error is None:
            try:
                t0 = time.perf_counter()
                outputs = self.bench.infer([index for _, index in batch])
                if len(outputs) != len(batch):
                    raise ValueError(f"infer() returned {len(outputs)} outputs for {len(batch)} samples")
                buffers = [encode_output(o) for o in outputs]
                self.infer_s += time.perf_counter() - t0
            except BaseException as exc:
                self.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        else:
            time.sleep(ERROR_DRAIN_DELAY_S)  # SingleStream issues the next query at once: do not spin
        self._complete(batch, buffers)
        if buffers is None:
            self.failed_samples += len(batch)
        else:
            self.calls += 1
            self.samples += len(batch)
            self.largest_batch = max(self.largest_batch, len(batch))

    def _complete(self, batch: list[tuple[int, int]], buffers: list[bytes] | None) -> None:
        lg = self._lg
        arrays = [np.frombuffer(b, dtype=np.uint8) for b in buffers] if buffers is not None else None
        responses = []
        for k, (query_id, _) in enumerate(batch):
            if arrays is not None and arrays[k].size:
                responses.append(lg.QuerySampleResponse(query_id, arrays[k].ctypes.data, arrays[k].size))
            else:
                responses.append(lg.QuerySampleResponse(query_id, 0, 0))
        lg.QuerySamplesComplete(responses)
        del arrays  # the buffers had to live until LoadGen copied them, i.e. until QuerySamplesComplete returned


# -- LoadGen's logs -----------------------------------------------------------------------------------------------
@dataclass
class DetailLog:
    values: dict[str, Any] = field(default_factory=dict)  # key -> value (the last one, for a repeated key)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_detail_log(path: Path) -> DetailLog:
    """mlperf_log_detail.txt: `:::MLLOG {json}` lines into key -> value, plus LoadGen's errors and warnings."""
    log = DetailLog()
    for line in path.read_text(errors="replace").splitlines():
        start = line.find(":::MLLOG")
        if start < 0:
            continue
        try:
            entry = json.loads(line[start + len(":::MLLOG") :])
        except json.JSONDecodeError:
            continue
        key, value = entry.get("key"), entry.get("value")
        if key is None:
            continue
        log.values[key] = value
        meta = entry.get("metadata") or {}
        if meta.get("is_error"):
            log.errors.append(f"{key}: {value}")
        elif meta.get("is_warning"):
            log.warnings.append(f"{key}: {value}")
    return log


@dataclass
class SummaryLog:
    fields: dict[str, str] = field(default_factory=dict)  # "Result is" -> "VALID", ...
    sections: dict[str, list[str]] = field(default_factory=dict)  # "Recommendations" -> [" * ..." items]


_SECTION_HEADERS = ("Recommendations", "Early Stopping Result")


def parse_summary(path: Path) -> SummaryLog:
    """mlperf_log_summary.txt, LoadGen's human verdict: `key : value` lines and the bulleted sections."""
    out = SummaryLog()
    section: list[str] | None = None
    for raw in path.read_text(errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("===="):
            section = None
            continue
        if line.endswith(":") and line[:-1].strip() in _SECTION_HEADERS:
            section = out.sections.setdefault(line[:-1].strip(), [])
            continue
        if section is not None:
            if line.startswith("*"):
                section.append(line.lstrip("* ").strip())
                continue
            if section:
                section[-1] += " " + line  # a wrapped bullet (sections end at a blank line)
                continue
            section = None
        if ":" in line:
            key, value = line.split(":", 1)
            out.fields.setdefault(key.strip(), value.strip())
    return out


def _invalid_reasons(summary: SummaryLog, detail: DetailLog) -> list[str]:
    reasons: list[str] = []
    for key, value in summary.fields.items():
        if key.lower().endswith("satisfied") and value.strip().upper() == "NO":
            reasons.append(f"{key}: NO")
    reasons += summary.sections.get("Recommendations", [])
    early_ok = summary.fields.get("Early stopping satisfied", "Yes").strip().upper() != "NO"
    if not early_ok:
        reasons += [f"early stopping: {item}" for item in summary.sections.get("Early Stopping Result", [])]
    invalid = str(detail.values.get("result_invalid_reason") or "").strip()
    if invalid and not any(invalid in r for r in reasons):
        reasons.append(invalid)
    reasons += [f"LoadGen error: {e}" for e in detail.errors]
    return list(dict.fromkeys(reasons))


_PERCENTILES = {"p50": "50.00", "p90": "90.00", "p95": "95.00", "p97": "97.00", "p99": "99.00", "p99.9": "99.90"}


def _ms(ns: Any) -> float | None:
    return float(ns) / 1e6 if isinstance(ns, (int, float)) else None


def _latencies_ms(values: Mapping[str, Any]) -> dict[str, float | None]:
    out = {"min": _ms(values.get("result_min_latency_ns")), "mean": _ms(values.get("result_mean_latency_ns"))}
    out.update({name: _ms(values.get(f"result_{p}_percentile_latency_ns")) for name, p in _PERCENTILES.items()})
    out["max"] = _ms(values.get("result_max_latency_ns"))
    return out


def _throughput(scenario: str, values: Mapping[str, Any]) -> float | None:
    key = {
        "SingleStream": "result_qps_with_loadgen_overhead",
        "Offline": "result_samples_per_second",
        "Server": "result_completed_samples_per_sec",
    }[scenario]
    value = values.get(key)
    return float(value) if isinstance(value, (int, float)) else None


# -- calibration (warm-up) ----------------------------------------------------------------------------------------
@dataclass
class Calibration:
    """Untimed warm-up, then a few timed `infer` calls: the seeds of the derived LoadGen settings."""

    single_s: float  # median latency of infer on one sample
    batch: int  # the batch timed
    batch_s: float  # median time of infer on `batch` samples

    @property
    def batch_samples_per_s(self) -> float:
        return self.batch / self.batch_s


def _timed_infer(bench: Benchmark, indices: list[int]) -> float:
    t0 = time.perf_counter()
    outputs = bench.infer(indices)
    took = time.perf_counter() - t0
    if len(outputs) != len(indices):
        raise ValueError(f"{type(bench).__name__}.infer returned {len(outputs)} outputs for {len(indices)} samples")
    for output in outputs:
        encode_output(output)  # fails here, not inside LoadGen, on an output np.save cannot store
    return took


def calibrate(bench: Benchmark, max_batch: int, budget_s: float = CALIBRATION_BUDGET_S) -> Calibration:
    n = bench.eval_samples()
    if n < 1:
        raise ValueError(f"{type(bench).__name__} has no evaluation samples to run inference on")
    batch = max(1, int(max_batch))
    full = [i % n for i in range(batch)]  # Offline and Server batches may repeat samples too
    _timed_infer(bench, [0])
    _timed_infer(bench, full)
    deadline = time.perf_counter() + budget_s / 2
    singles = [_timed_infer(bench, [0])]
    while len(singles) < 5 and time.perf_counter() < deadline:
        singles.append(_timed_infer(bench, [len(singles) % n]))
    deadline = time.perf_counter() + budget_s / 2
    batches = [_timed_infer(bench, full)]
    while len(batches) < 3 and time.perf_counter() < deadline:
        batches.append(_timed_infer(bench, full))
    return Calibration(single_s=float(np.median(singles)), batch=batch, batch_s=float(np.median(batches)))


# -- energy -------------------------------------------------------------------------------------------------------
MeterFactory = Callable[[torch.device], "tuple[Any | None, str | None]"]


def _energy_result(meter: Any, reason: str | None, start: Any, end: Any, samples: int) -> dict[str, Any]:
    if meter is None:
        return {"unavailable": reason or "no energy meter"}
    if start is None or end is None:
        return {"unavailable": reason or "the energy meter could not be read"}
    joules = energy_between(start, end)
    total = joules.get("total")
    per = total / samples if total is not None and samples > 0 else None
    return {
        "joules": joules,
        "samples": samples,
        "energy_per_inference_j": per,
        "meter": getattr(meter, "source", type(meter).__name__),
        "missing": dict(getattr(meter, "missing", {}) or {}),
        "note": "meter read before and after LoadGen's test: the whole system's energy over the scenario",
    }


# -- one scenario -------------------------------------------------------------------------------------------------
@dataclass
class _Run:
    """Everything a scenario needs: the prepared benchmark and what earlier scenarios measured."""

    cfg: InferenceConfig
    bench: Benchmark
    max_batch: int
    calibration: Calibration
    meter: Any
    meter_reason: str | None
    say: Emit
    measured: dict[str, float] = field(default_factory=dict)


def _common_settings(cfg: InferenceConfig) -> dict[str, Any]:
    seed = cfg.seed % 2**64
    return {
        "min_duration_ms": int(round(cfg.min_duration_s * 1000)),
        "max_duration_ms": int(round(cfg.resolved_max_duration_s() * 1000)),
        "qsl_rng_seed": seed,
        "sample_index_rng_seed": seed,
        "schedule_rng_seed": seed,
    }


def _scenario_settings(name: str, run: _Run) -> tuple[dict[str, Any], dict[str, str]]:
    """LoadGen TestSettings attributes for a scenario, and why each derived one has its value."""
    cfg, cal = run.cfg, run.calibration
    values = _common_settings(cfg)
    why: dict[str, str] = {}
    if name == "SingleStream":
        values["min_query_count"] = cfg.min_query_count or SINGLE_STREAM_MIN_QUERIES
        if cfg.min_query_count is None:
            why["min_query_count"] = "the fewest queries LoadGen's early stopping accepts for a p90 estimate"
        if cfg.single_stream_expected_latency_ms is not None:
            values["single_stream_expected_latency_ns"] = int(cfg.single_stream_expected_latency_ms * 1e6)
            why["single_stream_expected_latency_ns"] = "given"
        else:
            values["single_stream_expected_latency_ns"] = int(max(cal.single_s / 2, MIN_EXPECTED_LATENCY_S) * 1e9)
            why["single_stream_expected_latency_ns"] = (
                f"half the warm-up latency of one sample ({cal.single_s * 1e3:.3g} ms): LoadGen pre-generates "
                f"queries for twice the duration at this latency, so the run cannot run out of them"
            )
    elif name in ("Offline", "AccuracyOnly"):
        values["min_query_count"] = cfg.min_query_count or 1
        if cfg.offline_expected_qps is not None:
            values["offline_expected_qps"] = float(cfg.offline_expected_qps)
            why["offline_expected_qps"] = "given"
        else:
            values["offline_expected_qps"] = OFFLINE_QPS_MARGIN * cal.batch_samples_per_s
            why["offline_expected_qps"] = (
                f"{OFFLINE_QPS_MARGIN:g} x the warm-up throughput at batch {cal.batch} "
                f"({cal.batch_samples_per_s:.4g} samples/s): Offline's single query holds 1.1 x expected QPS x "
                f"min duration samples, and must take at least the min duration"
            )
        if name == "AccuracyOnly":
            why["mode"] = "AccuracyOnly in the Offline scenario: LoadGen issues every evaluation sample once"
    elif name == "Server":
        values["min_query_count"] = cfg.min_query_count or SERVER_MIN_QUERIES
        if cfg.min_query_count is None:
            why["min_query_count"] = (
                "the fewest queries LoadGen's early stopping accepts for the p99 bound (with no query over it)"
            )
        offline_sps = run.measured.get("offline_samples_per_s")
        if cfg.target_qps is not None:
            values["server_target_qps"] = float(cfg.target_qps)
            why["server_target_qps"] = "given"
        elif offline_sps:
            values["server_target_qps"] = SERVER_LOAD_FRACTION * offline_sps
            why["server_target_qps"] = (
                f"derived: {SERVER_LOAD_FRACTION:.0%} of the Offline throughput measured "
                f"in this run ({offline_sps:.4g} samples/s)"
            )
        else:
            values["server_target_qps"] = SERVER_LOAD_FRACTION * cal.batch_samples_per_s
            why["server_target_qps"] = (
                f"derived: {SERVER_LOAD_FRACTION:.0%} of the warm-up throughput at batch "
                f"{cal.batch} ({cal.batch_samples_per_s:.4g} samples/s; no Offline "
                f"throughput measured in this run)"
            )
        if cfg.latency_bound_ms is not None:
            values["server_target_latency_ns"] = int(cfg.latency_bound_ms * 1e6)
            why["server_target_latency_ns"] = "given"
        else:
            ss_p99 = run.measured.get("single_stream_p99_s")
            single, single_src = (
                (ss_p99, "SingleStream p99 measured in this run")
                if ss_p99
                else (cal.single_s, "warm-up latency of one sample; no SingleStream p99 measured")
            )
            batch_s, batch_src = (
                (run.max_batch / offline_sps, "a full batch at the Offline throughput")
                if offline_sps
                else (cal.batch_s, "warm-up time of one full batch")
            )
            bound = max(LATENCY_BOUND_SS_FACTOR * single, LATENCY_BOUND_BATCH_FACTOR * batch_s)
            values["server_target_latency_ns"] = int(bound * 1e9)
            why["server_target_latency_ns"] = (
                f"derived: max({LATENCY_BOUND_SS_FACTOR:g} x {single * 1e3:.3g} ms ({single_src}), "
                f"{LATENCY_BOUND_BATCH_FACTOR:g} x {batch_s * 1e3:.3g} ms ({batch_src}: a query may wait for "
                f"the batch in progress, then run in its own)) = {bound * 1e3:.3g} ms"
            )
        # A slow model at a low arrival rate needs longer than the default cap to issue the minimum number of
        # queries; stopping it at the cap would only produce an INVALID run.
        needed_s = 1.25 * values["min_query_count"] / values["server_target_qps"]
        if cfg.max_duration_s is None and needed_s * 1000 > values["max_duration_ms"]:
            values["max_duration_ms"] = int(needed_s * 1000)
            why["max_duration_ms"] = (
                f"raised so that {values['min_query_count']} queries at "
                f"{values['server_target_qps']:.4g} QPS fit, with 25% to spare"
            )
    return values, why


def _test_settings(name: str, values: Mapping[str, Any]) -> Any:
    lg = _loadgen()
    settings = lg.TestSettings()
    settings.scenario = lg.TestScenario.Offline if name == "AccuracyOnly" else getattr(lg.TestScenario, name)
    settings.mode = lg.TestMode.AccuracyOnly if name == "AccuracyOnly" else lg.TestMode.PerformanceOnly
    for key, value in values.items():
        if not hasattr(settings, key):  # a typo or an API change must not pass silently
            raise AttributeError(f"mlperf_loadgen.TestSettings has no attribute {key!r}")
        setattr(settings, key, value)
    return settings


def _run_loadgen(run: _Run, name: str, settings: Any, log_dir: Path) -> tuple[QueueSUT, float, Any, Any, str | None]:
    lg = _loadgen()
    log_dir.mkdir(parents=True, exist_ok=True)
    for stale in LOG_FILES.values():
        (log_dir / stale).unlink(missing_ok=True)
    n = run.bench.eval_samples()
    sut = QueueSUT(run.bench, run.max_batch)
    lg_sut = lg.ConstructSUT(sut.issue_queries, sut.flush_queries)
    # LoadGen asks for the samples a test will use before it starts timing: reading and decoding them then keeps
    # storage and decode time out of the measured latency, as MLPerf requires.
    qsl = lg.ConstructQSL(
        n,
        min(n, run.cfg.performance_sample_count),
        lambda indices: sut.run_on_worker(run.bench.load_samples, list(indices)),
        lambda indices: sut.run_on_worker(run.bench.unload_samples, list(indices)),
    )
    log_settings = lg.LogSettings()
    log_settings.log_output.outdir = str(log_dir)
    log_settings.log_output.copy_summary_to_stdout = False
    log_settings.log_output.copy_detail_to_stdout = False
    log_settings.enable_trace = run.cfg.trace
    # LoadGen reads audit.config from the working directory unless told otherwise: point it at a path that
    # does not exist so a stray compliance-audit file cannot change the test.
    audit = str(log_dir / "audit.config.none")
    energy_start = energy_end = None
    energy_error = None
    failure: list[BaseException] = []

    def test() -> None:  # LoadGen's side of the test; the model is served on this (the caller's) thread
        try:
            lg.StartTestWithLogSettings(lg_sut, qsl, settings, log_settings, audit)
        except BaseException as exc:
            failure.append(exc)
        finally:
            sut.stop()

    try:
        energy_start, energy_error = read_energy(run.meter if name != "AccuracyOnly" else None)
        t0 = time.perf_counter()
        loadgen = threading.Thread(target=test, name="aibench-loadgen", daemon=True)
        loadgen.start()
        sut.work()
        loadgen.join()
        wall = time.perf_counter() - t0
        if failure:
            raise failure[0]
        if energy_start is not None:
            energy_end, energy_error = read_energy(run.meter)
    finally:
        lg.DestroyQSL(qsl)
        lg.DestroySUT(lg_sut)
    return sut, wall, energy_start, energy_end, energy_error


def _files(log_dir: Path, out_dir: Path) -> dict[str, str]:
    return {k: str((log_dir / f).relative_to(out_dir)) for k, f in LOG_FILES.items() if (log_dir / f).is_file()}


def _run_scenario(name: str, run: _Run) -> dict[str, Any]:
    cfg = run.cfg
    values, why = _scenario_settings(name, run)
    settings = _test_settings(name, values)
    log_dir = cfg.out_dir / name
    shown = {k: v for k, v in values.items() if not k.endswith("rng_seed")}
    run.say(f"{name}: running LoadGen ({', '.join(f'{k}={_fmt(v)}' for k, v in shown.items())})")
    sut, wall, e_start, e_end, e_error = _run_loadgen(run, name, settings, log_dir)
    result: dict[str, Any] = {
        "status": "ok",
        "error": None,
        "loadgen_scenario": "Offline" if name == "AccuracyOnly" else name,
        "loadgen_mode": "AccuracyOnly" if name == "AccuracyOnly" else "PerformanceOnly",
        "settings": values,
        "settings_source": why,
        "wall_s": wall,
        "batching": sut.stats(),
        "files": _files(log_dir, cfg.out_dir),
    }
    detail = parse_detail_log(log_dir / LOG_FILES["detail"]) if (log_dir / LOG_FILES["detail"]).is_file() else None
    summary = parse_summary(log_dir / LOG_FILES["summary"]) if (log_dir / LOG_FILES["summary"]).is_file() else None
    if detail is not None:
        result["loadgen_errors"] = detail.errors
        result["loadgen_warnings"] = detail.warnings
    if sut.error is not None:
        result.update(status="error", error=f"infer() failed during {name}: {sut.error}", verdict=None)
        result["note"] = (
            "the failing samples and every later one were answered empty so LoadGen could finish; "
            "no measurement of this scenario is claimed"
        )
        return result
    if detail is None or summary is None:
        result.update(status="error", error=f"LoadGen wrote no logs in {log_dir}", verdict=None)
        return result
    if name == "AccuracyOnly":
        result.update(_accuracy(run, log_dir))
        return result

    vals = detail.values
    verdict = summary.fields.get("Result is") or vals.get("result_validity")
    result["verdict"] = verdict
    result["invalid_reasons"] = _invalid_reasons(summary, detail) if verdict != "VALID" else []
    result["latency_ms"] = _latencies_ms(vals)
    if name == "Offline":
        result["latency_note"] = (
            "Offline issues one query holding every sample: these are times from that "
            "query's issue to each sample's completion, not per-query latencies"
        )
    result["samples_per_s"] = _throughput(name, vals)
    result["queries"] = vals.get("result_query_count")
    result["samples"] = sut.samples
    if name == "SingleStream":
        result["target_latency_percentile"] = vals.get("effective_target_latency_percentile")
        result["early_stopping_latency_ms"] = _ms(vals.get("early_stopping_latency_ss"))
        result["qps_without_loadgen_overhead"] = vals.get("result_qps_without_loadgen_overhead")
    if name == "Server":
        result["scheduled_samples_per_s"] = vals.get("result_scheduled_samples_per_sec")
        result["overlatency_queries"] = vals.get("result_overlatency_query_count")
        result["target_qps"] = values["server_target_qps"]
        result["latency_bound_ms"] = values["server_target_latency_ns"] / 1e6
        result["performance_constraints_met"] = vals.get("result_perf_constraints_met")
    result["early_stopping"] = summary.sections.get("Early Stopping Result", [])
    result["summary"] = summary.fields
    result["effective_settings"] = {k: v for k, v in vals.items() if k.startswith(("effective_", "generated_"))}
    result["energy"] = _energy_result(run.meter, e_error or run.meter_reason, e_start, e_end, sut.samples)

    if name == "SingleStream" and result["latency_ms"]["p99"] is not None:
        run.measured["single_stream_p99_s"] = result["latency_ms"]["p99"] / 1e3
    if name == "Offline" and result["samples_per_s"]:
        run.measured["offline_samples_per_s"] = float(result["samples_per_s"])
    return result


def _accuracy(run: _Run, log_dir: Path) -> dict[str, Any]:
    """Decode mlperf_log_accuracy.json, score it with the benchmark, check every sample was seen once."""
    bench, cls = run.bench, type(run.bench)
    entries = json.loads((log_dir / LOG_FILES["accuracy"]).read_text() or "[]")
    outputs: dict[int, np.ndarray] = {}
    duplicates = 0
    for entry in entries:
        index = int(entry["qsl_idx"])
        duplicates += index in outputs
        outputs[index] = decode_output(bytes.fromhex(entry["data"]))
    n = bench.eval_samples()
    out: dict[str, Any] = {"samples_seen": len(outputs), "eval_samples": n, "duplicates": duplicates}
    if len(outputs) != n or set(outputs) != set(range(n)):
        out.update(
            status="error",
            verdict=None,
            error=f"LoadGen's accuracy log holds {len(outputs)} distinct samples, expected {n}",
        )
        return out
    quality = {k: float(v) for k, v in bench.score(outputs).items()}
    if cls.quality_metric not in quality:
        out.update(status="error", verdict=None, error=f"score() returned no {cls.quality_metric!r}")
        return out
    value = quality[cls.quality_metric]
    target = bench.settings.target
    out.update(
        verdict="SCORED",
        quality=quality,
        quality_metric=cls.quality_metric,
        quality_value=value,
        target=target.describe(),
        meets_target=target.met(quality),
        energy={"unavailable": "not measured in accuracy mode"},
    )
    return out


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


# -- the run ------------------------------------------------------------------------------------------------------
def run_inference(
    cfg: InferenceConfig, emit: Emit | None = None, energy_meter_factory: MeterFactory | None = None
) -> dict[str, Any]:
    """Build the benchmark, load weights, run each scenario through LoadGen; returns the result (not written)."""
    say = emit or (lambda text: None)
    _loadgen()
    cls = get_benchmark(cfg.benchmark)
    info = cls.info
    if cfg.profile not in cls.profiles:
        raise ConfigError(f"{info.id} has no {cfg.profile!r} profile; it has: {', '.join(cls.profiles)}")
    scenarios = cfg.resolved_scenarios()
    weights = _weights_info(cfg, info.id)
    try:
        device = resolve_device(cfg.device)
    except ValueError as exc:  # cuda asked for, none here
        raise ConfigError(str(exc)) from exc
    started_at = datetime.now(timezone.utc).isoformat()
    cfg.out_dir.mkdir(parents=True, exist_ok=True)

    seed_everything(cfg.seed)
    ctx = BenchmarkContext(
        profile=cfg.profile,
        settings=cls.profiles[cfg.profile],
        data_root=Path(cfg.data_root),
        device=device,
        precision=cfg.precision,
        seed=cfg.seed,
        assets=cfg.assets or {},
    )
    bench = cls(ctx)
    say(f"{info.id}: building the model and reading the evaluation data")
    bench.build()
    bench.load_data()
    if cfg.checkpoint is not None:
        _load_weights(bench, Path(cfg.checkpoint), device)
    max_batch = cfg.max_batch or bench.inference_batch_size()
    say(f"{info.id}: warm-up and calibration (batch 1 and {max_batch})")
    calibration = calibrate(bench, max_batch)

    unavailable: dict[str, str] = {}
    if energy_meter_factory is None:
        energy_meter_factory = open_energy_meter
    try:
        meter, meter_reason = energy_meter_factory(device)
    except Exception as exc:
        meter, meter_reason = None, f"energy meter failed to open: {type(exc).__name__}: {exc}"
    if meter is None:
        unavailable["energy_per_inference_j"] = meter_reason or "no energy meter"
    if not weights["trained"]:
        unavailable["quality"] = "freshly initialized weights: no quality is claimed (pass --checkpoint/--results)"

    run = _Run(
        cfg=cfg,
        bench=bench,
        max_batch=max_batch,
        calibration=calibration,
        meter=meter,
        meter_reason=meter_reason,
        say=say,
    )
    results: dict[str, Any] = {}
    try:
        for name in scenarios:
            try:
                results[name] = _run_scenario(name, run)
            except Exception as exc:
                results[name] = {
                    "status": "error",
                    "verdict": None,
                    "error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
                    "files": _files(cfg.out_dir / name, cfg.out_dir),
                }
            say(f"{name}: {_one_line(name, results[name])}")
    finally:
        if meter is not None:
            try:
                meter.close()
            except Exception:
                pass

    return {
        "schema_version": RESULT_SCHEMA_VERSION,
        "kind": "inference",
        "benchmark": {**benchmark_identity(cls), "target": bench.settings.target.describe()},
        "profile": cfg.profile,
        "device": str(device),
        "precision": cfg.precision,
        "seed": cfg.seed,
        "status": "ok" if all(r.get("status") == "ok" for r in results.values()) else "error",
        "started_at": started_at,
        "finished_at": datetime.now(timezone.utc).isoformat(),
        "weights": weights,
        "loadgen": {"package": "mlcommons-loadgen", "version": loadgen_version()},
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
        "eval_samples": bench.eval_samples(),
        "max_batch": max_batch,
        "torch_threads": torch.get_num_threads(),
        "calibration": {**asdict(calibration), "batch_samples_per_s": calibration.batch_samples_per_s},
        "system": {**describe_system(), "device": str(device)},
        "scenarios": results,
        "unavailable": unavailable,
    }


def _one_line(name: str, r: Mapping[str, Any]) -> str:
    if r.get("status") != "ok":
        return f"ERROR {str(r.get('error', '')).splitlines()[0] if r.get('error') else ''}"
    if name == "AccuracyOnly":
        return f"{r['quality_metric']} = {r['quality_value']:.4f} over {r['samples_seen']} samples"
    lat = r.get("latency_ms") or {}
    parts = [str(r.get("verdict"))]
    if name != "Offline" and lat.get("p90") is not None:
        parts.append(f"p50 {lat['p50']:.3g} ms, p90 {lat['p90']:.3g} ms, p99 {lat['p99']:.3g} ms")
    if r.get("samples_per_s") is not None:
        parts.append(f"{r['samples_per_s']:.4g} samples/s")
    if r.get("invalid_reasons"):
        parts.append("; ".join(r["invalid_reasons"][:2]))
    return ", ".join(parts)


# -- display ------------------------------------------------------------------------------------------------------
def print_inference(result: Mapping[str, Any], console: Any = None) -> None:
    """One rich table, a row per scenario, then the reasons of every INVALID or failed scenario."""
    from rich.table import Table

    from aibench.harness.display import make_console

    console = console or make_console()
    bench = result["benchmark"]
    weights = result["weights"]
    status = weights.get("session_status")
    trained = (
        "UNTRAINED weights (no quality claimed)"
        if not weights["trained"]
        else "weights from checkpoint" + (f" (session {status})" if status else "")
    )
    table = Table(
        title=f"AIBench inference: {bench['id']} | profile {result['profile']} | {result['device']} "
        f"| {result['precision']} | {trained}"
    )
    for col in (
        "scenario",
        "verdict",
        "p50 (ms)",
        "p90 (ms)",
        "p99 (ms)",
        "samples/s",
        "quality",
        "energy/inference (J)",
        "settings",
    ):
        table.add_column(col, justify="left" if col in ("scenario", "verdict", "quality", "settings") else "right")
    notes: list[str] = []
    for name, r in result["scenarios"].items():
        lat = r.get("latency_ms") or {}
        show_lat = name in ("SingleStream", "Server")
        quality = f"{r['quality_metric']} {r['quality_value']:.4f}" if r.get("quality_value") is not None else ""
        energy = r.get("energy") or {}
        per = energy.get("energy_per_inference_j")
        settings = ""
        if name == "Server" and r.get("status") == "ok":
            settings = f"{r['target_qps']:.4g} QPS, p99 <= {r['latency_bound_ms']:.3g} ms"
        elif name == "AccuracyOnly" and r.get("status") == "ok":
            settings = f"{r['samples_seen']} samples, target {r['target']}"
        verdict = r.get("verdict") if r.get("status") == "ok" else "ERROR"
        table.add_row(
            name,
            str(verdict),
            _cell(lat.get("p50") if show_lat else None),
            _cell(lat.get("p90") if show_lat else None),
            _cell(lat.get("p99") if show_lat else None),
            _cell(r.get("samples_per_s"), ".4g"),
            quality,
            _cell(per, ".4g") if per is not None else ("n/a" if name != "AccuracyOnly" else ""),
            settings,
        )
        if r.get("status") != "ok":
            notes.append(f"{name}: {str(r.get('error') or '').splitlines()[0] if r.get('error') else 'failed'}")
        elif r.get("invalid_reasons"):
            notes.append(f"{name} INVALID: " + "; ".join(r["invalid_reasons"]))
    console.print(table)
    for note in notes:
        console.print(note, markup=False, highlight=False)
    if result.get("unavailable"):
        for key, why in result["unavailable"].items():
            console.print(f"unavailable: {key}: {why}", markup=False, highlight=False)


def _cell(value: Any, spec: str = ".3g") -> str:
    return "" if value is None else format(value, spec)
