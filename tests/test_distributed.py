"""Data-parallel sessions on torchrun (gloo, 2 ranks, CPU): the harness, the faults, and what DDP computes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from aibench import registry
from aibench.cli import main
from aibench.harness.distributed import Launch, LaunchError, torchrun_root_cause

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture(autouse=True)
def one_thread_per_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIBENCH_THREADS", "1")  # 2 ranks on 2 cores


def _result(out: Path, bench: str) -> dict:
    return json.loads((out / bench / "run-1" / "result.json").read_text())


def _workers(out: Path) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(out) in cmdline and ("aibench.harness.worker" in cmdline or "torch.distributed.run" in cmdline):
            found.append(cmdline)
    return found


def test_a_two_rank_session_trains_logs_once_and_passes_the_checker(tmp_path: Path, capsys):
    assert main(["run", "TEST-dp", "--profile", "tiny", "--nproc-per-node", "2", "--out", str(tmp_path)]) == 0
    result = _result(tmp_path, "TEST-dp")
    assert result["status"] == "success" and result["metrics"]["epochs_to_quality"] == 3
    dp = result["distributed"]
    assert dp["world_size"] == 2 and dp["backend"] == "gloo" and dp["batch_size_per_rank"] == 1
    assert [r["rank"] for r in dp["per_rank"]] == [0, 1] and all(r["peak_rss_mib"] > 0 for r in dp["per_rank"])
    assert result["metrics"]["throughput_samples_per_s"] == pytest.approx(
        sum(r["throughput_samples_per_s"] for r in dp["per_rank"])
    )
    log = (tmp_path / "TEST-dp" / "run-1" / "mllog.txt").read_text()
    assert log.count('"key": "run_start"') == 1 and '"key": "global_batch_size", "value": 2' in log
    capsys.readouterr()
    assert main(["check", str(tmp_path)]) == 0
    assert _workers(tmp_path) == []


@pytest.mark.parametrize(
    "fault, status, words",
    [
        ("AIBENCH_FAKE_FAIL_RANK", "error", ["rank 1: ValueError: injected failure on rank 1"]),
        ("AIBENCH_FAKE_KILL_RANK", "crashed", ["rank 1 was killed by SIGKILL", "the other ranks were stopped"]),
    ],
)
def test_a_failing_rank_ends_the_whole_session_quickly(tmp_path: Path, monkeypatch, fault, status, words):
    monkeypatch.setenv(fault, "1")
    t0 = time.monotonic()
    assert (
        main(["run", "TEST-dp", "TEST-slow", "--profile", "tiny", "--nproc-per-node", "2", "--out", str(tmp_path)]) == 1
    )
    result = _result(tmp_path, "TEST-dp")
    assert result["status"] == status, result["error"]
    for w in words:
        assert w in result["error"]
    assert time.monotonic() - t0 < 120  # both sessions, start-up included; the failure itself is seconds
    assert _result(tmp_path, "TEST-slow")["status"] == "success"  # the other sessions go on
    assert _workers(tmp_path) == []


def test_one_step_on_two_ranks_equals_one_step_on_the_whole_batch(tmp_path: Path):
    """DDP really averages gradients: Caser's student (no BatchNorm, dropout off), 2 ranks x 4 windows versus 1 x 8.

    The parameters agree to float32 rounding (1e-6): the only difference is the order in which the gradient
    sums are added (per rank, then across ranks)."""
    script = str(PLUGINS / "ddp_step.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, script, str(tmp_path / "one.pt")], check=True, env=env)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node=2",
            script,
            str(tmp_path / "two.pt"),
        ],
        check=True,
        env=env,
        capture_output=True,
    )
    one, two = torch.load(tmp_path / "one.pt"), torch.load(tmp_path / "two.pt")
    for name, before in one["before"].items():
        torch.testing.assert_close(two["before"][name], before, rtol=0, atol=0)  # the same start
        torch.testing.assert_close(two["after"][name], one["after"][name], rtol=1e-5, atol=1e-6, msg=name)
    # The step moved the weights, by far more than the tolerance: the comparison is not of two untouched copies.
    assert (one["after"]["W2.weight"] - one["before"]["W2.weight"]).abs().max() > 1e-3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--nproc-per-node", "0"], "must be at least 1"),
        (["--nnodes", "2", "--seed", "1"], "several nodes need a meeting point"),
        (["--nnodes", "2", "--rdzv-endpoint", "h:29400"], "needs --seed S, the same on every node"),
        (["--nproc-per-node", "3"], "does not divide among 3 ranks"),
        (["--nproc-per-node", "2", "--sync-batchnorm"], "SyncBatchNorm works only on GPUs"),
        (["--nnodes", "2", "--node-rank", "2", "--rdzv-endpoint", "h:1", "--seed", "1"], "--node-rank must be in 0..1"),
    ],
)
def test_distributed_usage_errors(argv, message, tmp_path: Path, capsys):
    assert main(["run", "TEST-dp", "--profile", "tiny", "--out", str(tmp_path / "x"), *argv]) == 2
    assert message in capsys.readouterr().err


def test_torchrun_commands_and_failure_reports():
    single = Launch(nproc_per_node=2).torchrun_command(["cfg.json"], "id")
    assert "--standalone" in single and single[-3:] == ["-m", "aibench.harness.worker", "cfg.json"]
    multi = Launch(nproc_per_node=4, nnodes=2, node_rank=1, rdzv_endpoint="n0:29400").torchrun_command(["c"], "r1")
    assert {"--rdzv-backend=c10d", "--rdzv-endpoint=n0:29400", "--rdzv-id=r1", "--node-rank=1"} <= set(multi)
    with pytest.raises(LaunchError):
        Launch(nnodes=2, rdzv_endpoint="n0:29400", master_addr="n0")
    report = (
        "Root Cause (first observed failure):\n[0]:\n  time      : 2026\n  host      : n1\n"
        "  rank      : 3 (local_rank: 1)\n  exitcode  : 1 (pid: 7)\n  error_file: <N/A>\n"
        "  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html\n"
    )
    assert torchrun_root_cause(report) == "rank 3 exited with code 1"
    # Rank 1 was killed, and rank 0, failing on the lost connection, was observed first: the kill is the cause.
    raced = (
        "Failures:\n[1]:\n  time      : 2026\n  rank      : 1 (local_rank: 1)\n  exitcode  : -9 (pid: 8)  (SIGKILL)\n"
        "  error_file: <N/A>\n  traceback : Signal 9 (SIGKILL) received by PID 8\n"
        + "-" * 60
        + "\n"
        + report.replace("rank      : 3", "rank      : 0").replace("exitcode  : 1", "exitcode  : 3")
        + "=" * 60
        + "\n"
    )
    assert torchrun_root_cause(raced) == "rank 1 was killed by SIGKILL"


RUNNABLE = registry.runnable_ids()


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One epoch of every registered benchmark's tiny profile on 2 ranks, in one `aibench run`."""
    out = tmp_path_factory.mktemp("two-ranks")
    threads = os.environ.get("AIBENCH_THREADS")
    os.environ["AIBENCH_THREADS"] = "1"  # per rank: 2 ranks on 2 cores
    try:
        assert (
            main(
                [
                    "run",
                    *RUNNABLE,
                    "--profile",
                    "tiny",
                    "--epochs",
                    "1",
                    "--nproc-per-node",
                    "2",
                    "--seed",
                    "4",
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
    finally:
        if threads is None:
            del os.environ["AIBENCH_THREADS"]
        else:
            os.environ["AIBENCH_THREADS"] = threads
    return out


@pytest.mark.timeout(60 * len(RUNNABLE) + 120)
@pytest.mark.parametrize("bench_id", RUNNABLE)
def test_every_benchmark_runs_on_two_ranks(two_rank_run: Path, bench_id: str, capsys):
    result = _result(two_rank_run, bench_id)
    assert result["status"] == "completed", result["error"]
    assert result["distributed"]["world_size"] == 2 and len(result["distributed"]["per_rank"]) == 2
    assert (two_rank_run / bench_id / "run-1" / "weights.pt").is_file()
    capsys.readouterr()
    assert main(["check", str(two_rank_run / bench_id / "run-1" / "mllog.txt")]) == 0
