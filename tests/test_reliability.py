"""Faults and bad input that must not lose a result, train on garbage, or fool a reader (docs/reliability.md)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aibench.cli import main
from aibench.datasets.embedded import DatasetSpec, ensure_embedded
from aibench.harness.results import ResultFileError, finite_or_null, load_results, read_result
from aibench.harness.runner import LOCK_NAME, ResultsFolder

pytestmark = pytest.mark.slow


def _result(out: Path, bench: str, run: int = 1) -> dict:
    return json.loads((out / bench / f"run-{run}" / "result.json").read_text())


def _strict_json(path: Path) -> object:
    def refuse(name: str) -> None:
        raise AssertionError(f"{path} holds {name}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


# -- faults ----------------------------------------------------------------------------------------------------


def _aibench(*args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "aibench.cli", *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _session_processes(out: Path) -> list[int]:
    """Worker processes still running a session of this results folder."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "aibench.harness.worker" in cmdline and str(out) in cmdline:
                found.append(int(proc.name))
    return found


def test_sigterm_stops_the_run_like_ctrl_c(tmp_path: Path):
    out = tmp_path / "runs"
    proc = _aibench(
        "run", "TEST-slow", "--profile", "tiny", "--runs", "2", "--out", str(out), AIBENCH_FAKE_STEP_S="0.3"
    )
    log = out / "TEST-slow" / "run-2" / "mllog.txt"
    deadline = time.monotonic() + 120
    while not (log.exists() and '"epoch_start"' in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)  # what a batch scheduler sends
    text, _ = proc.communicate(timeout=60)
    assert proc.returncode == 143, text
    assert _result(out, "TEST-slow", 1)["status"] == "success"
    second = _result(out, "TEST-slow", 2)
    assert second["status"] == "aborted" and "SIGTERM" in second["error"]
    assert '"status": "aborted"' in log.read_text()
    time.sleep(0.5)
    assert _session_processes(out) == []


def test_killing_aibench_run_leaves_no_session_behind(tmp_path: Path):
    out = tmp_path / "runs"
    proc = _aibench("run", "TEST-slow", "--profile", "tiny", "--out", str(out), AIBENCH_FAKE_STEP_S="0.3")
    log = out / "TEST-slow" / "run-1" / "mllog.txt"
    deadline = time.monotonic() + 120
    while not (log.exists() and '"epoch_start"' in log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.kill()  # SIGKILL: no handler runs in the parent; the worker learns of it from the kernel
    proc.wait()
    deadline = time.monotonic() + 30
    while _session_processes(out) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session_processes(out) == []
    assert _result(out, "TEST-slow")["status"] == "aborted"  # the orphan recorded how it ended


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 6 MB tmpfs: room for one session's 4 MB of weights, not two."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6M", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_disk_filling_up_costs_the_sessions_it_hits_not_the_run(small_disk: Path, capsys):
    out = small_disk / "runs"
    assert main(["run", "TEST-big-weights", "--profile", "tiny", "--runs", "3", "--out", str(out)]) == 1
    first, second = _result(out, "TEST-big-weights", 1), _result(out, "TEST-big-weights", 2)
    assert first["status"] == "success" and (out / "TEST-big-weights" / "run-1" / "weights.pt").is_file()
    assert second["status"] == "error" and "could not save the weights" in second["error"]
    assert "MiB free on its filesystem" in second["error"]
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []  # no half-written weights
    capsys.readouterr()
    assert main(["summarize", str(out)]) == 0
    assert "TEST-big-weights" in capsys.readouterr().out
    assert main(["check", str(out)]) == 0


def test_an_unwritable_results_folder_is_a_usage_error(tmp_path: Path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for out in (a_file, Path("/proc/aibench-results")):
        assert main(["run", "TEST-slow", "--profile", "tiny", "--out", str(out)]) == 2
        assert "cannot create a results folder there" in capsys.readouterr().err


def test_a_results_folder_belongs_to_one_run(tmp_path: Path, capsys):
    out = tmp_path / "runs"
    assert main(["run", "TEST-slow", "--profile", "tiny", "--out", str(out)]) == 0
    before = (out / "TEST-slow" / "run-1" / "result.json").read_bytes()
    assert main(["run", "TEST-slow", "--profile", "tiny", "--out", str(out)]) == 2
    assert "already holds the results of an earlier run" in capsys.readouterr().err
    assert (out / "TEST-slow" / "run-1" / "result.json").read_bytes() == before
    busy = ResultsFolder(tmp_path / "busy")  # another run, still writing
    try:
        assert main(["run", "TEST-slow", "--profile", "tiny", "--out", str(tmp_path / "busy")]) == 2
        assert "another `aibench run` is writing" in capsys.readouterr().err
    finally:
        busy.close()
    assert not (tmp_path / "busy" / LOCK_NAME).exists()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["benchmarks"][0]["runs"] == 1


def _slow_generate(root: Path, params: object, seed: int) -> None:
    (root / "slow").mkdir()
    for i in range(20):
        (root / "slow" / f"{i}.txt").write_text(str(i))
        time.sleep(0.02)


SLOW = DatasetSpec(name="slow", required=("slow",), generate=_slow_generate, params=type(None))


def _prepare(cache: str, queue: multiprocessing.Queue) -> None:
    os.environ["AIBENCH_DATA_CACHE"] = cache
    queue.put(str(ensure_embedded(SLOW, None)))


def test_two_processes_preparing_the_same_data_never_see_or_leave_an_incomplete_copy(tmp_path: Path):
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    workers = [ctx.Process(target=_prepare, args=(str(tmp_path), queue)) for _ in range(2)]
    for w in workers:
        w.start()
    seen_incomplete = 0
    while any(w.is_alive() for w in workers):
        for root in tmp_path.glob("slow-*"):
            if not root.name.count(".tmp-") and root.is_dir() and not (root / ".complete").exists():
                seen_incomplete += 1
        time.sleep(0.005)
    roots = {queue.get(timeout=10) for _ in workers}
    assert len(roots) == 1 and seen_incomplete == 0
    root = Path(roots.pop())
    assert (root / ".complete").exists() and len(list((root / "slow").iterdir())) == 20
    assert [p.name for p in tmp_path.iterdir()] == [root.name]  # the loser's temporary copy is gone


def test_check_refuses_a_log_with_a_huge_line_quickly(tmp_path: Path, capsys):
    log = tmp_path / "mllog.txt"
    log.write_text(':::MLLOG {"key": "x", "value": "' + "a" * (2 << 20) + '"}\n')
    t0 = time.monotonic()
    assert main(["check", str(log)]) == 1
    assert time.monotonic() - t0 < 10
    assert "longer than 64 KiB" in capsys.readouterr().out


# -- result files are untrusted -----------------------------------------------------------------------------------


def test_results_are_json_without_nan_and_readable_by_others(tmp_path: Path):
    assert main(["run", "TEST-diverge", "--profile", "tiny", "--out", str(tmp_path)]) == 1
    path = tmp_path / "TEST-diverge" / "run-1" / "result.json"
    _strict_json(path)
    _strict_json(tmp_path / "summary.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()
    cleaned, reasons = finite_or_null({"a": float("nan"), "b": [1.0, float("inf")], "c": "x"})
    assert cleaned == {"a": None, "b": [1.0, None], "c": "x"}
    assert reasons == {"a": "not a finite number (nan)", "b[1]": "not a finite number (inf)"}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("finished")
    assert main(["run", "TEST-slow", "TEST-odd-text", "--profile", "tiny", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda r: "{not json", "not valid JSON"),
        (lambda r: json.dumps({**r, "metrics": {**r["metrics"], "run_time_s": -5.0}}), "metrics/run_time_s"),
        (
            lambda r: json.dumps({**r, "metrics": {**r["metrics"], "epochs_completed": "three"}}),
            "metrics/epochs_completed",
        ),
        (lambda r: json.dumps({**r, "status": "[blink red]success[/]"}), "at status"),
        (lambda r: "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (lambda r: json.dumps({**r, "seed": 12345}).replace('"seed": 12345', '"seed": NaN'), "not valid JSON"),
    ],
)
def test_a_bad_result_file_is_skipped_by_path_not_fatal(finished_run: Path, tmp_path: Path, damage, reason, capsys):
    out = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(finished_run), str(out)], check=True)
    bad = out / "TEST-slow" / "run-1" / "result.json"
    bad.write_text(damage(json.loads(bad.read_text())))
    with pytest.raises(ResultFileError, match=reason):
        read_result(bad)
    loaded = load_results(out)
    assert [r["benchmark"]["id"] for r in loaded.results] == ["TEST-odd-text"] and loaded.skipped[0][0] == bad
    capsys.readouterr()
    assert main(["summarize", str(out)]) == 1
    captured = capsys.readouterr()
    assert f"skipped {bad}" in captured.err and "TEST-odd-text" in captured.out
    assert (
        main(["characterize", "C16", "--profile", "tiny", "--results", str(out), "--out", str(tmp_path / "c.json")])
        == 0
    )
    assert f"skipped {bad}" in capsys.readouterr().err


def test_text_from_results_is_printed_as_text(finished_run: Path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # no wrapping inside the table's cells
    assert main(["summarize", str(finished_run)]) == 0
    out = capsys.readouterr().out
    assert "[blink red]markup[/] and ANSI in its name" in out and "\x1b" not in out


def test_os_errors_are_one_line_naming_the_path(tmp_path: Path, capsys):
    assert main(["summarize", "/etc/hostname"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    target = tmp_path / "out.json"
    target.mkdir()
    assert main(["characterize", "C16", "--profile", "tiny", "--out", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(target) in err
