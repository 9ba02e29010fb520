"""The robot-pushing TFRecord reader (C11's full data) on records written in the release's format, its errors
naming the file and record, and a tiny C11 session that trains the action-conditioned CDNA on them."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from aibench.benchmarks.video_prediction.benchmark import CDNA
from aibench.cli import main
from aibench.datasets.embedded import DataLayoutError
from aibench.datasets.robot_pushing import (
    PUSH,
    TEST_SPLIT,
    TRAIN_SPLIT,
    RobotPushing,
    check_video_prediction_root,
    write_robot_pushing,
)


def _write(root: Path, split: str, sequences: int, steps: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Frames 40 wide, 32 high, as the release's 640x512 in miniature; a bright square marks the centre crop.
    images = rng.integers(0, 60, size=(sequences, steps, 32, 40, 3), dtype=np.uint8)
    images[:, :, 8:24, 12:28] = 250
    actions = rng.normal(size=(sequences, steps, 5)).astype(np.float32)
    states = rng.normal(size=(sequences, steps, 5)).astype(np.float32)
    write_robot_pushing(root / PUSH / split / f"{split}.tfrecord-00000-of-00001", images, actions, states)
    return actions


def test_records_read_back_cropped_resized_with_actions_and_states(tmp_path: Path) -> None:
    actions = _write(tmp_path, TRAIN_SPLIT, 3)
    data = RobotPushing(tmp_path, TRAIN_SPLIT, frames=5, size=16)
    assert len(data) == 3
    frames, acts, states = data[2]
    assert frames.shape == (5, 3, 16, 16) and frames.dtype == torch.uint8
    assert acts.shape == states.shape == (5, 5)
    assert np.allclose(acts.numpy(), actions[2, :5])
    # The centre 32x32 crop of the 40x32 frame holds the bright square at 8..24 of 32: 4..12 of 16.
    assert frames[0, :, 5:11, 5:11].float().mean() > 200 and frames[0, :, 13:, 13:].float().mean() < 80


def test_missing_truncated_and_corrupt_records_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError, match="neither robot pushing .* nor Moving MNIST"):
        check_video_prediction_root(tmp_path)
    _write(tmp_path, TRAIN_SPLIT, 2)
    with pytest.raises(DataLayoutError, match="no TFRecord files .*push_testseen"):
        check_video_prediction_root(tmp_path)
    with pytest.raises(DataLayoutError, match="6 steps .* 8 frames are needed"):
        RobotPushing(tmp_path, TRAIN_SPLIT, frames=8, size=16)
    path = next((tmp_path / PUSH / TRAIN_SPLIT).iterdir())
    raw = bytearray(path.read_bytes())
    raw[40] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(DataLayoutError, match=f"corrupt TFRecord file {path}: bad checksum of the record at byte 0"):
        RobotPushing(tmp_path, TRAIN_SPLIT, frames=4, size=16)
    path.write_bytes(bytes(raw[:-10]))
    with pytest.raises(DataLayoutError, match=f"truncated TFRecord file {path}"):
        RobotPushing(tmp_path, TRAIN_SPLIT, frames=4, size=16)


def test_the_conditioned_model_uses_actions_and_predicts_states() -> None:
    torch.manual_seed(0)
    model = CDNA(3, 16, width=0.125, state_dim=5)
    frames, actions, states = torch.rand(2, 4, 3, 16, 16), torch.randn(2, 4, 5), torch.randn(2, 4, 5)
    predicted, predicted_states = model(frames, 2, None, actions, states)
    assert predicted.shape == (2, 3, 3, 16, 16) and predicted_states is not None
    assert predicted_states.shape == (2, 3, 5)
    other, _ = model(frames, 2, None, actions * 3, states)
    assert not torch.allclose(predicted, other)  # the action changes the predicted frames
    with pytest.raises(ValueError, match="needs the actions and robot states"):
        model(frames, 2)


@pytest.mark.slow
def test_a_tiny_session_trains_on_robot_pushing_records(tmp_path: Path) -> None:
    _write(tmp_path, TRAIN_SPLIT, 8, seed=1)
    _write(tmp_path, TEST_SPLIT, 4, seed=2)
    out = tmp_path / "r"
    args = ["run", "C11", "--profile", "tiny", "--data-root", str(tmp_path), "--out", str(out), "--no-save-weights"]
    assert main(args) in (0, 1)
    result = json.loads((out / "DC-AI-C11" / "run-1" / "result.json").read_text())
    assert result["status"] == "target_not_reached", result["error"]
    assert result["metrics"]["epochs_completed"] == 2 and result["curve"][-1]["quality"]["mse"] > 0
