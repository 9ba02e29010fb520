"""Bad input: a clear message and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from aibench.cli import main


def test_list_shows_all_seventeen_with_targets(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for n in range(1, 18):
        assert f"DC-AI-C{n} " in out
    assert "74.9%" in out and "14.58%" in out and "not yet" in out


def test_list_suite(capsys):
    assert main(["list", "--suite", "subset"]) == 0
    out = capsys.readouterr().out
    assert "DC-AI-C9" in out and "TEST-" not in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "resnet"], "unknown benchmark 'resnet'; valid names: DC-AI-C1"),
        (["run", "--suite", "everything"], "valid suites: subset, full"),
        (["run", "C1", "--profile", "huge"], "valid profiles: tiny, small, full"),
        (["run", "C1", "--batch-size", "0"], "--batch-size must be an integer from 1 to"),
        (["run", "C1", "--batch-size", str(10**23)], "--batch-size must be an integer from 1 to"),
        (["run", "C1", "--lr", "-0.1"], "--lr must be a positive finite number"),
        (["run", "C1", "--lr", "inf"], "--lr must be a positive finite number"),
        (["run", "C1", "--time-limit", "inf"], "--time-limit must be a positive finite number"),
        (["run", "C1", "--seed", str(2**70)], "--seed must be an integer from 0 to 2**63-1"),
        (["run", "C1", "--memory-format", "nhwc"], "--memory-format must be one of contiguous, channels_last"),
        (["run", "C16", "--backbone-weights", "/nonexistent/w.pt"], "no such file"),
        (["run", "C1", "--precision", "fp8"], "--precision must be one of fp32, bf16"),
        (["run", "C1", "--runs", "0"], "--runs must be at least 1"),
        (["run", "C1", "--device", "gpu0"], "--device must be auto, cpu, cuda or cuda:N"),
        (["run", "C1", "--profile", "full"], "pass --data-root"),
        (["run", "C12"], "not implemented yet; runnable now: DC-AI-C1"),
        (["run", "C1", "--data-root", "/nonexistent/dir"], "is not a directory"),
        (["characterize", "C1", "--profile", "huge"], "valid profiles: tiny, small, full"),
        (["characterize", "C1", "--results", "/nonexistent/dir"], "results folder /nonexistent/dir does not exist"),
        (["profile", "C1", "--steps", "0"], "--steps must be at least 1"),
        (["profile", "C12"], "not implemented yet"),
        (["profile", "C1", "--profile", "full"], "pass --data-root"),
        (["infer", "C1", "--checkpoint", "/nonexistent/weights.pt"], "no such file"),
        (["infer", "C1", "--results", "/nonexistent/dir"], "does not exist"),
        (["infer", "C1", "--scenario", "AccuracyOnly"], "--checkpoint"),
        (["infer", "C1", "--device", "cuda"], "no CUDA device"),
    ],
)
def test_usage_errors_exit_2(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("threads", ["abc", "0", "-1"])
def test_bad_thread_count_is_a_usage_error(threads, monkeypatch, capsys):
    monkeypatch.setenv("AIBENCH_THREADS", threads)
    assert main(["run", "C1", "--profile", "tiny"]) == 2
    assert "AIBENCH_THREADS must be a whole number" in capsys.readouterr().err


def test_backbone_weights_only_where_a_benchmark_accepts_them(tmp_path: Path, capsys):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x")
    assert main(["run", "C16", "--backbone-weights", str(weights)]) == 2
    assert "DC-AI-C16 cannot start from a trained backbone" in capsys.readouterr().err


def test_data_root_without_layout_names_missing_path(tmp_path: Path, capsys):
    assert main(["run", "C1", "--data-root", str(tmp_path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "imagenet" / "train") in err
    assert "aibench generate-data" in err
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").iterdir())


def test_generated_data_is_accepted_as_a_data_root(tmp_path: Path):
    assert main(["generate-data", "C1", "--profile", "tiny", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "imagenet" / "train").is_dir()
    assert main(
        [
            "run",
            "C1",
            "--profile",
            "tiny",
            "--data-root",
            str(tmp_path),
            "--max-epochs",
            "1",
            "--out",
            str(tmp_path / "r"),
            "--no-save-weights",
        ]
    ) in (0, 1)
    assert (tmp_path / "r" / "DC-AI-C1" / "run-1" / "result.json").exists()
