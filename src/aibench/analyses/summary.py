"""Summarise sessions per benchmark, as MLPerf scores time to train and as the paper measures variation.

- Time to quality: olympic mean over successful sessions (drop the fastest and the slowest when there are 3 or
  more), the MLPerf Training scoring rule.
- Epochs to quality: mean and coefficient of variation (sample standard deviation / mean), paper section 5.3.1.
- Throughput: mean of the sessions' steady-state samples/s; achieved training FLOP/s (counted FLOPs per sample x
  samples/s) and its share of the device's measured matmul peak.
- Energy to quality: olympic mean of the measured joules, or why nothing was measured.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from aibench.harness.results import SUMMARY_SCHEMA_VERSION


def olympic_mean(values: Sequence[float]) -> float | None:
    """Mean after dropping the fastest and slowest value when there are at least 3."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) >= 3:
        ordered = ordered[1:-1]
    return sum(ordered) / len(ordered)


def coefficient_of_variation(values: Sequence[float]) -> float | None:
    """Sample standard deviation divided by the mean; undefined for fewer than 2 values."""
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
        ok = [r for r in runs if r["metrics"].get("epochs_to_quality") is not None]
        ttq = [r["metrics"]["time_to_quality_s"] for r in ok]
        epochs = [r["metrics"]["epochs_to_quality"] for r in ok]
        tput = [r["metrics"]["throughput_samples_per_s"] for r in runs if r["metrics"].get("throughput_samples_per_s")]
        energy = [r["metrics"]["energy_to_quality_j"] for r in ok if r["metrics"].get("energy_to_quality_j") is not None]
        eff = [r["efficiency"] for r in runs if r.get("efficiency", {}).get("train_flops_per_s")]
        fractions = [e["fraction_of_peak"] for e in eff if e.get("fraction_of_peak") is not None]
        energy_reasons = {r["metrics"]["unavailable"].get("energy_to_quality_j") for r in runs} - {None}
        rows.append({
            "benchmark": bench_id,
            "task": runs[0]["benchmark"]["task"],
            "quality_metric": runs[0]["benchmark"]["quality_metric"],
            "target": runs[0]["hyperparameters"]["target"],
            "runs": len(runs),
            "reached_target": len(ok),
            "statuses": [r["status"] for r in runs],
            "seeds": [r["seed"] for r in runs],
            "time_to_quality_s": olympic_mean(ttq),
            "time_to_quality_rule": "olympic mean (fastest and slowest dropped)" if len(ttq) >= 3 else "mean",
            "epochs_to_quality_mean": statistics.fmean(epochs) if epochs else None,
            "epochs_to_quality_cv": coefficient_of_variation(epochs),
            "throughput_samples_per_s": statistics.fmean(tput) if tput else None,
            "train_flops_per_s": statistics.fmean(e["train_flops_per_s"] for e in eff) if eff else None,
            "fraction_of_peak": statistics.fmean(fractions) if fractions else None,
            "energy_to_quality_j": olympic_mean(energy),
            "energy_unavailable": sorted(energy_reasons) if not energy else [],
            "final_quality": [r["metrics"].get("final_quality") for r in runs],
            "run_time_s": [r["metrics"].get("run_time_s") for r in runs],
        })
    return {"schema_version": SUMMARY_SCHEMA_VERSION, "benchmarks": rows}


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def print_summary(summary: dict[str, Any], console: Console | None = None) -> None:
    # Off a terminal (logs, CI) rich would wrap the table to 80 columns; a wide table stays readable.
    console = console or Console(width=None if sys.stdout.isatty() else 180)
    table = Table(title="AIBench results", show_lines=False)
    for col in ("benchmark", "task", "target", "reached", "time to quality (s)", "epochs to quality",
                "epochs CV", "samples/s", "train GFLOP/s (% peak)", "energy to quality (J)", "final quality",
                "status"):
        table.add_column(col, justify="left" if col in ("benchmark", "task", "status") else "right")
    for row in summary["benchmarks"]:
        finals = ", ".join(_num(q, ".4f") for q in row["final_quality"])
        statuses = ", ".join(sorted(set(row["statuses"])))
        table.add_row(
            row["benchmark"], row["task"], f"{row['quality_metric']} {row['target']:g}",
            f"{row['reached_target']}/{row['runs']}", _num(row["time_to_quality_s"], ".1f"),
            _num(row["epochs_to_quality_mean"], ".2f"),
            _num(row["epochs_to_quality_cv"] * 100 if row["epochs_to_quality_cv"] is not None else None, ".1f") + (
                "%" if row["epochs_to_quality_cv"] is not None else ""),
            _num(row["throughput_samples_per_s"], ".1f"), _flops(row), _num(row.get("energy_to_quality_j"), ".0f")
            if row.get("energy_to_quality_j") is not None else ("n/a" if row.get("energy_unavailable") else "-"),
            finals, statuses)
    console.print(table)
    reasons = sorted({reason for row in summary["benchmarks"] for reason in row.get("energy_unavailable", [])})
    for reason in reasons:
        console.print(f"energy n/a: {reason}")


def _flops(row: dict[str, Any]) -> str:
    if row.get("train_flops_per_s") is None:
        return "-"
    share = row.get("fraction_of_peak")
    return f"{row['train_flops_per_s'] / 1e9:.1f}" + (f" ({share * 100:.1f}%)" if share is not None else "")


def print_sessions(results: Sequence[dict[str, Any]], console: Console | None = None) -> None:
    """One row per session: what each seed measured."""
    console = console or Console(width=None if sys.stdout.isatty() else 180)
    table = Table(title="Sessions")
    for col in ("benchmark", "run", "seed", "status", "epochs to quality", "time to quality (s)", "samples/s",
                "s/epoch", "prelude (s)", "run time (s)", "final quality"):
        table.add_column(col, justify="left" if col in ("benchmark", "status") else "right")
    for r in results:
        m = r["metrics"]
        table.add_row(r["benchmark"]["id"], str(r["run_index"]), str(r["seed"]), r["status"],
                      _num(m.get("epochs_to_quality"), "d"), _num(m.get("time_to_quality_s"), ".1f"),
                      _num(m.get("throughput_samples_per_s"), ".1f"), _num(m.get("time_per_epoch_s"), ".1f"),
                      _num(m.get("prelude_time_s"), ".1f"), _num(m.get("run_time_s"), ".1f"),
                      _num(m.get("final_quality"), ".4f"))
    console.print(table)
