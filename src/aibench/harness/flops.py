"""Parameters and FLOPs of a benchmark's model, counted by PyTorch's own dispatch-level counter.

`torch.utils.flop_counter.FlopCounterMode` sees every aten call, so it counts what actually runs (a GEMM is
2*M*N*K FLOPs: one multiply and one add per multiply-add). It only has formulas for matrix products,
convolutions and attention; element-wise work, normalization, pooling, RoI align and NMS count as zero, so the
figures are lower bounds dominated by the operators that dominate the time. MACs = FLOPs / 2 for those ops.

The count runs on the `meta` device when the benchmark's probe allows it: tensors there have shapes and no
data, so the full profile's shapes (ResNet-50 at 224x224) cost no compute and no memory.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from aibench.benchmarks.base import Benchmark, ModelProbe, ProfileSettings

FLOP_COUNTER = "torch.utils.flop_counter.FlopCounterMode (matmul, convolution and attention only; 1 MAC = 2 FLOPs)"


def _count(fn: Any) -> tuple[int, dict[str, int]]:
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    # Counts are keyed by module; "Global" holds the whole computation.
    by_op = {
        str(op).removeprefix("aten.").split(".")[0]: int(n)
        for op, n in counter.get_flop_counts().get("Global", {}).items()
    }
    return int(counter.get_total_flops()), by_op


def count_probe(probe: ModelProbe) -> dict[str, Any]:
    """Learnable parameters and per-sample FLOPs of one forward pass and of one training step (fwd + bwd)."""
    params = sum(p.numel() for p in probe.model.parameters() if p.requires_grad)
    with torch.no_grad():
        forward, forward_ops = _count(probe.inference)

    def step() -> None:
        probe.training_loss().backward()

    train, train_ops = _count(step)
    probe.model.zero_grad(set_to_none=True)
    n = probe.samples
    return {
        "parameters": int(params),
        "forward_flops_per_sample": forward / n,
        "forward_macs_per_sample": forward / n / 2,
        "train_step_flops_per_sample": train / n,
        "forward_flops_by_op": {k: v / n for k, v in sorted(forward_ops.items(), key=lambda kv: -kv[1])},
        "train_step_flops_by_op": {k: v / n for k, v in sorted(train_ops.items(), key=lambda kv: -kv[1])},
        "sample": probe.sample_shape,
        "notes": probe.notes,
    }


def characterize_model(cls: type[Benchmark], settings: ProfileSettings) -> dict[str, Any]:
    """`count_probe` of a benchmark at some settings: on `meta` where its probe allows, else on the CPU."""
    return count_on_meta_or_cpu(lambda device: cls.model_probe(settings, device))


def count_on_meta_or_cpu(make_probe: Callable[[torch.device], ModelProbe]) -> dict[str, Any]:
    """`count_probe` of the probe `make_probe(device)` builds: on `meta` where it allows, else on the CPU (seeded)."""
    t0 = time.perf_counter()
    probe: ModelProbe | None
    try:
        with torch.device("meta"):
            probe = make_probe(torch.device("meta"))
        device = "meta"
        if not probe.meta_ok:
            probe = None
    except NotImplementedError:
        raise
    except Exception:
        probe = None
    if probe is None:
        device = "cpu"
        with _fixed_rng():
            probe = make_probe(torch.device("cpu"))
    counts = count_probe(probe)
    return {**counts, "counted_on": device, "counter": FLOP_COUNTER, "count_time_s": time.perf_counter() - t0}


@contextlib.contextmanager
def _fixed_rng():
    """Random init and synthetic inputs of a probe must not disturb the caller's random streams."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        yield
