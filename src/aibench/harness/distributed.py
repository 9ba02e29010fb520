"""Data-parallel sessions on PyTorch's own engine: processes launched by `torchrun` (torch.distributed.run),
a process group (gloo on CPUs, NCCL on GPUs, one GPU per rank), DistributedDataParallel for every trained module.

`Launch` is what the user asks for (the flags torchrun users know) and how the runner starts a session through
torchrun; `Group` is what a session process finds in its environment once torchrun started it. Without
`--nproc-per-node`/`--nnodes` nothing here runs: one process, no process group.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import re
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

# A rank blocked in a collective (because another rank failed) gives up after this long; torchrun normally
# tears the group down much sooner, when the failed rank's process exits.
COLLECTIVE_TIMEOUT_S = 120.0
RANK_FAILURE = "rank-{rank}.failure.json"


class LaunchError(ValueError):
    """Distributed flags that do not fit together."""


@dataclass(frozen=True)
class Launch:
    """How many processes run one session, on how many nodes: torchrun's own flags."""

    nproc_per_node: int = 1
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str | None = None  # host:port of the c10d rendezvous (multi-node)
    master_addr: str | None = None  # static rendezvous (multi-node), with master_port
    master_port: int | None = None

    def __post_init__(self) -> None:
        if self.nproc_per_node < 1 or self.nnodes < 1:
            raise LaunchError("--nproc-per-node and --nnodes must be at least 1")
        if not 0 <= self.node_rank < self.nnodes:
            raise LaunchError(f"--node-rank must be in 0..{self.nnodes - 1}, got {self.node_rank}")
        if self.nnodes > 1 and not (self.rdzv_endpoint or self.master_addr):
            raise LaunchError(
                "several nodes need a meeting point: --rdzv-endpoint HOST:PORT (or --master-addr "
                "with --master-port), the same on every node"
            )
        if self.rdzv_endpoint and self.master_addr:
            raise LaunchError("give --rdzv-endpoint or --master-addr/--master-port, not both")
        if self.rdzv_endpoint and not re.fullmatch(r"[^:\s]+:\d+", self.rdzv_endpoint):
            raise LaunchError(f"--rdzv-endpoint must be HOST:PORT, got {self.rdzv_endpoint!r}")

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def torchrun_command(self, worker_args: list[str], run_id: str) -> list[str]:
        """`python -m torch.distributed.run ... -m aibench.harness.worker ARGS` for one session."""
        cmd = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            f"--nproc-per-node={self.nproc_per_node}",
            f"--nnodes={self.nnodes}",
            "--max-restarts=0",
            "--monitor-interval=1",
        ]
        if self.nnodes == 1 and not (self.rdzv_endpoint or self.master_addr):
            cmd.append("--standalone")  # a local rendezvous on a free port
        elif self.rdzv_endpoint:
            cmd += [
                "--rdzv-backend=c10d",
                f"--rdzv-endpoint={self.rdzv_endpoint}",
                f"--rdzv-id={run_id}",
                f"--node-rank={self.node_rank}",
            ]
        else:
            cmd += [
                f"--node-rank={self.node_rank}",
                f"--master-addr={self.master_addr}",
                f"--master-port={self.master_port or 29500}",
            ]
        # torchrun runs under parent_watch, so it ends (and ends its ranks) when `aibench run` dies
        return [
            sys.executable,
            "-m",
            "aibench.harness.parent_watch",
            *cmd,
            "-m",
            "aibench.harness.worker",
            *worker_args,
        ]

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Group:
    """This process's place in a session's process group (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that times, logs, evaluates and writes results."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def broadcast(self, value: Any) -> Any:
        """Rank 0's value on every rank (a Python object)."""
        if not self.distributed:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: Any) -> list[Any]:
        """Every rank's value, in rank order, on every rank."""
        if not self.distributed:
            return [value]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, value)
        return out

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def join_group(device_name: str) -> Group:
    """Join the process group torchrun set up in this process's environment, if it did.

    The device is the rank's own: `cuda` becomes `cuda:LOCAL_RANK` (one GPU per rank).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Group()
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    backend = "nccl" if cuda else "gloo"
    if cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=COLLECTIVE_TIMEOUT_S))
    return Group(rank, world, local_rank, backend)


def rank_device(device_name: str, group: Group) -> str:
    """The device a rank computes on: its own GPU (LOCAL_RANK) under torchrun with CUDA."""
    if group.distributed and device_name in ("cuda", "auto") and torch.cuda.is_available():
        return f"cuda:{group.local_rank}"
    return device_name


def failure_path(session_dir: Path, rank: int) -> Path:
    return session_dir / RANK_FAILURE.format(rank=rank)


_ROOT = "Root Cause (first observed failure):"
_ENTRY = re.compile(r"rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+).*?traceback\s*:\s*([^\n]*)", re.S)


def torchrun_root_cause(text: str) -> str | None:
    """The failing rank and how it ended, from the failure report torchrun prints when a rank fails.

    torchrun names as root cause the first failure it observed, but when one rank is killed the others fail on
    the lost connection at nearly the same moment, and either may be observed first: a rank killed by a signal
    is the cause whenever the report lists one."""
    at = text.rfind(_ROOT)
    if at < 0:
        return None
    root = _ENTRY.findall(text[at:].split("\n=====", 1)[0])
    if not root:
        return None
    listed = text.rfind("Failures:", 0, at)
    others = _ENTRY.findall(text[listed:at]) if listed >= 0 else []
    killed = [e for e in root + others if int(e[1]) < 0]
    rank, exitcode, traceback = killed[0] if killed else root[0]
    code, trace = int(exitcode), traceback.strip()
    how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
    detail = f" ({trace})" if trace and trace != "<N/A>" and not trace.startswith(("Signal ", "To enable")) else ""
    return f"rank {rank} {how}{detail}"
