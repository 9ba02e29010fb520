"""The robot-pushing data of Finn, Goodfellow and Levine (2016), as released: TFRecords of tf.train.Example.

Layout: ROOT/push/push_train/*.tfrecord* for training and ROOT/push/push_testseen/*.tfrecord* for test (the
release's names are push_train.tfrecord-00000-of-00264 and so on; its push_testnovel split, objects never
seen in training, is read the same way with `split="push_testnovel"`). Each record is one sequence; step i has
the features of the reference input code (tensorflow/models research/video_prediction, its "Google format"):

    move/<i>/image/encoded                 one JPEG, 640x512 RGB
    move/<i>/commanded_pose/vec_pitch_yaw  5 floats, the action
    move/<i>/endeffector/vec_pitch_yaw     5 floats, the robot's state

Frames are cropped to the centre square and resized bicubically to size x size, as the reference's input code
does. Records are read with the `tfrecord` package (its protobuf Example; no TensorFlow): the files are indexed
once by their record headers, so a sequence is read on demand from a DataLoader worker, and every record's
CRC-32C is checked, so a truncated or corrupt file is a DataLayoutError naming the file and the record.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass, replace
from pathlib import Path

import crc32c
import numpy as np
import torch
from PIL import Image
from tfrecord import example_pb2
from tfrecord.writer import TFRecordWriter
from torch.utils.data import Dataset

from aibench.datasets.embedded import DataLayoutError
from aibench.datasets.moving_mnist import FILE as MOVING_MNIST_FILE
from aibench.datasets.moving_mnist import MOVING_MNIST, MOVING_MNIST_LAYOUT, check_moving_mnist

PUSH = Path("push")
TRAIN_SPLIT, TEST_SPLIT = "push_train", "push_testseen"
IMAGE, ACTION, STATE = (
    "move/{}/image/encoded",
    "move/{}/commanded_pose/vec_pitch_yaw",
    "move/{}/endeffector/vec_pitch_yaw",
)
STATE_DIM = 5  # of both the action and the state
PUSH_LAYOUT = (
    "DATA_ROOT/push/{push_train,push_testseen}/*.tfrecord* (Finn et al.'s robot pushing release: per step "
    "move/<i>/image/encoded JPEG, move/<i>/commanded_pose/vec_pitch_yaw and move/<i>/endeffector/vec_pitch_yaw)"
)


def _masked_crc(data: bytes) -> int:
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


@dataclass(frozen=True)
class _Record:
    path: Path
    offset: int  # of the record's payload
    length: int


def _index(path: Path) -> list[_Record]:
    """Every record of one TFRecord file, from its headers (8-byte length, 4-byte CRC of the length)."""
    records, size = [], path.stat().st_size
    with path.open("rb") as f:
        pos = 0
        while pos < size:
            header = f.read(12)
            if len(header) < 12:
                raise DataLayoutError(f"truncated TFRecord file {path}: a record header at byte {pos} is cut short")
            (length,) = struct.unpack("<Q", header[:8])
            if struct.unpack("<I", header[8:])[0] != _masked_crc(header[:8]):
                raise DataLayoutError(f"corrupt TFRecord file {path}: bad length checksum of the record at byte {pos}")
            if pos + 16 + length > size:
                raise DataLayoutError(f"truncated TFRecord file {path}: the record at byte {pos} runs past the end")
            records.append(_Record(path, pos + 12, length))
            pos += 16 + length
            f.seek(pos)
    return records


def _example(record: _Record) -> example_pb2.Example:
    with record.path.open("rb") as f:
        f.seek(record.offset)
        payload, crc = f.read(record.length), f.read(4)
    if struct.unpack("<I", crc)[0] != _masked_crc(payload):
        raise DataLayoutError(
            f"corrupt TFRecord file {record.path}: bad checksum of the record at byte {record.offset - 12}"
        )
    example = example_pb2.Example()
    example.ParseFromString(payload)
    return example


def _steps(example: example_pb2.Example) -> int:
    features = example.features.feature
    n = 0
    while IMAGE.format(n) in features:
        n += 1
    return n


def _frame(jpeg: bytes, size: int) -> np.ndarray:
    """(3, size, size) uint8: the centre square of the frame, resized bicubically."""
    image = Image.open(io.BytesIO(jpeg)).convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(image).transpose(2, 0, 1)


def _floats(example: example_pb2.Example, key: str, record: _Record) -> np.ndarray:
    values = np.asarray(example.features.feature[key].float_list.value, np.float32)
    if values.shape != (STATE_DIM,):
        raise DataLayoutError(
            f"{record.path}, record at byte {record.offset - 12}: {key} holds {values.size} floats, not {STATE_DIM}"
        )
    return values


class RobotPushing(Dataset[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]):
    """One split's sequences: (frames uint8 (T, 3, size, size), actions (T, 5), states (T, 5)) per item."""

    def __init__(self, root: Path, split: str, frames: int, size: int) -> None:
        folder = root / PUSH / split
        files = sorted(p for p in folder.glob("*.tfrecord*") if p.is_file()) if folder.is_dir() else []
        if not files:
            raise DataLayoutError(f"no TFRecord files (*.tfrecord*) in {folder}; expected {PUSH_LAYOUT}")
        self.records = [r for path in files for r in _index(path)]
        if not self.records:
            raise DataLayoutError(f"the TFRecord files in {folder} hold no records")
        self.frames, self.size = frames, size
        first = self.records[0]
        if (steps := _steps(_example(first))) < frames:
            raise DataLayoutError(
                f"{first.path}: a sequence has {steps} steps ({IMAGE.format('<i>')}); {frames} frames are needed"
            )

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        record = self.records[index]
        example = _example(record)
        features = example.features.feature
        images, actions, states = [], [], []
        for t in range(self.frames):
            try:
                images.append(_frame(features[IMAGE.format(t)].bytes_list.value[0], self.size))
            except (IndexError, OSError, ValueError) as exc:
                raise DataLayoutError(
                    f"{record.path}, record at byte {record.offset - 12}: step {t} has no readable JPEG "
                    f"({IMAGE.format(t)}): {exc}"
                ) from exc
            actions.append(_floats(example, ACTION.format(t), record))
            states.append(_floats(example, STATE.format(t), record))
        return (
            torch.from_numpy(np.stack(images)),
            torch.from_numpy(np.stack(actions)),
            torch.from_numpy(np.stack(states)),
        )


def write_robot_pushing(path: Path, images: np.ndarray, actions: np.ndarray, states: np.ndarray) -> None:
    """One TFRecord file in the release's format: images (N, T, H, W, 3) uint8, actions and states (N, T, 5)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = TFRecordWriter(str(path))
    for seq, acts, sts in zip(images, actions, states, strict=True):
        datum = {}
        for t, frame in enumerate(seq):
            buffer = io.BytesIO()
            Image.fromarray(frame).save(buffer, format="JPEG", quality=95)
            datum[IMAGE.format(t)] = (buffer.getvalue(), "byte")
            datum[ACTION.format(t)] = (acts[t].tolist(), "float")
            datum[STATE.format(t)] = (sts[t].tolist(), "float")
        writer.write(datum)
    writer.close()


def has_robot_pushing(root: Path) -> bool:
    return (root / PUSH).is_dir()


def check_video_prediction_root(root: Path) -> None:
    """A user's root holds robot pushing (read first) or Moving MNIST; either one's faults are named."""
    if has_robot_pushing(root):
        for split in (TRAIN_SPLIT, TEST_SPLIT):
            folder = root / PUSH / split
            files = sorted(folder.glob("*.tfrecord*")) if folder.is_dir() else []
            if not files:
                raise DataLayoutError(f"no TFRecord files (*.tfrecord*) in {folder}; expected {PUSH_LAYOUT}")
            if records := _index(files[0]):
                _example(records[0])
        return
    if not (root / MOVING_MNIST_FILE).exists():
        raise DataLayoutError(
            f"--data-root {root} holds neither robot pushing ({root / PUSH}) nor Moving MNIST "
            f"({root / MOVING_MNIST_FILE}); expected {PUSH_LAYOUT}, or {MOVING_MNIST_LAYOUT}. Omit --data-root to "
            "use the embedded Moving MNIST that aibench generates (tiny/small profiles)."
        )
    check_moving_mnist(root)


# DC-AI-C11's data: a user's root may hold either; the embedded data is Moving MNIST.
VIDEO_PREDICTION = replace(
    MOVING_MNIST,
    required=(),
    validate=check_video_prediction_root,
    layout_hint=f"{PUSH_LAYOUT}, or {MOVING_MNIST_LAYOUT}",
)
