"""Summarise sessions per benchmark, as MLPerf scores time to train and as the paper measures variation.

- Time to quality: MLPerf Training's score. A session that did not reach the target (any status) counts as
  infinitely slow; the olympic mean drops the fastest and the slowest session (when there are 3 or more), so
  one failure is dropped, and with two or more failures the score is invalid. With fewer than 3 sessions
  nothing can be dropped: the mean, and any failure makes it invalid. From 5 sessions on, a 95% percentile
  bootstrap interval of that score.
- Epochs to quality (to the target) and epochs to converge (to the paper's lower "convergent quality",
  section 5.2.1): mean and coefficient of variation = sample standard deviation (n - 1 denominator) / mean.
  The paper (section 5.3.1) reports the CV without saying which standard deviation it used.
- Throughput: mean of the sessions' steady-state samples/s; achieved training FLOP/s (counted FLOPs per sample x
  samples/s) and its share of the device's measured matmul peak.
- Energy to quality: olympic mean of the measured joules, or why nothing was measured.

A session has reached the target when it recorded epochs to quality: `success`, or a `completed` (fixed-epoch)
session that crossed the target on the way. `reached_target` is that one rule, for every analysis.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from aibench.harness.display import make_console, safe_text
from aibench.harness.results import SUMMARY_SCHEMA_VERSION

BOOTSTRAP_MIN_RUNS = 5
BOOTSTRAP_RESAMPLES = 10_000


def benchmark_order(bench_id: str) -> tuple[int, str]:
    """DC-AI-C2 before DC-AI-C10 (by number), then any other id by name."""
    tail = bench_id.rsplit("C", 1)[-1]
    return (int(tail), bench_id) if tail.isdigit() else (10**6, bench_id)


def by_benchmark(results: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Results grouped by benchmark id, in benchmark order, each group in the order given."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        out.setdefault(r["benchmark"]["id"], []).append(r)
    return dict(sorted(out.items(), key=lambda kv: benchmark_order(kv[0])))


def reached_target(result: dict[str, Any]) -> bool:
    return result["metrics"].get("epochs_to_quality") is not None


def olympic_mean(values: Sequence[float]) -> float | None:
    """Mean after dropping the fastest and slowest value when there are at least 3."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) >= 3:
        ordered = ordered[1:-1]
    return sum(ordered) / len(ordered)


def mlperf_time_to_train(times: Sequence[float | None]) -> tuple[float | None, str]:
    """MLPerf's score over sessions' times to quality (None = the target was not reached), and how it was
    obtained or why it is invalid."""
    n, failures = len(times), sum(t is None for t in times)
    if n == 0:
        return None, "no sessions"
    if failures == n:
        return None, "no session reached the target"
    if failures >= 2:
        return None, f"invalid: {failures} of {n} sessions did not reach the target (MLPerf allows one)"
    if n < 3:
        if failures:
            return None, f"invalid: a session did not reach the target and {n} sessions are too few to drop it"
        return sum(t for t in times if t is not None) / n, "mean (fewer than 3 sessions: nothing dropped)"
    reached = sorted(t for t in times if t is not None)
    kept = reached[1:] if failures else reached[1:-1]  # the failure is the slowest, dropped
    return sum(kept) / len(kept), (
        f"olympic mean of {n}: fastest and slowest dropped"
        + (" (the slowest: the session that did not reach the target)" if failures else "")
    )


def resampled_scores(times: Sequence[float | None], resamples: int, rng: np.random.Generator) -> np.ndarray:
    """`mlperf_time_to_train` of `resamples` resamples (with replacement) of the sessions; an invalid score (too
    many sessions that did not reach the target) is infinite."""
    x = np.array([math.inf if t is None else t for t in times], dtype=np.float64)
    samples = np.sort(x[rng.integers(0, len(x), size=(resamples, len(x)))], axis=1)
    failures = np.isinf(samples).sum(1)
    if len(x) < 3:  # nothing dropped: any failure is invalid
        return np.where(failures > 0, math.inf, samples.mean(1) if len(x) else math.inf)
    middle = samples[:, 1:-1]  # one failure sorts last and is dropped with the slowest
    return np.where(failures >= 2, math.inf, np.where(np.isinf(middle), 0.0, middle).sum(1) / middle.shape[1])


def bootstrap_interval(
    times: Sequence[float | None], confidence: float = 0.95, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> dict[str, Any] | None:
    """Percentile bootstrap interval of `mlperf_time_to_train` over resampled sessions (seeded, repeatable).

    Hand-written rather than scipy.stats.bootstrap because a resample can hold two failures, which makes the
    score invalid (infinite), not a number to average: such resamples count as infinitely slow, and an upper
    bound they reach is reported as unbounded.
    """
    if len(times) < BOOTSTRAP_MIN_RUNS:
        return None
    scores = resampled_scores(times, resamples, np.random.default_rng(seed))
    invalid = np.isinf(scores)
    # No interpolation between resamples: an infinite (invalid) score must not turn into NaN.
    lo, hi = np.quantile(scores, [(1 - confidence) / 2, (1 + confidence) / 2], method="inverted_cdf")
    return {
        "confidence": confidence,
        "low_s": float(lo) if math.isfinite(lo) else None,
        "high_s": float(hi) if math.isfinite(hi) else None,
        "resamples": resamples,
        "invalid_resamples": float(invalid.mean()),
        "method": "percentile bootstrap over sessions (seed 0)",
    }


def coefficient_of_variation(values: Sequence[float]) -> float | None:
    """Sample standard deviation (n - 1) divided by the mean; undefined for fewer than 2 values."""
    if len(values) < 2:
        return None
    mean = statistics.fmean(values)
    return statistics.stdev(values) / mean if mean else None


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    by_bench: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_bench.setdefault(r["benchmark"]["id"], []).append(r)
    rows = []
    for bench_id, runs in by_bench.items():
        ok = [r for r in runs if reached_target(r)]
        times = [r["metrics"]["time_to_quality_s"] if reached_target(r) else None for r in runs]
        score, rule = mlperf_time_to_train(times)
        epochs = [r["metrics"]["epochs_to_quality"] for r in ok]
        converged = [
            r["metrics"]["epochs_to_convergent"] for r in runs if r["metrics"].get("epochs_to_convergent") is not None
        ]
        tput = [r["metrics"]["throughput_samples_per_s"] for r in runs if r["metrics"].get("throughput_samples_per_s")]
        energy = [
            r["metrics"]["energy_to_quality_j"] for r in ok if r["metrics"].get("energy_to_quality_j") is not None
        ]
        eff = [r["efficiency"] for r in runs if r.get("efficiency", {}).get("train_flops_per_s")]
        fractions = [e["fraction_of_peak"] for e in eff if e.get("fraction_of_peak") is not None]
        energy_reasons = {r["metrics"]["unavailable"].get("energy_to_quality_j") for r in runs} - {None}
        rows.append(
            {
                "benchmark": bench_id,
                "task": runs[0]["benchmark"]["task"],
                "quality_metric": runs[0]["benchmark"]["quality_metric"],
                "target": runs[0]["hyperparameters"]["target"],
                "convergent": runs[0]["hyperparameters"].get("convergent"),
                "runs": len(runs),
                "reached_target": len(ok),
                "statuses": [r["status"] for r in runs],
                "seeds": [r["seed"] for r in runs],
                "time_to_quality_s": score,
                "time_to_quality_rule": rule,
                "time_to_quality_ci": bootstrap_interval(times),
                "epochs_to_quality_mean": statistics.fmean(epochs) if epochs else None,
                "epochs_to_quality_cv": coefficient_of_variation(epochs),
                "epochs_to_convergent_mean": statistics.fmean(converged) if converged else None,
                "epochs_to_convergent_cv": coefficient_of_variation(converged),
                "cv_convention": "sample standard deviation (n - 1) / mean",
                "throughput_samples_per_s": statistics.fmean(tput) if tput else None,
                "world_size": max(_world(r) for r in runs),
                "throughput_per_rank": (statistics.fmean(tput) / max(_world(r) for r in runs)) if tput else None,
                "train_flops_per_s": statistics.fmean(e["train_flops_per_s"] for e in eff) if eff else None,
                "fraction_of_peak": statistics.fmean(fractions) if fractions else None,
                "energy_to_quality_j": olympic_mean(energy),
                "energy_unavailable": sorted(energy_reasons) if not energy else [],
                "final_quality": [r["metrics"].get("final_quality") for r in runs],
                "run_time_s": [r["metrics"].get("run_time_s") for r in runs],
            }
        )
    return {"schema_version": SUMMARY_SCHEMA_VERSION, "benchmarks": rows}


def _world(result: dict[str, Any]) -> int:
    return int((result.get("distributed") or {}).get("world_size") or 1)


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def print_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    # Off a terminal (logs, CI) rich would wrap the table to 80 columns; a wide table stays readable.
    console = console or make_console()
    table = Table(title="AIBench results", show_lines=False)
    for col in (
        "benchmark",
        "task",
        "target",
        "reached",
        "time to quality (s)",
        "epochs to quality",
        "epochs CV",
        "ranks",
        "samples/s (per rank)",
        "train GFLOP/s (% peak)",
        "energy to quality (J)",
        "final quality",
        "status",
    ):
        table.add_column(col, justify="left" if col in ("benchmark", "task", "target", "status") else "right")
    for row in summary["benchmarks"]:
        finals = ", ".join(_num(q, ".4f") for q in row["final_quality"])
        statuses = ", ".join(sorted(set(row["statuses"])))
        table.add_row(
            safe_text(row["benchmark"]),
            safe_text(row["task"]),
            safe_text(row["target"]),
            f"{row['reached_target']}/{row['runs']}",
            _ttq(row),
            _num(row["epochs_to_quality_mean"], ".2f"),
            _num(row["epochs_to_quality_cv"] * 100 if row["epochs_to_quality_cv"] is not None else None, ".1f")
            + ("%" if row["epochs_to_quality_cv"] is not None else ""),
            str(row.get("world_size", 1)),
            _rate(row),
            _flops(row),
            _num(row.get("energy_to_quality_j"), ".0f")
            if row.get("energy_to_quality_j") is not None
            else ("n/a" if row.get("energy_unavailable") else "-"),
            finals,
            safe_text(statuses),
        )
    console.print(table)
    for row in summary["benchmarks"]:
        console.print(safe_text(f"{row['benchmark']} time to quality: {row['time_to_quality_rule']}"))
    reasons = sorted({reason for row in summary["benchmarks"] for reason in row.get("energy_unavailable", [])})
    for reason in reasons:
        console.print(safe_text(f"energy n/a: {reason}"))


def _rate(row: dict[str, Any]) -> str:
    total = _num(row["throughput_samples_per_s"], ".1f")
    if row.get("world_size", 1) > 1 and row.get("throughput_per_rank") is not None:
        return f"{total} ({row['throughput_per_rank']:.1f})"
    return total


def _ttq(row: dict[str, Any]) -> str:
    if row["time_to_quality_s"] is None:
        return "invalid" if str(row.get("time_to_quality_rule", "")).startswith("invalid") else "-"
    text = f"{row['time_to_quality_s']:.1f}"
    ci = row.get("time_to_quality_ci")
    if ci:
        text += f" [{_num(ci['low_s'], '.1f')}, {_num(ci['high_s'], '.1f') if ci['high_s'] is not None else 'inf'}]"
    return text


def _flops(row: dict[str, Any]) -> str:
    if row.get("train_flops_per_s") is None:
        return "-"
    share = row.get("fraction_of_peak")
    return f"{row['train_flops_per_s'] / 1e9:.1f}" + (f" ({share * 100:.1f}%)" if share is not None else "")


def print_sessions(results: Sequence[dict[str, Any]], console: Console | None = None) -> None:
    """One row per session: what each seed measured."""
    console = console or make_console()
    table = Table(title="Sessions")
    for col in (
        "benchmark",
        "run",
        "seed",
        "status",
        "epochs to quality",
        "time to quality (s)",
        "samples/s",
        "s/epoch",
        "prelude (s)",
        "run time (s)",
        "final quality",
    ):
        table.add_column(col, justify="left" if col in ("benchmark", "status") else "right")
    for r in results:
        m = r["metrics"]
        table.add_row(
            safe_text(r["benchmark"]["id"]),
            str(r["run_index"]),
            str(r["seed"]),
            safe_text(r["status"]),
            _num(m.get("epochs_to_quality"), "d"),
            _num(m.get("time_to_quality_s"), ".1f"),
            _num(m.get("throughput_samples_per_s"), ".1f"),
            _num(m.get("time_per_epoch_s"), ".1f"),
            _num(m.get("prelude_time_s"), ".1f"),
            _num(m.get("run_time_s"), ".1f"),
            _num(m.get("final_quality"), ".4f"),
        )
    console.print(table)
