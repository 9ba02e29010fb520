"""A tiny end-to-end session for every runnable benchmark, run through the real CLI and child processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from aibench import registry
from aibench.cli import main
from aibench.harness.compliance import write_rulesets
from aibench.harness.results import validate_result

RUNNABLE = registry.runnable_ids()
# One tiny session per registered benchmark, all in one `aibench run` (module fixture): the first test pays for
# all of them, so it gets a longer limit than pytest-timeout's default.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(60 * len(RUNNABLE) + 120)]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tiny-run")
    rc = main(["run", *RUNNABLE, "--profile", "tiny", "--seed", "7", "--out", str(out)])
    assert rc in (0, 1)  # 1: a tiny session need not reach its target
    return out


def _result(out: Path, bench_id: str) -> dict:
    return json.loads((out / bench_id / "run-1" / "result.json").read_text())


@pytest.mark.parametrize("bench_id", RUNNABLE)
def test_tiny_session_completes_and_matches_schema(tiny_run: Path, bench_id: str):
    result = _result(tiny_run, bench_id)
    validate_result(result)
    assert result["status"] in ("success", "target_not_reached"), result["error"]
    m = result["metrics"]
    assert m["epochs_completed"] >= 1 and m["run_time_s"] > 0 and m["peak_rss_mib"] > 0
    assert result["curve"] and registry.get_benchmark(bench_id).quality_metric in result["curve"][0]["quality"]
    assert result["seed"] == 7 and result["data"]["source"] == "embedded"
    assert (tiny_run / bench_id / "run-1" / "weights.pt").stat().st_size > 0
    assert m["unavailable"]["cuda_max_allocated_mib"]  # CPU session: reported unavailable with a reason
    # Counted FLOPs x measured throughput against the measured matmul peak of this machine.
    assert (
        result["characterization"]["train_step_flops_per_sample"]
        > result["characterization"]["forward_flops_per_sample"] * 0.9
        > 0
    )
    eff = result["efficiency"]
    assert eff["peak"]["fp32"]["flops_per_s"] > 0 and 0 < eff["fraction_of_peak"] < 2
    # Energy is a measured number or unavailable with the reason, never both, never an estimate.
    assert (m["energy_j"] is None) == ("energy_j" in m["unavailable"]) == ("unavailable" in result["energy"])


@pytest.mark.parametrize("bench_id", RUNNABLE)
def test_session_log_passes_mlcommons_compliance_checker(tiny_run: Path, bench_id: str, tmp_path: Path):
    log = tiny_run / bench_id / "run-1" / "mllog.txt"
    entry = write_rulesets(tmp_path / "rules")  # what `aibench ruleset --out` writes, run by MLCommons' own tool
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlperf_logging.compliance_checker",
            "--config",
            str(entry),
            "--log_output",
            str(tmp_path / "c.log"),
            str(log),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [json.loads(row.split(":::MLLOG ", 1)[1]) for row in log.read_text().splitlines() if ":::MLLOG" in row]
    keys = [e["key"] for e in lines]
    for key in (
        "init_start",
        "init_stop",
        "run_start",
        "epoch_start",
        "eval_accuracy",
        "run_stop",
        "seed",
        "global_batch_size",
        "submission_benchmark",
        "opt_name",
        "aibench_quality_target",
    ):
        assert key in keys
    assert next(e for e in lines if e["key"] == "submission_benchmark")["value"] == bench_id
    assert all("epoch_num" in e["metadata"] for e in lines if e["key"] == "eval_accuracy")


def test_summary_written(tiny_run: Path):
    summary = json.loads((tiny_run / "summary.json").read_text())
    assert {row["benchmark"] for row in summary["benchmarks"]} == set(RUNNABLE)


def test_aibench_check_runs_the_compliance_checker_on_a_results_folder(tiny_run: Path, capsys):
    assert main(["check", str(tiny_run)]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == len(RUNNABLE)


def test_aibench_check_fails_a_broken_log(tmp_path: Path, capsys):
    log = tmp_path / "mllog.txt"
    log.write_text(
        ':::MLLOG {"namespace": "", "time_ms": 1, "event_type": "INTERVAL_END", "key": "run_stop", '
        '"value": null, "metadata": {"file": "x", "lineno": 1, "status": "success"}}\n'
    )
    assert main(["check", str(log)]) == 1
    assert "FAIL" in capsys.readouterr().out
