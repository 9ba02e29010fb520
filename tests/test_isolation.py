"""Faults in one session are recorded and do not stop the others (fault benchmarks in tests/plugins)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import aibench.harness.runner as runner
from aibench.cli import main
from aibench.harness.config import Overrides
from aibench.harness.display import PlainDisplay
from aibench.harness.results import validate_result

pytestmark = pytest.mark.slow


def _results(out: Path) -> dict[str, dict]:
    return {p.parent.parent.name: json.loads(p.read_text()) for p in out.glob("*/run-1/result.json")}


def test_crash_exception_and_divergence_do_not_stop_the_suite(tmp_path: Path):
    rc = main(
        [
            "run",
            "TEST-crash",
            "TEST-raise",
            "TEST-diverge",
            "TEST-slow",
            "--profile",
            "tiny",
            "--seed",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    assert rc == 1
    results = _results(tmp_path)
    assert results["TEST-crash"]["status"] == "crashed"
    assert "exited with code 3" in results["TEST-crash"]["error"]
    assert results["TEST-crash"]["curve"][0]["epoch"] == 1  # what it measured before dying is kept
    assert (
        results["TEST-raise"]["status"] == "error" and "corrupt file /nowhere/x.jpg" in results["TEST-raise"]["error"]
    )
    assert results["TEST-diverge"]["status"] == "diverged" and "non-finite loss" in results["TEST-diverge"]["error"]
    assert results["TEST-slow"]["status"] == "success"
    assert results["TEST-slow"]["metrics"]["epochs_to_quality"] == 3
    for r in results.values():
        validate_result(r)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary["benchmarks"]) == 4
    # The crashed session's log was closed with run_stop so it still says how the session ended.
    assert '"status": "error"' in (tmp_path / "TEST-crash" / "run-1" / "mllog.txt").read_text()


def test_session_past_its_time_limit_stops_with_status_timeout(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AIBENCH_FAKE_STEP_S", "0.2")
    rc = main(["run", "TEST-slow", "--profile", "tiny", "--time-limit", "1", "--out", str(tmp_path)])
    assert rc == 1
    result = _results(tmp_path)["TEST-slow"]
    assert result["status"] == "timeout" and "wall-clock limit" in result["error"]
    validate_result(result)


def test_hung_session_is_killed_and_recorded(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(runner, "KILL_GRACE_S", 2.0)
    plan = runner.RunPlan(
        benchmarks=("TEST-hang", "TEST-slow"),
        profile="tiny",
        seed=3,
        out_dir=tmp_path,
        overrides=Overrides(time_limit_s=5),
    )
    results = runner.run_plan(plan, PlainDisplay())
    assert [r["status"] for r in results] == ["timeout", "success"]
    assert "past its time limit" in results[0]["error"]


def test_ctrl_c_keeps_finished_sessions(tmp_path: Path):
    env = {**os.environ, "AIBENCH_FAKE_STEP_S": "0.3"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aibench.cli",
            "run",
            "TEST-diverge",
            "TEST-slow",
            "--profile",
            "tiny",
            "--out",
            str(tmp_path),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # A shell's background job inherits SIGINT ignored; a user's terminal does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    log = tmp_path / "TEST-slow" / "run-1" / "mllog.txt"
    deadline = time.monotonic() + 120
    # Wait for TEST-slow's first epoch itself, not its log file: start-up before run_start varies with the machine.
    while not (log.exists() and '"epoch_start"' in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)  # TEST-slow is now mid-training: it reaches its target in epoch 3, 2.4 s per epoch
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    results = _results(tmp_path)
    assert results["TEST-diverge"]["status"] == "diverged"
    assert results["TEST-slow"]["status"] == "aborted"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [row["benchmark"] for row in summary["benchmarks"]] == ["TEST-diverge", "TEST-slow"]


def test_quasi_entire_session_runs_exactly_n_epochs(tmp_path: Path):
    rc = main(["run", "TEST-slow", "--profile", "tiny", "--epochs", "4", "--out", str(tmp_path)])
    assert rc == 0
    result = _results(tmp_path)["TEST-slow"]
    assert result["status"] == "completed"
    assert result["metrics"]["epochs_completed"] == 4
    assert result["metrics"]["epochs_to_quality"] == 3  # crossed on the way, without stopping


def test_runs_use_distinct_seeds_and_are_summarized(tmp_path: Path):
    rc = main(["run", "TEST-slow", "--profile", "tiny", "--runs", "3", "--seed", "10", "--out", str(tmp_path)])
    assert rc == 0
    summary = json.loads((tmp_path / "summary.json").read_text())["benchmarks"][0]
    assert summary["seeds"] == [10, 11, 12]
    assert summary["runs"] == 3 and summary["reached_target"] == 3
    assert summary["epochs_to_quality_cv"] == 0.0
    assert summary["time_to_quality_rule"].startswith("olympic")


def test_build_failure_is_an_error_with_a_complete_log(tmp_path: Path, capsys):
    assert main(["run", "TEST-build-error", "--profile", "tiny", "--out", str(tmp_path)]) == 1
    result = _results(tmp_path)["TEST-build-error"]
    assert result["status"] == "error" and "cannot build: out of device memory" in result["error"]
    validate_result(result)
    capsys.readouterr()
    assert main(["check", str(tmp_path)]) == 0, capsys.readouterr().out  # init, run_start, run_stop(error)
