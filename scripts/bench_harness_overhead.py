#!/usr/bin/env python3
"""How much the harness costs, what the allocator is worth, and whether bf16 pays, on DC-AI-C1 small.

Trains DC-AI-C1's small profile for a few epochs (default 3) as an `aibench run` session and as a plain PyTorch
loop over the same data, transforms, model, optimizer, schedule, batch and threads, alternating the two in one
run, and prints the steady-state training throughput (samples/s over all steps but the first 5 of epoch 1,
evaluation excluded: the harness's own definition) of each and their ratios:

  harness / plain loop, both with the harness's allocator                 goal >= 0.98
  harness with its defaults / plain loop with glibc's defaults            goal >= 1.0
  harness with glibc's defaults / harness with its allocator              (what the allocator is worth)
  harness bf16 / harness fp32 (says whether the CPU has native bf16)      goal >= 1.0 where it has
  harness channels-last / harness contiguous                              (a layout the rules allow)

Each measurement runs in a fresh process, so the allocator (set in the environment before start) applies.
Usage: scripts/bench_harness_overhead.py [--epochs 3] [--rounds 2] [--skip-bf16] [--skip-layout] [--threads N]
Needs an otherwise idle machine: on 2 shared cores every figure moves by tens of percent.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WARMUP_STEPS = 5  # as aibench.harness.session.WARMUP_STEPS


def plain_loop(epochs: int, seed: int) -> float:
    """A plain training loop of DC-AI-C1 small, no aibench harness: returns steady samples/s."""
    import torch
    from torch.utils.data import DataLoader
    from torchvision import datasets, models
    from torchvision.transforms import v2 as T

    from aibench.datasets.embedded import ensure_embedded
    from aibench.registry import get_benchmark

    if threads := os.environ.get("AIBENCH_THREADS"):
        torch.set_num_threads(int(threads))
    cls = get_benchmark("DC-AI-C1")
    settings = cls.profiles["small"]
    opts = settings.options
    root = ensure_embedded(cls.dataset, settings.data) / "imagenet"
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    train_tf = T.Compose(
        [
            T.ToImage(),
            T.RandomResizedCrop(opts.image_size, scale=(opts.crop_scale_min, 1.0), antialias=True),
            T.RandomHorizontalFlip(),
            T.ToDtype(torch.float32, scale=True),
            T.Normalize(mean, std),
        ]
    )
    eval_tf = T.Compose(
        [
            T.ToImage(),
            T.Resize(opts.resize, antialias=True),
            T.CenterCrop(opts.image_size),
            T.ToDtype(torch.float32, scale=True),
            T.Normalize(mean, std),
        ]
    )
    train = datasets.ImageFolder(str(root / "train"), transform=train_tf)
    val = datasets.ImageFolder(str(root / "val"), transform=eval_tf)
    torch.manual_seed(seed)
    model = models.resnet50(weights=None, num_classes=len(train.classes), zero_init_residual=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=settings.learning_rate, momentum=0.9, weight_decay=1e-4)
    warmup = torch.optim.lr_scheduler.LinearLR(optimizer, 1.0 / opts.warmup_steps, total_iters=opts.warmup_steps - 1)
    loss_fn = torch.nn.CrossEntropyLoss()
    steady_time, steady_samples = 0.0, 0
    for epoch in range(1, epochs + 1):
        loader = DataLoader(
            train,
            batch_size=settings.batch_size,
            shuffle=True,
            drop_last=True,
            generator=torch.Generator().manual_seed(seed * 1000 + epoch),
        )
        model.train()
        t_step = time.perf_counter()
        for i, (images, labels) in enumerate(loader, start=1):
            loss = loss_fn(model(images), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if warmup.last_epoch < warmup.total_iters:
                warmup.step()
            loss.item()
            now = time.perf_counter()
            if epoch > 1 or i > WARMUP_STEPS:
                steady_time += now - t_step
                steady_samples += len(labels)
            t_step = now
        model.eval()  # evaluate every epoch, as the session does (not timed)
        with torch.no_grad():
            for images, _ in DataLoader(val, batch_size=settings.batch_size):
                model(images)
    return steady_samples / steady_time


def _env(allocator: str, threads: str | None) -> dict[str, str]:
    sys.path.insert(0, str(REPO / "src"))
    from aibench.harness.allocator import session_environment

    env = session_environment({**os.environ, "AIBENCH_ALLOCATOR": allocator})
    if threads:
        env["AIBENCH_THREADS"] = threads
    return env


def measure_plain(epochs: int, seed: int, allocator: str, threads: str | None) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--plain-child", "--epochs", str(epochs), "--seed", str(seed)],
        env=_env(allocator, threads),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def measure_harness(
    epochs: int,
    seed: int,
    allocator: str,
    threads: str | None,
    precision: str = "fp32",
    memory_format: str = "contiguous",
) -> float:
    with tempfile.TemporaryDirectory(prefix="aibench-overhead-") as out:
        env = {**os.environ, "AIBENCH_ALLOCATOR": allocator}
        if threads:
            env["AIBENCH_THREADS"] = threads
        subprocess.run(
            [
                sys.executable,
                "-m",
                "aibench.cli",
                "run",
                "C1",
                "--epochs",
                str(epochs),
                "--seed",
                str(seed),
                "--precision",
                precision,
                "--memory-format",
                memory_format,
                "--no-save-weights",
                "--out",
                out,
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        result = json.loads((Path(out) / "DC-AI-C1" / "run-1" / "result.json").read_text())
        return float(result["metrics"]["throughput_samples_per_s"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds of each measurement")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", help="torch threads (default: $AIBENCH_THREADS, else torch's choice)")
    p.add_argument("--skip-bf16", action="store_true")
    p.add_argument("--skip-layout", action="store_true", help="skip the channels-last run")
    p.add_argument("--plain-child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.plain_child:
        print(plain_loop(args.epochs, args.seed))
        return 0
    threads = args.threads or os.environ.get("AIBENCH_THREADS")

    import torch

    from aibench.harness.allocator import DEFAULT_ALLOCATOR
    from aibench.harness.peak import bf16_unsupported_reason

    runs: dict[str, list[float]] = {}
    plan = [
        ("harness, " + DEFAULT_ALLOCATOR, lambda s: measure_harness(args.epochs, s, DEFAULT_ALLOCATOR, threads)),
        ("plain loop, " + DEFAULT_ALLOCATOR, lambda s: measure_plain(args.epochs, s, DEFAULT_ALLOCATOR, threads)),
        ("plain loop, glibc defaults", lambda s: measure_plain(args.epochs, s, "glibc", threads)),
        ("harness, glibc defaults", lambda s: measure_harness(args.epochs, s, "glibc", threads)),
    ]
    bf16_reason = bf16_unsupported_reason(torch.device("cpu"))
    if not args.skip_bf16:
        plan.append(
            (
                "harness bf16, " + DEFAULT_ALLOCATOR,
                lambda s: measure_harness(args.epochs, s, DEFAULT_ALLOCATOR, threads, "bf16"),
            )
        )
    if not args.skip_layout:
        plan.append(
            (
                "harness channels-last, " + DEFAULT_ALLOCATOR,
                lambda s: measure_harness(args.epochs, s, DEFAULT_ALLOCATOR, threads, "fp32", "channels_last"),
            )
        )
    for r in range(args.rounds):
        for name, fn in plan:  # alternating, so a drift in the machine's load hits every variant alike
            value = fn(args.seed)
            runs.setdefault(name, []).append(value)
            print(f"round {r + 1}: {name}: {value:.1f} samples/s", flush=True)
    mean = {name: statistics.fmean(values) for name, values in runs.items()}
    print(f"\nDC-AI-C1 small, {args.epochs} epochs, {args.rounds} round(s), threads {threads or 'torch default'}")
    for name, values in runs.items():
        spread = (max(values) - min(values)) / mean[name] * 100 if len(values) > 1 else 0.0
        print(
            f"  {name:34s} {mean[name]:7.1f} samples/s  (runs {', '.join(f'{v:.1f}' for v in values)}; "
            f"spread {spread:.1f}%)"
        )
    h, pl, pg = (
        mean["harness, " + DEFAULT_ALLOCATOR],
        mean["plain loop, " + DEFAULT_ALLOCATOR],
        mean["plain loop, glibc defaults"],
    )
    print(f"  harness / plain loop (same allocator)            {h / pl:.3f}   goal >= 0.98")
    print(f"  harness defaults / plain loop glibc defaults     {h / pg:.3f}   goal >= 1.0")
    print(f"  harness glibc defaults / harness defaults        {mean['harness, glibc defaults'] / h:.3f}")
    if not args.skip_bf16:
        native = "native bf16 (AVX-512 BF16 or AMX)" if bf16_reason is None else f"no native bf16: {bf16_reason}"
        print(
            f"  harness bf16 / fp32                              {mean['harness bf16, ' + DEFAULT_ALLOCATOR] / h:.3f}"
            f"   goal >= 1.0 on a CPU with native bf16; this CPU: {native}"
        )
    if not args.skip_layout:
        print(
            f"  harness channels-last / contiguous               "
            f"{mean['harness channels-last, ' + DEFAULT_ALLOCATOR] / h:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
