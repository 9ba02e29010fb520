"""The device's attainable dense matrix-multiply rate: the yardstick for "how far from the machine's limit".

A square GEMM of size n (2*n^3 FLOPs) is timed repeatedly after a warm-up and the best repetition counts: the
best is the rate the device can attain, and the slower ones measure interference, not the device. This is a
measured peak for torch.matmul on this software stack, not the vendor's datasheet figure, and it is what a
training step's matrix products can hope to reach.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from aibench.harness.devices import synchronize

# Large enough to saturate the device, small enough to finish in about a second on 2 CPU cores.
CPU_N, CUDA_N = 2048, 8192
MIN_TIME_S = 1.0
METHOD = (
    "best of repeated torch.matmul of two random n x n matrices after one warm-up call, "
    "2*n^3 FLOPs each; CUDA timed with synchronize; TF32 disabled for fp32"
)


def bf16_unsupported_reason(device: torch.device) -> str | None:
    if device.type == "cuda":
        return None if torch.cuda.is_bf16_supported() else "this GPU has no bf16 support"
    if device.type == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return "this CPU has no native bf16 instructions (oneDNN reports no AVX-512 BF16/AMX); bf16 is emulated"
    return None


def measure_matmul(
    device: torch.device, dtype: torch.dtype, n: int | None = None, min_time_s: float = MIN_TIME_S
) -> dict[str, Any]:
    n = n or (CUDA_N if device.type == "cuda" else CPU_N)
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        torch.matmul(a, b)
        synchronize(device)
        best, total, reps = float("inf"), 0.0, 0
        while total < min_time_s or reps < 3:
            t0 = time.perf_counter()
            torch.matmul(a, b)
            synchronize(device)
            dt = time.perf_counter() - t0
            best, total, reps = min(best, dt), total + dt, reps + 1
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    return {
        "flops_per_s": 2 * n**3 / best,
        "n": n,
        "repetitions": reps,
        "best_s": best,
        "threads": torch.get_num_threads(),
    }


def measure_peaks(device: torch.device, min_time_s: float = MIN_TIME_S) -> dict[str, Any]:
    """fp32 and (where the hardware has it) bf16 matmul FLOP/s of `device`, with the method."""
    peaks: dict[str, Any] = {
        "device": str(device),
        "method": METHOD,
        "fp32": measure_matmul(device, torch.float32, min_time_s=min_time_s),
    }
    reason = bf16_unsupported_reason(device)
    peaks["bf16"] = {"unavailable": reason} if reason else measure_matmul(device, torch.bfloat16, min_time_s=min_time_s)
    return peaks


def achieved(
    train_flops_per_sample: float | None, samples_per_s: float | None, peaks: dict[str, Any] | None, precision: str
) -> dict[str, Any]:
    """Achieved training FLOP/s (counted FLOPs x measured samples/s) and its share of the matching peak."""
    if train_flops_per_sample is None or samples_per_s is None:
        return {"unavailable": "needs both the counted training FLOPs and a measured steady throughput"}
    rate = train_flops_per_sample * samples_per_s
    out: dict[str, Any] = {
        "train_flops_per_s": rate,
        "precision": precision,
        "basis": "FlopCounterMode training-step FLOPs per sample x steady samples/s",
    }
    peak = (peaks or {}).get("bf16" if precision == "bf16" else "fp32") or {}
    if "flops_per_s" in peak:
        out["peak_flops_per_s"] = peak["flops_per_s"]
        out["fraction_of_peak"] = rate / peak["flops_per_s"]
    else:
        out["fraction_of_peak"] = None
        out["unavailable"] = peak.get("unavailable", "no peak measurement")
    return out
