"""Scores of each benchmark's cheap non-deep baselines on its data, against its quality target.

Embedded data that a colour histogram, a colour threshold or an item-transition count solves measures nothing
about the real workload: `aibench baselines` (and a test, for every registered benchmark) shows how far each
baseline stays from the target.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table

from aibench.benchmarks.base import Benchmark, BenchmarkContext
from aibench.benchmarks.quality import metrics_of
from aibench.harness.session import seed_everything


def run_baselines(cls: type[Benchmark], profile: str, data_root: Path, seed: int = 0) -> list[dict[str, Any]]:
    """Build the benchmark, read its data and score every declared baseline with the benchmark's own metric."""
    settings = cls.profiles[profile]
    seed_everything(seed)
    bench = cls(
        BenchmarkContext(profile=profile, settings=settings, data_root=data_root, device=torch.device("cpu"), seed=seed)
    )
    bench.build()
    bench.load_data()
    rows = []
    for baseline in cls.baselines:
        t0 = time.perf_counter()
        metrics = bench.score(baseline.predict(bench))
        rows.append(
            {
                "benchmark": cls.info.id,
                "baseline": baseline.name,
                "description": baseline.description,
                "oracle": baseline.oracle,
                "metrics": metrics,
                "quality_metric": cls.quality_metric,
                "quality": metrics.get(cls.quality_metric),
                # Every metric the target reads: a rule over several metrics is missed by its worst one.
                "target_metrics": {m: metrics[m] for m in metrics_of(settings.target) if m in metrics},
                "target": settings.target.describe(),
                "meets_target": settings.target.met(metrics),
                "shortfall": settings.target.shortfall(metrics),
                "seconds": time.perf_counter() - t0,
            }
        )
    return rows


def print_baselines(rows: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="Cheap baselines against the quality target")
    for col in ("benchmark", "baseline", "quality", "target", "short of target by", "time (s)"):
        table.add_column(col, justify="right" if col in ("quality", "short of target by", "time (s)") else "left")
    for r in rows:
        shown = r["target_metrics"] or ({r["quality_metric"]: r["quality"]} if r["quality"] is not None else {})
        quality = "\n".join(f"{name} {value:.4f}" for name, value in shown.items()) or "-"
        table.add_row(
            r["benchmark"],
            r["baseline"],
            quality,
            r["target"],
            "meets it" if r["meets_target"] else f"{r['shortfall'] * 100:.0f}%",
            f"{r['seconds']:.1f}",
        )
    console.print(table)
