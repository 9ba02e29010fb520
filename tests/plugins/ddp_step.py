"""One optimizer step of DC-AI-C16's Caser student, alone or under torchrun (test_distributed.py compares them).

Alone it trains on a batch of 2b windows; under torchrun with 2 ranks each rank trains on its b of them, with
the module wrapped by the benchmark contract's `data_parallel`. DDP averages the gradients, and the loss is a
batch mean, so both must reach the same parameters. Usage: ddp_step.py OUT.pt
"""

from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist

from aibench.benchmarks.base import data_parallel
from aibench.benchmarks.learning_to_rank.caser import Caser
from aibench.benchmarks.learning_to_rank.distillation import distillation_loss, position_weights

USERS, ITEMS, D, L, T, NEG, K, BATCH = 40, 120, 16, 5, 3, 9, 10, 8


def main(out: str) -> None:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        dist.init_process_group("gloo")
    torch.manual_seed(0)
    model = Caser(USERS, ITEMS, D, L, dropout=0.0)  # no dropout, no BatchNorm: a deterministic step
    gen = torch.Generator().manual_seed(1)
    users = torch.randint(0, USERS, (BATCH,), generator=gen)
    seqs = torch.randint(0, ITEMS, (BATCH, L), generator=gen)
    items = torch.randint(0, ITEMS, (BATCH, T + NEG + K), generator=gen)
    rows = slice(rank * BATCH // world, (rank + 1) * BATCH // world)  # this rank's share of the batch
    net = data_parallel(model, torch.device("cpu"), sync_batchnorm=False) if world > 1 else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pos, neg, cand = net(seqs[rows], users[rows], items[rows]).split([T, NEG, K], 1)
    loss = distillation_loss(pos, neg, cand, position_weights(K, 1.0, torch.device("cpu")), 1.0)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if rank == 0:
        torch.save({"before": before, "after": model.state_dict()}, out)
    if world > 1:
        dist.destroy_process_group()
        # As the harness's workers do (aibench.harness.worker): leave without C++ static destructors, which now
        # and then abort a DDP process at exit ("terminate called without an active exception").
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
