"""Compare systems: per benchmark, how much faster one system reaches the target than another.

For each benchmark that both results folders hold, the speedup of B over A is A's MLPerf time to train divided by
B's (above 1: B is faster). Its confidence interval is a percentile bootstrap: the sessions of A and of B are
resampled independently, each resample scored by MLPerf's rule (`resampled_scores`: a resample with too many
sessions that missed the target is infinitely slow), and the ratio taken. Where the interval contains 1 the
difference is "not significant". Over the benchmarks of the subset that both hold, the geometric mean of the
speedups (MLPerf's and SPEC's way to combine ratios), with its interval from the same resamples.

Only like is compared with like: sessions of a benchmark made with different profiles, quality targets or
precisions are refused for that benchmark (the time to quality measures a different thing), and different code
versions are flagged (the numbers may still be comparable; the reader decides).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from aibench.analyses.summary import (
    benchmark_order,
    by_benchmark,
    mlperf_time_to_train,
    reached_target,
    resampled_scores,
)
from aibench.catalog import SUITES
from aibench.harness.display import safe_text

COMPARE_RESAMPLES = 10_000
MIN_SESSIONS_FOR_INTERVAL = 3


def _times(runs: Sequence[dict[str, Any]]) -> list[float | None]:
    return [r["metrics"]["time_to_quality_s"] if reached_target(r) else None for r in runs]


def _identity(runs: Sequence[dict[str, Any]]) -> dict[str, set[str]]:
    """What must agree between two sets of sessions, as strings."""
    return {
        "profile": {str(r["profile"]) for r in runs},
        "target": {str(r["hyperparameters"].get("target_rule") or r["hyperparameters"]["target"]) for r in runs},
        "precision": {str(r["hyperparameters"].get("precision")) for r in runs},
    }


def _code_version(runs: Sequence[dict[str, Any]]) -> set[str]:
    return {f"{r['system'].get('aibench')} {r['system'].get('git_revision') or ''}".strip() for r in runs}


def incompatibility(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> str | None:
    """Why two sets of sessions of one benchmark cannot be compared, or None."""
    ia, ib = _identity(a), _identity(b)
    for key in ia:
        if len(ia[key]) > 1:
            return f"A's sessions mix {key}s ({', '.join(sorted(ia[key]))})"
        if len(ib[key]) > 1:
            return f"B's sessions mix {key}s ({', '.join(sorted(ib[key]))})"
        if ia[key] != ib[key]:
            return f"different {key}: A {next(iter(ia[key]))}, B {next(iter(ib[key]))}"
    return None


def _interval(ratios: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    lo, hi = np.quantile(ratios, [(1 - confidence) / 2, (1 + confidence) / 2], method="inverted_cdf")
    return (float(lo) if math.isfinite(lo) else None, float(hi) if math.isfinite(hi) else None)


def compare(
    results_a: Iterable[dict[str, Any]],
    results_b: Iterable[dict[str, Any]],
    confidence: float = 0.95,
    resamples: int = COMPARE_RESAMPLES,
    seed: int = 0,
    suite: str = "subset",
) -> dict[str, Any]:
    """Speedups of B over A per benchmark with bootstrap intervals, and their geometric mean over `suite`."""
    sa, sb = by_benchmark(results_a), by_benchmark(results_b)
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    draws: dict[str, np.ndarray] = {}
    for bench_id in sorted(set(sa) | set(sb), key=benchmark_order):
        row: dict[str, Any] = {
            "benchmark": bench_id,
            "sessions_a": len(sa.get(bench_id, [])),
            "sessions_b": len(sb.get(bench_id, [])),
        }
        rows.append(row)
        if bench_id not in sa or bench_id not in sb:
            row["refused"] = f"only in {'A' if bench_id in sa else 'B'}"
            continue
        a, b = sa[bench_id], sb[bench_id]
        why = incompatibility(a, b)
        if why:
            row["refused"] = why
            continue
        versions_a, versions_b = _code_version(a), _code_version(b)
        if versions_a != versions_b:
            row["flag"] = f"code versions differ: A {', '.join(sorted(versions_a))}; B {', '.join(sorted(versions_b))}"
        ta, rule_a = mlperf_time_to_train(_times(a))
        tb, rule_b = mlperf_time_to_train(_times(b))
        row.update(time_a_s=ta, time_b_s=tb, rule_a=rule_a, rule_b=rule_b)
        if ta is None or tb is None:
            row["refused"] = f"no valid time to quality: {rule_a if ta is None else rule_b}"
            continue
        row["speedup"] = ta / tb
        if min(len(a), len(b)) < MIN_SESSIONS_FOR_INTERVAL:
            row["interval"] = None
            row["significance"] = f"unknown: fewer than {MIN_SESSIONS_FOR_INTERVAL} sessions on a side"
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = resampled_scores(_times(a), resamples, rng) / resampled_scores(_times(b), resamples, rng)
        ratio = np.nan_to_num(ratio, nan=1.0, posinf=math.inf)  # both invalid: no difference to tell
        draws[bench_id] = ratio
        lo, hi = _interval(ratio, confidence)
        row["interval"] = {"low": lo, "high": hi, "confidence": confidence}
        if lo is not None and lo > 1:
            row["significance"] = "B faster"
        elif hi is not None and hi < 1:
            row["significance"] = "A faster"
        else:
            row["significance"] = "no significant difference"
    members = [b for b in SUITES[suite] if any(r["benchmark"] == b and "speedup" in r for r in rows)]
    missing = [b for b in SUITES[suite] if b not in members]
    geo: dict[str, Any] = {"suite": suite, "benchmarks": members, "missing": missing}
    if members and not missing:
        speedups = [next(r["speedup"] for r in rows if r["benchmark"] == b) for b in members]
        geo["geomean_speedup"] = float(np.exp(np.mean(np.log(speedups))))
        if all(b in draws for b in members):
            with np.errstate(divide="ignore"):
                logs = np.mean([np.log(draws[b]) for b in members], axis=0)
            lo, hi = _interval(np.exp(logs), confidence)
            geo["interval"] = {"low": lo, "high": hi, "confidence": confidence}
    return {
        "benchmarks": rows,
        "geomean": geo,
        "method": f"speedup = A's time to quality / B's; percentile bootstrap over sessions, {resamples} resamples, "
        f"seed {seed}; geometric mean over the {suite} suite",
    }


def print_comparison(result: dict[str, Any], label_a: str, label_b: str, console: Console) -> None:
    table = Table(title=f"Speedup of B ({label_b}) over A ({label_a}): A's time to quality / B's")
    for col in ("benchmark", "sessions A/B", "A (s)", "B (s)", "speedup", "interval", "verdict"):
        table.add_column(col, justify="left" if col in ("benchmark", "verdict") else "right")
    for r in result["benchmarks"]:
        table.add_row(
            safe_text(r["benchmark"]),
            f"{r['sessions_a']}/{r['sessions_b']}",
            _fmt(r.get("time_a_s")),
            _fmt(r.get("time_b_s")),
            "-" if r.get("speedup") is None else f"{r['speedup']:.3f}",
            interval_text(r.get("interval")),
            safe_text(verdict_text(r)),
        )
    console.print(table)
    geo = result["geomean"]
    if "geomean_speedup" in geo:
        iv = geo.get("interval")
        tail = f", {100 * iv['confidence']:.0f}% interval {interval_text(iv)}" if iv else ""
        console.print(f"geometric mean over the {geo['suite']} suite: {geo['geomean_speedup']:.3f}{tail}")
    else:
        console.print(
            safe_text(
                f"no geometric mean over the {geo['suite']} suite: no valid speedup for {', '.join(geo['missing'])}"
            )
        )
    console.print(safe_text(result["method"]), style="dim")


def interval_text(iv: dict[str, Any] | None) -> str:
    """'[low, high]' of a speedup interval; an unbounded end is 0 or inf."""
    if not iv:
        return "-"
    lo = "0" if iv["low"] is None else f"{iv['low']:.3f}"
    hi = "inf" if iv["high"] is None else f"{iv['high']:.3f}"
    return f"[{lo}, {hi}]"


def verdict_text(row: dict[str, Any]) -> str:
    """A benchmark row's verdict: why it was refused, or its significance, and any flag."""
    verdict = f"refused: {row['refused']}" if row.get("refused") else row.get("significance", "")
    return verdict + (f" (flag: {row['flag']})" if row.get("flag") else "")


def _fmt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}"
