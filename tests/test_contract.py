"""The benchmark contract beyond one model: several trained modules, named losses, target rules, assets.

Exercised through the real CLI and child sessions with TEST-gan (tests/plugins/fault_benchmarks.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from aibench.benchmarks.quality import AllOf, AtLeast, AtMost, Within, first_met, rule_from_json
from aibench.cli import main
from aibench.harness.results import validate_result

pytestmark = pytest.mark.slow


def _session(out: Path, bench: str = "TEST-gan") -> dict:
    return json.loads((out / bench / "run-1" / "result.json").read_text())


def _log(out: Path, bench: str = "TEST-gan") -> list[dict]:
    text = (out / bench / "run-1" / "mllog.txt").read_text()
    return [json.loads(line.split(":::MLLOG ", 1)[1]) for line in text.splitlines() if ":::MLLOG " in line]


def test_two_modules_named_losses_band_target_and_an_asset(tmp_path: Path, monkeypatch, capsys):
    counter = tmp_path / "asset-builds"
    monkeypatch.setenv("AIBENCH_FAKE_ASSET_COUNTER", str(counter))
    out = tmp_path / "runs"
    assert main(["run", "TEST-gan", "--profile", "tiny", "--runs", "2", "--seed", "5", "--out", str(out)]) == 0
    result = _session(out)
    validate_result(result)
    # Target: em in 1 +/- 0.25 and fid <= 50. em = 4/epoch reaches the band at epoch 4 (1.33 at epoch 3 misses).
    assert result["status"] == "success" and result["metrics"]["epochs_to_quality"] == 4
    assert result["hyperparameters"]["target"] == "em in 1 +/- 0.25 and fid <= 50"
    assert result["curve"][0]["train_losses"] == {"generator": 0.5, "critic": pytest.approx(0.1)}
    assert result["metrics"]["best_quality"] == 1.0  # lower is better: the smallest em
    # Each module's optimizer is logged (module named in the metadata) and both modules are saved.
    opts = [(e["value"], e["metadata"]["module"]) for e in _log(out) if e["key"] == "opt_name"]
    assert opts == [("adam", "generator"), ("rmsprop", "critic")]
    assert result["optimizers"]["critic"]["opt_base_learning_rate"] == 5e-5
    weights = torch.load(out / "TEST-gan" / "run-1" / "weights.pt", weights_only=True)
    assert set(weights) == {"generator", "critic"} and weights["generator"]["weight"].shape == (2, 2)
    # The asset was built once, before the sessions (off the clock), and both sessions read it.
    assert counter.read_text() == "1"
    assert Path(result["data"]["assets"]["scorer"]).name.startswith("TEST-gan-scorer-")
    summary = json.loads((out / "summary.json").read_text())["benchmarks"][0]
    assert summary["target"] == "em in 1 +/- 0.25 and fid <= 50" and summary["reached_target"] == 2
    capsys.readouterr()
    assert main(["check", str(out)]) == 0, capsys.readouterr().out


def test_a_named_loss_that_diverges_stops_the_session(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("AIBENCH_FAKE_ASSET_COUNTER", str(tmp_path / "n"))
    monkeypatch.setenv("AIBENCH_FAKE_CRITIC_NAN", "1")
    assert main(["run", "TEST-gan", "--profile", "tiny", "--out", str(tmp_path)]) == 1
    result = _session(tmp_path)
    assert result["status"] == "diverged" and "critic" in result["error"] and "epoch 2" in result["error"]


def test_target_override_is_recorded_and_checked(tmp_path: Path, capsys):
    assert main(["run", "TEST-slow", "--profile", "tiny", "--target", "2", "--out", str(tmp_path)]) == 0
    result = _session(tmp_path, "TEST-slow")
    assert result["metrics"]["epochs_to_quality"] == 2 and result["hyperparameters"]["target_overridden"]
    quality_target = next(e for e in _log(tmp_path, "TEST-slow") if e["key"] == "aibench_quality_target")
    assert quality_target["metadata"]["override"] is True and quality_target["value"] == "score >= 2"
    capsys.readouterr()
    assert main(["check", str(tmp_path)]) == 0, capsys.readouterr().out
    # The checker holds a success log to the target it logged; a log whose last evaluation misses it fails.
    log = tmp_path / "TEST-slow" / "run-1" / "mllog.txt"
    log.write_text(
        log.read_text()
        .replace('"value": 2.0, "metadata": {"file"', '"value": 1.5, "metadata": {"file"')
        .replace('"metrics": {"score": 2.0}', '"metrics": {"score": 1.5}')
    )
    assert main(["check", str(log)]) == 1
    # A multi-metric target cannot take one --target value: a usage error before any session.
    assert main(["run", "TEST-gan", "--profile", "tiny", "--target", "1", "--out", str(tmp_path / "x")]) == 2
    assert "several metrics" in capsys.readouterr().err


def test_quality_rules():
    band = Within("em", 0.5, 0.005)
    assert band.met({"em": 0.503}) and not band.met({"em": 0.51}) and not band.met({})
    assert AtMost("wer", 0.2).met({"wer": 0.19}) and not AtMost("wer", 0.2).met({"wer": 0.21})
    both = AllOf((AtLeast("acc", 0.5), AtLeast("iou", 0.1)))
    assert not both.met({"acc": 0.6, "iou": 0.05}) and both.met({"acc": 0.6, "iou": 0.2})
    assert both.shortfall({"acc": 0.6, "iou": 0.05}) == pytest.approx(0.5)
    assert AtLeast("top1", 0.8).shortfall({"top1": 0.6}) == pytest.approx(0.25)
    for rule in (band, both, AtMost("ppl", 4.2)):
        assert rule_from_json(rule.to_json()) == rule
    curve = [{"epoch": e, "quality": {"em": 4 / e}} for e in (1, 2, 3, 4)]
    assert first_met(Within("em", 1.0, 0.25), curve)["epoch"] == 4
    with pytest.raises(ValueError, match="several metrics"):
        both.with_value(1.0)
