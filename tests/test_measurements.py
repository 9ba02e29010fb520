"""Characterization, the inference contract and the session's energy and efficiency figures, per benchmark."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console

from aibench import registry
from aibench.analyses.characterize import characterize, epochs_to_quality, print_characterization
from aibench.benchmarks.base import BenchmarkContext
from aibench.datasets.embedded import ensure_embedded
from aibench.harness.config import Overrides, SessionConfig
from aibench.harness.energy import EnergySample
from aibench.harness.flops import characterize_model
from aibench.harness.peak import achieved, bf16_unsupported_reason, measure_peaks
from aibench.harness.results import validate_result
from aibench.harness.session import run_session, seed_everything

RUNNABLE = registry.runnable_ids()


def test_resnet50_at_224_matches_the_published_figures():
    cls = registry.get_benchmark("DC-AI-C1")
    counts = characterize_model(cls, cls.profiles["full"])
    assert counts["parameters"] == 25_557_032 and counts["counted_on"] == "meta"
    assert counts["forward_macs_per_sample"] == pytest.approx(4.09e9, rel=0.01)  # = 8.18 GFLOPs
    assert counts["train_step_flops_per_sample"] == pytest.approx(3 * counts["forward_flops_per_sample"], rel=0.01)


@pytest.mark.parametrize("bench_id", RUNNABLE)
def test_every_benchmark_is_characterized_at_the_tiny_profile(bench_id: str):
    cls = registry.get_benchmark(bench_id)
    counts = characterize_model(cls, cls.profiles["tiny"])
    assert counts["parameters"] > 0 and counts["forward_flops_per_sample"] > 0
    assert counts["train_step_flops_per_sample"] > 0 and counts["sample"]


def test_characterize_reads_epochs_to_the_convergent_quality_from_stored_curves(tmp_path: Path):
    def session(status: str, curve: list[float], to_target: int | None) -> dict:
        return {
            "benchmark": {"id": "DC-AI-C16"},
            "status": status,
            "profile": "small",
            "hyperparameters": {
                "target": "prec@3 >= 0.3",
                "convergent": "prec@3 >= 0.2",
                "convergent_rule": {"rule": "at_least", "metric": "prec@3", "value": 0.2},
            },
            "metrics": {"epochs_to_quality": to_target},
            "curve": [{"epoch": i, "quality": {"prec@3": q}} for i, q in enumerate(curve, start=1)],
        }

    results = [
        session("success", [0.1, 0.25, 0.31], 3),
        session("success", [0.21, 0.29, 0.3], 3),
        session("timeout", [0.05, 0.12], None),
    ]
    e = epochs_to_quality(results, "DC-AI-C16")
    assert e["convergent_quality"]["values"] == [2, 1] and e["target"]["values"] == [3, 3]
    assert e["profiles"] == ["small"] and e["convergent"] == ["prec@3 >= 0.2"]
    assert "unavailable" in epochs_to_quality(results, "DC-AI-C1")
    out = characterize(("DC-AI-C16",), "tiny")
    assert out["benchmarks"][0]["paper"].startswith("smallest forward FLOPs")
    assert "unavailable" in out["benchmarks"][0]["epochs_to_quality"]
    out["benchmarks"][0]["epochs_to_quality"] = epochs_to_quality(results[:1], "DC-AI-C16")  # one session: no CV
    text = io.StringIO()
    print_characterization(out, Console(file=text, width=220))
    assert "2.0 mean over 1 session(s) (prec@3 >= 0.2; CV needs 2+ sessions)" in text.getvalue()
    assert "3.0 mean over 1 session(s) (prec@3 >= 0.3; CV needs 2+ sessions)" in text.getvalue()


@pytest.mark.parametrize("bench_id", RUNNABLE)
def test_inference_outputs_reproduce_evaluate(bench_id: str):
    """LoadGen's accuracy mode scores infer() outputs; they must give the session's evaluate() quality."""
    cls = registry.get_benchmark(bench_id)
    settings = cls.profiles["tiny"]
    seed_everything(0)
    bench = cls(BenchmarkContext("tiny", settings, ensure_embedded(cls.dataset, settings.data), torch.device("cpu")))
    bench.build()
    bench.load_data()
    quality = bench.evaluate()
    n = bench.eval_samples()
    bench.load_samples(list(range(n // 2)))  # LoadGen preloads some samples; the rest are read on demand
    outputs = {}
    for start in range(0, n, 3):  # a batching unlike evaluate()'s
        chunk = list(range(start, min(start + 3, n)))
        outputs.update(zip(chunk, bench.infer(chunk)))
    assert all(isinstance(o, np.ndarray) for o in outputs.values())
    scored = bench.score(outputs)
    # Another batching changes float32 summation order inside the model: equal up to that rounding.
    assert scored[cls.quality_metric] == pytest.approx(quality[cls.quality_metric], rel=1e-5, abs=1e-9)
    for key in scored:
        assert scored[key] == pytest.approx(quality[key], rel=1e-5, abs=1e-9), key
    bench.unload_samples(list(range(n)))
    assert not getattr(getattr(bench, "eval_inputs", None), "held", None)


def test_peak_probe_and_achieved_ratio():
    peaks = measure_peaks(torch.device("cpu"), min_time_s=0.01)
    assert peaks["fp32"]["flops_per_s"] > 1e8 and peaks["method"]
    # bf16 is measured exactly where the hardware has it, else unavailable with the reason
    assert ("flops_per_s" in peaks["bf16"]) == (bf16_unsupported_reason(torch.device("cpu")) is None)
    fake = {"fp32": {"flops_per_s": 100.0}, "bf16": {"unavailable": "no bf16"}}
    assert achieved(2.0, 10.0, fake, "fp32")["fraction_of_peak"] == pytest.approx(0.2)
    assert achieved(2.0, 10.0, fake, "bf16")["unavailable"] == "no bf16"
    assert "unavailable" in achieved(None, 10.0, fake, "fp32")


class _FakeMeter:
    """10 J per reading, in two domains: stands in for NVML or RAPL, which these VMs lack."""

    source, domains = "fake", ["gpu0", "package-0"]

    def __init__(self) -> None:
        self.reads = 0

    def read(self) -> EnergySample:
        self.reads += 1
        return EnergySample(joules={"gpu0": 6.0 * self.reads, "package-0": 4.0 * self.reads})

    def close(self) -> None:
        pass


def _session_with_meter(meter: _FakeMeter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A session of the fake TEST-slow (target reached in epoch 3) measured by `meter`."""
    monkeypatch.setenv("AIBENCH_FAKE_STEP_S", "0")
    monkeypatch.setattr("aibench.harness.session.open_energy_meter", lambda device: (meter, None))
    cfg = SessionConfig(
        benchmark="TEST-slow",
        profile="tiny",
        seed=1,
        run_index=1,
        session_dir=str(tmp_path / "s"),
        data_root=str(tmp_path),
        data_source="embedded",
        device="cpu",
        overrides=Overrides(),
    )
    result = run_session(cfg, lambda event: None)
    validate_result(result)
    return result


def test_session_reports_energy_to_quality_from_a_meter(tmp_path: Path, monkeypatch):
    result = _session_with_meter(_FakeMeter(), tmp_path, monkeypatch)
    assert result["status"] == "success"
    # Readings: run_start (1), target reached (2), run_stop (3).
    assert result["metrics"]["energy_to_quality_j"] == pytest.approx(10.0)
    assert result["metrics"]["energy_j"] == pytest.approx(20.0)
    assert result["energy"]["to_quality_by_domain_j"]["gpu0"] == pytest.approx(6.0)
    assert "FLOPs not counted" in result["efficiency"]["unavailable"]  # the fake has no model probe


class _FailingMeter(_FakeMeter):
    """Reads once, then fails: a counter that breaks mid-session must cost the figure, not the session."""

    def read(self) -> EnergySample:
        if self.reads >= 1:
            raise OSError("counter vanished")
        return super().read()


def test_a_failing_meter_costs_the_energy_figure_not_the_session(tmp_path: Path, monkeypatch):
    result = _session_with_meter(_FailingMeter(), tmp_path, monkeypatch)
    assert result["status"] == "success"
    assert result["metrics"]["energy_to_quality_j"] is None and result["metrics"]["energy_j"] is None
    assert "counter vanished" in result["metrics"]["unavailable"]["energy_to_quality_j"]


def test_mlperf_workloads_are_counted_with_the_same_counter():
    from aibench.analyses.mlperf_workloads import MLPERF_WORKLOADS, characterize_mlperf

    assert len(MLPERF_WORKLOADS) == 7
    rows = {r["model"]: r["full"] for r in characterize_mlperf(("ResNet-50 v1.5", "NCF", "MiniGo"))}
    assert rows["ResNet-50 v1.5"]["parameters"] == 25_557_032  # torchvision's published count
    # NeuMF on ml-20m: (138,493 + 26,744) x (64 + 128) embedding weights plus 107,073 in the towers; its forward
    # is 106,624 multiply-adds, the paper's smallest MLPerf figure (0.213 M-FLOPs).
    ncf = rows["NCF"]
    assert ncf["parameters"] == 165_237 * 192 + 107_073 and ncf["forward_flops_per_sample"] == 2 * 106_624
    assert rows["MiniGo"]["counted_on"] == "meta" and 0.5e6 < rows["MiniGo"]["parameters"] < 1e6
