"""`aibench infer`'s harness: LoadGen scenarios over a tiny fake benchmark (tests/plugins/inference_fake.py)."""

from __future__ import annotations

import faulthandler
import io
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

pytest.importorskip("mlperf_loadgen")

from aibench.benchmarks.base import BenchmarkContext
from aibench.harness.config import Overrides, SessionConfig
from aibench.harness.inference import (
    LOG_FILES,
    SERVER_LOAD_FRACTION,
    SERVER_MIN_QUERIES,
    SINGLE_STREAM_MIN_QUERIES,
    CheckpointError,
    InferenceConfig,
    decode_output,
    encode_output,
    find_checkpoint,
    parse_summary,
    print_inference,
    run_inference,
)
from aibench.harness.results import write_json_atomic
from aibench.harness.session import run_session, seed_everything

DURATION_S = 0.3
HANG_LIMIT_S = 60.0


@pytest.fixture
def fakes():
    """The fake inference benchmarks (TEST-infer, TEST-infer-fails), registered by tests/conftest.py."""
    import inference_fake

    return inference_fake


def _run(cfg: InferenceConfig, **kwargs: Any) -> dict[str, Any]:
    """run_inference in a thread, failing (not hanging) the test if LoadGen never returns."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = run_inference(cfg, **kwargs)
        except BaseException as exc:
            box["error"] = exc

    faulthandler.dump_traceback_later(HANG_LIMIT_S + 30, exit=True)  # last resort if the join below is stuck
    try:
        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        thread.join(HANG_LIMIT_S)
        assert not thread.is_alive(), f"run_inference still running after {HANG_LIMIT_S:g} s: LoadGen hangs"
    finally:
        faulthandler.cancel_dump_traceback_later()
    if "error" in box:
        raise box["error"]
    json.dumps(box["result"])  # the caller writes it as JSON
    return box["result"]


def _cfg(tmp_path: Path, bench: str = "TEST-infer", **kwargs: Any) -> InferenceConfig:
    args = dict(
        benchmark=bench,
        data_root=tmp_path,
        out_dir=tmp_path / "infer",
        profile="tiny",
        device="cpu",
        seed=3,
        min_duration_s=DURATION_S,
    )
    args.update(kwargs)
    return InferenceConfig(**args)


def _trained_checkpoint(
    fake: Any,
    folder: Path,
    *,
    bench_id: str = "TEST-infer",
    profile: str = "tiny",
    status: str = "success",
    finished_at: str = "2026-01-01T00:00:00+00:00",
) -> Path:
    """A real (in-process) session of the fake: weights.pt beside a valid result.json, then relabelled."""
    cfg = SessionConfig(
        benchmark="TEST-infer",
        profile="tiny",
        seed=7,
        run_index=1,
        session_dir=str(folder),
        data_root=str(folder),
        data_source="embedded",
        device="cpu",
        overrides=Overrides(),
    )
    result = run_session(cfg, lambda event: None)
    result.update(status=status, finished_at=finished_at, profile=profile)
    result["benchmark"]["id"] = bench_id
    write_json_atomic(folder / "result.json", result)
    return folder / "weights.pt"


class FakeMeter:
    """A meter whose counter advances 0.5 J per read (two domains)."""

    source = "fake"
    missing: dict[str, str] = {}

    def __init__(self) -> None:
        self.reads, self.closed = 0, False

    def read(self) -> Any:
        from types import SimpleNamespace

        self.reads += 1
        return SimpleNamespace(joules={"package-0": 0.4 * self.reads, "dram": 0.1 * self.reads})

    def close(self) -> None:
        self.closed = True


def test_performance_scenarios_report_verdicts_latencies_and_logs(tmp_path: Path, fakes: Any) -> None:
    meter = FakeMeter()
    cfg = _cfg(tmp_path)
    assert cfg.resolved_scenarios() == ("SingleStream", "Offline", "Server")  # no weights: no AccuracyOnly
    result = _run(cfg, energy_meter_factory=lambda device: (meter, None))

    assert result["kind"] == "inference" and result["status"] == "ok"
    assert result["weights"] == {
        "trained": False,
        "checkpoint": None,
        "session": None,
        "note": result["weights"]["note"],
    }
    assert result["loadgen"]["version"]
    assert set(result["scenarios"]) == {"SingleStream", "Offline", "Server"}
    for name, sc in result["scenarios"].items():
        assert sc["status"] == "ok", sc.get("error")
        assert sc["verdict"] in ("VALID", "INVALID")
        assert (sc["verdict"] == "VALID") == (not sc["invalid_reasons"])
        lat = sc["latency_ms"]
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
        assert sc["samples_per_s"] > 0 and sc["samples"] > 0
        for key in ("summary", "detail", "trace"):
            path = cfg.out_dir / sc["files"][key]
            assert path.is_file() and path.stat().st_size > 0, path
            assert path.parent == cfg.out_dir / name
        assert sc["energy"]["energy_per_inference_j"] == pytest.approx(0.5 / sc["samples"])
        assert sc["energy"]["joules"]["total"] == pytest.approx(0.5)
    assert meter.closed

    ss, off, srv = (result["scenarios"][n] for n in ("SingleStream", "Offline", "Server"))
    # One query at a time: batch 1. Offline: full batches of the benchmark's inference batch size (4).
    assert ss["batching"]["max_batch_seen"] == 1
    assert off["batching"]["max_batch_seen"] == 4 and off["batching"]["mean_batch"] > 3.5
    # Defaults: the least early stopping accepts, the Server load and bound derived from this run.
    assert ss["settings"]["min_query_count"] == SINGLE_STREAM_MIN_QUERIES
    assert ss["queries"] >= SINGLE_STREAM_MIN_QUERIES
    assert srv["settings"]["min_query_count"] == SERVER_MIN_QUERIES
    assert srv["target_qps"] == pytest.approx(SERVER_LOAD_FRACTION * off["samples_per_s"])
    assert "Offline throughput measured in this run" in srv["settings_source"]["server_target_qps"]
    assert "SingleStream p99 measured in this run" in srv["settings_source"]["server_target_latency_ns"]
    assert srv["latency_bound_ms"] >= 4 * ss["latency_ms"]["p99"] * 0.999
    # On an idle machine these two are VALID; the Server verdict depends on the machine's load.
    assert ss["verdict"] == "VALID", ss["invalid_reasons"]
    assert off["verdict"] == "VALID", off["invalid_reasons"]

    console_out = io.StringIO()
    from rich.console import Console

    print_inference(result, Console(file=console_out, width=200))
    text = console_out.getvalue()
    assert "SingleStream" in text and "Server" in text and "UNTRAINED" in text


def test_accuracy_only_reproduces_evaluate(tmp_path: Path, fakes: Any) -> None:
    checkpoint = _trained_checkpoint(fakes, tmp_path / "results" / "TEST-infer" / "run-1")
    cfg = _cfg(tmp_path, scenarios=("AccuracyOnly",), checkpoint=checkpoint)
    result = _run(cfg, energy_meter_factory=lambda device: (None, "no counters here"))
    acc = result["scenarios"]["AccuracyOnly"]
    assert acc["status"] == "ok", acc.get("error")
    assert acc["samples_seen"] == acc["eval_samples"] == fakes.SAMPLES and acc["duplicates"] == 0
    assert (cfg.out_dir / acc["files"]["accuracy"]).is_file()
    assert result["weights"]["trained"] and result["weights"]["session"].endswith("result.json")
    assert result["weights"]["session_status"] == "success"

    # The same weights evaluated the way a training session does.
    cls = fakes.LinearInference
    seed_everything(cfg.seed)
    bench = cls(
        BenchmarkContext(
            profile="tiny", settings=cls.profiles["tiny"], data_root=tmp_path, device=torch.device("cpu"), seed=cfg.seed
        )
    )
    bench.build()
    bench.load_data()
    bench.load_model_state(torch.load(checkpoint, weights_only=True))
    expected = bench.evaluate()
    assert acc["quality"] == expected
    assert acc["quality_value"] == expected["accuracy"] and acc["quality_metric"] == "accuracy"
    assert acc["meets_target"] == cls.profiles["tiny"].target.met(expected)
    assert "quality" not in result["unavailable"]


def test_accuracy_only_without_weights_is_refused(tmp_path: Path, fakes: Any) -> None:
    with pytest.raises(CheckpointError, match=r"aibench run TEST-infer .*--checkpoint.*--results"):
        _cfg(tmp_path, scenarios=("AccuracyOnly",))
    assert _cfg(tmp_path, checkpoint=tmp_path / "w.pt").resolved_scenarios() == (
        "SingleStream",
        "Offline",
        "Server",
        "AccuracyOnly",
    )


def test_worker_exception_fails_the_scenario_without_hanging(tmp_path: Path, fakes: Any) -> None:
    cfg = _cfg(tmp_path, bench="TEST-infer-fails", scenarios=("SingleStream", "Offline"))
    result = _run(cfg, energy_meter_factory=lambda device: (None, "none"))
    assert result["status"] == "error"
    for name in ("SingleStream", "Offline"):
        sc = result["scenarios"][name]
        assert sc["status"] == "error" and sc["verdict"] is None
        assert "injected inference failure on sample" in sc["error"]
        assert sc["batching"]["failed_samples"] > 0
        assert "latency_ms" not in sc  # nothing is claimed for a failed scenario


def test_checkpoint_checks(tmp_path: Path, fakes: Any) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        _run(_cfg(tmp_path, checkpoint=tmp_path / "missing.pt", scenarios=("SingleStream",)))
    other = _trained_checkpoint(fakes, tmp_path / "c8", bench_id="TEST-infer-fails")
    with pytest.raises(CheckpointError, match="holds TEST-infer-fails weights"):
        _run(_cfg(tmp_path, checkpoint=other, scenarios=("SingleStream",)))
    small = _trained_checkpoint(fakes, tmp_path / "small", profile="small")
    with pytest.raises(CheckpointError, match="--profile small"):
        _run(_cfg(tmp_path, checkpoint=small, scenarios=("SingleStream",)))


def test_find_checkpoint(tmp_path: Path, fakes: Any) -> None:
    results = tmp_path / "results"
    with pytest.raises(CheckpointError, match="not a directory"):
        find_checkpoint(results, "TEST-infer")
    results.mkdir()
    with pytest.raises(CheckpointError, match=r"no successful session of TEST-infer.*aibench run TEST-infer"):
        find_checkpoint(results, "TEST-infer")
    _trained_checkpoint(fakes, results / "a" / "TEST-infer" / "run-1", finished_at="2026-01-01T00:00:00+00:00")
    newest = _trained_checkpoint(fakes, results / "b" / "TEST-infer" / "run-1", finished_at="2026-02-01T00:00:00+00:00")
    _trained_checkpoint(
        fakes, results / "c" / "TEST-infer" / "run-1", status="diverged", finished_at="2026-03-01T00:00:00+00:00"
    )
    _trained_checkpoint(
        fakes,
        results / "d" / "TEST-infer-fails" / "run-1",
        bench_id="TEST-infer-fails",
        finished_at="2026-04-01T00:00:00+00:00",
    )
    (results / "e" / "TEST-infer" / "run-1").mkdir(parents=True)
    (results / "e" / "TEST-infer" / "run-1" / "result.json").write_text('{"kind": "training", "status": "[b]x')
    assert find_checkpoint(results, "TEST-infer") == newest  # a corrupt result is skipped, not fatal
    assert find_checkpoint(results, "TEST-infer", profile="tiny") == newest
    with pytest.raises(CheckpointError, match=r"status diverged.*--checkpoint .*c/TEST-infer/run-1/weights.pt"):
        find_checkpoint(results / "c", "TEST-infer")
    with pytest.raises(CheckpointError, match=r"profile tiny"):
        find_checkpoint(results, "TEST-infer", profile="small")


def test_output_round_trip_and_summary_parsing(tmp_path: Path) -> None:
    for value in (np.arange(6, dtype=np.int16).reshape(2, 3), np.float32(1.5), np.zeros((0, 4))):
        back = decode_output(bytes.fromhex(encode_output(value).hex()))
        assert back.dtype == np.asarray(value).dtype and back.shape == np.shape(value)
        assert np.array_equal(back, value)
    summary = tmp_path / LOG_FILES["summary"]
    summary.write_text(
        "================================================\nMLPerf Results Summary\n"
        "================================================\nScenario : Server\nMode     : PerformanceOnly\n"
        "Completed samples per second    : 100.99\nResult is : INVALID\n"
        "  Performance constraints satisfied : Yes\n  Min duration satisfied : NO\n"
        "  Min queries satisfied : Yes\n  Early stopping satisfied: NO\nRecommendations:\n"
        " * Increase the target QPS so the loadgen pre-generates more queries.\nEarly Stopping Result:\n"
        " * Run unsuccessful.\n * Processed 54 queries.\n * Would need to run at least 405 more queries,\n"
        " with the run being successful if every additional\n query were under latency.\n\n"
        "================================================\nAdditional Stats\n"
    )
    parsed = parse_summary(summary)
    assert parsed.fields["Result is"] == "INVALID" and parsed.fields["Early stopping satisfied"] == "NO"
    assert parsed.sections["Recommendations"] == ["Increase the target QPS so the loadgen pre-generates more queries."]
    assert parsed.sections["Early Stopping Result"][-1] == (
        "Would need to run at least 405 more queries, with the run being successful if every additional "
        "query were under latency."
    )
