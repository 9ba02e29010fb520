"""Cheap non-deep methods for each task, scored by the benchmark's own metric.

They exist to keep the embedded data honest: data that a colour histogram, a colour threshold or an
item-transition count can solve measures nothing about the real workload, so every benchmark declares
baselines (`Benchmark.baselines`) and a test requires each to score clearly below the small profile's target.
`aibench baselines` prints them beside the targets.
"""
