#!/usr/bin/env python3
"""Does LoadGen's SingleStream latency measure the model? SingleStream p50 / plain-loop p50 per benchmark.

For each benchmark (default: the subset, small profile, untrained weights: latency does not depend on them):
a plain loop times `infer([i])` over preloaded evaluation samples on the main thread, then `aibench infer`'s
LoadGen SingleStream scenario serves the same model. A ratio near 1 means the harness adds nothing to the
latency it reports; the goal is <= 1.1. (Before the SUT ran all torch work on one thread, C1's ratio was ~1.7:
two threads that had both run torch operators fought over 2 cores with two OpenMP teams.)

Usage: scripts/bench_loadgen_latency.py [BENCH ...] [--profile small] [--samples 200] [--duration 10]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from aibench.benchmarks.base import BenchmarkContext
from aibench.catalog import SUITES
from aibench.datasets.embedded import ensure_embedded
from aibench.harness.config import threads_from_env
from aibench.harness.inference import InferenceConfig, run_inference
from aibench.harness.session import seed_everything
from aibench.registry import get_benchmark


def plain_p50_ms(bench_id: str, profile: str, samples: int) -> float:
    cls = get_benchmark(bench_id)
    settings = cls.profiles[profile]
    seed_everything(0)
    bench = cls(
        BenchmarkContext(
            profile=profile,
            settings=settings,
            data_root=ensure_embedded(cls.dataset, settings.data),
            device=torch.device("cpu"),
        )
    )
    bench.build()
    bench.load_data()
    n = min(samples, bench.eval_samples())
    bench.load_samples(list(range(n)))
    for i in range(min(5, n)):  # warm-up, as LoadGen's harness does before its test
        bench.infer([i])
    times = []
    for k in range(samples):
        t0 = time.perf_counter()
        bench.infer([k % n])
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def loadgen_p50_ms(bench_id: str, profile: str, duration: float) -> float:
    cls = get_benchmark(bench_id)
    with tempfile.TemporaryDirectory(prefix="aibench-latency-") as out:
        cfg = InferenceConfig(
            benchmark=bench_id,
            data_root=ensure_embedded(cls.dataset, cls.profiles[profile].data),
            out_dir=Path(out),
            profile=profile,
            device="cpu",
            scenarios=("SingleStream",),
            min_duration_s=duration,
            trace=False,
        )
        result = run_inference(cfg)
    return float(result["scenarios"]["SingleStream"]["latency_ms"]["p50"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("benchmarks", nargs="*", default=list(SUITES["subset"]))
    p.add_argument("--profile", default="small")
    p.add_argument("--samples", type=int, default=200, help="plain-loop calls (default 200)")
    p.add_argument("--duration", type=float, default=10.0, help="SingleStream minimum seconds (default 10)")
    args = p.parse_args()
    if threads := threads_from_env():
        torch.set_num_threads(threads)
    rows = []
    for name in args.benchmarks:
        bench_id = get_benchmark(name).info.id
        plain = plain_p50_ms(bench_id, args.profile, args.samples)
        served = loadgen_p50_ms(bench_id, args.profile, args.duration)
        rows.append((bench_id, plain, served))
        print(
            f"{bench_id}: plain loop p50 {plain:.2f} ms, LoadGen SingleStream p50 {served:.2f} ms, "
            f"ratio {served / plain:.3f}",
            flush=True,
        )
    print(f"\n{'benchmark':10s} {'plain p50 (ms)':>15s} {'SingleStream p50 (ms)':>22s} {'ratio':>7s}   goal <= 1.1")
    for bench_id, plain, served in rows:
        print(f"{bench_id:10s} {plain:15.2f} {served:22.2f} {served / plain:7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
