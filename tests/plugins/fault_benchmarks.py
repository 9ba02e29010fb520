"""Benchmarks that fail on purpose or exercise the contract, to test the harness (tests only).

They register under reserved TEST-* ids, outside the catalog, so they can never shadow a real benchmark; child
sessions import this module through AIBENCH_PLUGINS (set by tests/conftest.py).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from aibench.benchmarks.base import AssetSpec, Benchmark, ProfileSettings, StepOutput
from aibench.benchmarks.quality import AllOf, AtLeast, AtMost, Within
from aibench.catalog import BenchmarkInfo
from aibench.datasets.embedded import DatasetSpec
from aibench.registry import register


def info(bench_id: str, task: str) -> BenchmarkInfo:
    return BenchmarkInfo(
        bench_id, bench_id.lower().replace("-", "_"), task, "linear layer", "fake", "score", "-", "-", "-"
    )


def _write(root: Path, params: Any, seed: int) -> None:
    (root / "fake").mkdir(parents=True, exist_ok=True)
    (root / "fake" / "data.txt").write_text("1 2 3\n")


FAKE = DatasetSpec(name="fake", required=("fake/data.txt",), generate=_write, params=type(None))


NEVER = AtLeast("score", 10.0)  # the fakes reach at most score 3 (their epoch)


def _tiny(target: Any = NEVER, max_epochs: int = 3, **kw: Any) -> dict[str, ProfileSettings[Any]]:
    return {
        "tiny": ProfileSettings(
            batch_size=2, learning_rate=0.1, max_epochs=max_epochs, target=target, options=None, time_limit_s=60, **kw
        )
    }


class _Fake(Benchmark):
    dataset = FAKE
    quality_metric = "score"
    profiles = _tiny()

    def build(self) -> None:
        model = torch.nn.Linear(2, 1)
        self.model = self.add_trained("model", model, torch.optim.SGD(model.parameters(), lr=0.1))
        self.epoch = 0

    def load_data(self) -> None:
        pass

    def train_batches(self, epoch: int) -> Iterable[Any]:
        self.epoch = epoch
        return range(8)

    def train_step(self, batch: Any) -> StepOutput:
        return StepOutput(loss=torch.tensor(1.0 / (batch + 1)), samples=2)

    def evaluate(self) -> dict[str, float]:
        return {"score": float(self.epoch)}

    def train_samples(self) -> int:
        return 16

    def eval_samples(self) -> int:
        return 4


@register("TEST-crash", info("TEST-crash", "dies in epoch 2"))
class Crashes(_Fake):
    """The process dies hard in epoch 2 (as a segfault or OOM kill would)."""

    def train_step(self, batch: Any) -> StepOutput:
        if self.epoch == 2:
            os._exit(3)
        return super().train_step(batch)


@register("TEST-hang", info("TEST-hang", "hangs in epoch 2"))
class Hangs(_Fake):
    """A step that never returns: only the parent's kill can end it."""

    def train_step(self, batch: Any) -> StepOutput:
        if self.epoch == 2:
            time.sleep(3600)
        return super().train_step(batch)


@register("TEST-diverge", info("TEST-diverge", "NaN loss in epoch 2"))
class Diverges(_Fake):
    def train_step(self, batch: Any) -> StepOutput:
        return StepOutput(loss=torch.tensor(float("nan") if self.epoch == 2 else 1.0), samples=2)


@register("TEST-slow", info("TEST-slow", "reaches its target in epoch 3, slowly"))
class Slow(_Fake):
    """Reaches its target (score 3) at epoch 3, slowly enough to be interrupted or timed out."""

    profiles = _tiny(AtLeast("score", 3.0), max_epochs=5, convergent=AtLeast("score", 2.0))

    def train_step(self, batch: Any) -> StepOutput:
        time.sleep(float(os.environ.get("AIBENCH_FAKE_STEP_S", "0.05")))
        return super().train_step(batch)


@register("TEST-raise", info("TEST-raise", "load_data raises"))
class Raises(_Fake):
    def load_data(self) -> None:
        raise ValueError("corrupt file /nowhere/x.jpg")


@register("TEST-build-error", info("TEST-build-error", "build raises"))
class BuildFails(_Fake):
    def build(self) -> None:
        raise RuntimeError("cannot build: out of device memory (injected)")


def _build_scorer(out_dir: Path, data_root: Path, settings: ProfileSettings[Any]) -> None:
    counter = Path(os.environ["AIBENCH_FAKE_ASSET_COUNTER"])  # counts builds, to show the cache works
    counter.write_text(str(int(counter.read_text() or "0") + 1) if counter.exists() else "1")
    (out_dir / "scorer.txt").write_text("0.25\n")


@register("TEST-gan", info("TEST-gan", "two trained modules, named losses, a band target, an asset"))
class TwoPlayers(_Fake):
    """A GAN-shaped session: generator and critic with their own optimizers, two named losses, a target that
    is a band on one metric plus a bound on another, and an evaluation asset built before the session."""

    quality_metric = "em"
    higher_is_better = False
    profiles = _tiny(AllOf((Within("em", 1.0, 0.25), AtMost("fid", 50.0))), max_epochs=6)
    assets = (AssetSpec("scorer", _build_scorer, "a fake scorer network"),)

    def build(self) -> None:
        gen, critic = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
        self.add_trained("generator", gen, torch.optim.Adam(gen.parameters(), lr=1e-3))
        self.add_trained("critic", critic, torch.optim.RMSprop(critic.parameters(), lr=5e-5))
        self.epoch = 0

    def train_step(self, batch: Any) -> StepOutput:
        bad = os.environ.get("AIBENCH_FAKE_CRITIC_NAN") == "1" and self.epoch == 2
        return StepOutput(
            loss={"generator": torch.tensor(0.5), "critic": torch.tensor(float("nan") if bad else 0.1)}, samples=2
        )

    def evaluate(self) -> dict[str, float]:
        offset = float((self.ctx.assets["scorer"] / "scorer.txt").read_text())
        # em: 4, 2, 1.33, 1.0, ... -> first inside 1 +/- 0.25 at epoch 4; fid is met from epoch 2 on
        return {"em": 4.0 / self.epoch, "fid": 100.0 / self.epoch - offset}


@register("TEST-big-weights", info("TEST-big-weights", "saves 4 MB of weights per session"))
class BigWeights(_Fake):
    """Reaches its target at once; its weights (a 1000x1000 layer, 4 MB) fill a small disk."""

    profiles = _tiny(AtLeast("score", 1.0), max_epochs=1)

    def build(self) -> None:
        model = torch.nn.Linear(1000, 1000)
        self.add_trained("model", model, torch.optim.SGD(model.parameters(), lr=0.1))
        self.epoch = 0


@register("TEST-odd-text", info("TEST-odd-text", "[blink red]markup[/] and \x1b[31mANSI\x1b[0m in its name"))
class OddText(_Fake):
    """Its task text carries rich markup and an ANSI escape: printed as text, the escape stripped."""

    profiles = _tiny(AtLeast("score", 1.0), max_epochs=1)


@register("TEST-dp", info("TEST-dp", "a linear model trained data-parallel, with rank faults on request"))
class DataParallel(_Fake):
    """DDP through the contract: its module is wrapped by add_trained, its data sharded with ctx.shard. With
    AIBENCH_FAKE_FAIL_RANK=r (or _KILL_RANK=r) rank r raises (or is SIGKILLed) in epoch 2."""

    profiles = _tiny(AtLeast("score", 3.0), max_epochs=4)

    def build(self) -> None:
        model = torch.nn.Linear(4, 1)
        self.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        self.model = self.add_trained("model", model, self.optimizer)
        gen = torch.Generator().manual_seed(0)
        self.x, self.y = torch.randn(16, 4, generator=gen), torch.randn(16, 1, generator=gen)
        self.epoch = 0

    def train_batches(self, epoch: int) -> Iterable[Any]:
        self.epoch = epoch
        order = torch.randperm(16, generator=torch.Generator().manual_seed(self.ctx.seed + epoch))
        return order[self.ctx.shard(16)].split(self.settings.batch_size)

    def train_step(self, batch: Any) -> StepOutput:
        if self.epoch == 2 and os.environ.get("AIBENCH_FAKE_FAIL_RANK") == str(self.ctx.rank):
            raise ValueError(f"injected failure on rank {self.ctx.rank}")
        if self.epoch == 2 and os.environ.get("AIBENCH_FAKE_KILL_RANK") == str(self.ctx.rank):
            os.kill(os.getpid(), signal.SIGKILL)
        loss = torch.nn.functional.mse_loss(self.model(self.x[batch]), self.y[batch])
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return StepOutput(loss=loss.detach(), samples=len(batch))
