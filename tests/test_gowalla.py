"""Gowalla reader, preprocessing, Caser windows and the embedded generator."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aibench.datasets.embedded import DataLayoutError, check_layout
from aibench.datasets.gowalla import (
    CHECKINS_FILE,
    GOWALLA_DATASET,
    Checkins,
    GowallaParams,
    caser_instances,
    generate_gowalla,
    load_gowalla,
    preprocess,
    read_checkins,
)

SNAP_LINES = [  # as SNAP lists them: grouped by user, newest first
    "0\t2010-10-19T23:55:27Z\t30.2359091167\t-97.7951395833\t22847",
    "0\t2010-10-18T22:17:43Z\t30.2691029532\t-97.7493953705\t420315",
    "0\t2010-10-17T23:42:03Z\t30.2557309927\t-97.7633857727\t316637",
    "",
    "2\t2010-10-12T00:21:28Z\t59.3293\t18.0686\t22847",
]


def _write(tmp_path: Path, lines: list[str], newline: str = "\n") -> Path:
    path = tmp_path / CHECKINS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(newline.join(lines).encode() + newline.encode())
    return path


def test_reader_parses_snap_lines(tmp_path: Path) -> None:
    c = read_checkins(_write(tmp_path, SNAP_LINES))
    np.testing.assert_array_equal(c.users, [0, 0, 0, 2])
    np.testing.assert_array_equal(c.locations, [22847, 420315, 316637, 22847])
    assert c.times[0] == np.datetime64("2010-10-19T23:55:27", "s").astype(np.int64)
    assert c.times[0] - c.times[1] == 86400 + 3600 + 37 * 60 + 44
    np.testing.assert_allclose(c.latitudes[3], 59.3293)
    np.testing.assert_allclose(c.longitudes[0], -97.7951395833)


def test_reader_accepts_crlf(tmp_path: Path) -> None:
    assert len(read_checkins(_write(tmp_path, SNAP_LINES, "\r\n"))) == 4


@pytest.mark.parametrize(
    "bad, line, what",
    [
        ("0\t2010-10-19T23:55:27Z\t30.2\t-97.7", 3, "5 tab-separated fields"),
        ("0\t2010-10-19T23:55:27Z\t30.2\t-97.7\t1\t7", 3, "5 tab-separated fields"),
        ("0\t2010-13-19T23:55:27Z\t30.2\t-97.7\t1", 3, "time"),
        ("0\t\t30.2\t-97.7\t1", 3, "time"),
        ("u7\t2010-10-19T23:55:27Z\t30.2\t-97.7\t1", 3, "user id"),
        ("0\t2010-10-19T23:55:27Z\tnorth\t-97.7\t1", 3, "latitude"),
        ("0\t2010-10-19T23:55:27Z\t30.2\t-97.7\t1.5", 3, "location id"),
    ],
)
def test_malformed_line_names_file_and_line(tmp_path: Path, bad: str, line: int, what: str) -> None:
    path = _write(tmp_path, SNAP_LINES[:2] + [bad] + SNAP_LINES[2:])
    with pytest.raises(DataLayoutError) as err:
        read_checkins(path)
    assert str(path) in str(err.value) and f"line {line}" in str(err.value) and what in str(err.value)


@pytest.mark.parametrize("bad_time", ["2010-10-19T23:55:2x", "2010-13-45T99:99:99", "2010-10-19T23:55:27\u00e9"])
def test_one_bad_time_among_many_lines_is_an_error_not_a_crash(tmp_path: Path, bad_time: str) -> None:
    """numpy's bytes -> datetime64 conversion segfaults on an invalid date in an array of ~600+ elements (the real
    file has 6.4 M lines): the error must name the file and line instead."""
    lines = [f"{u}\t2010-10-19T23:55:27Z\t30.2\t-97.7\t{u}" for u in range(2000)]
    lines[1500] = f"7\t{bad_time}Z\t30.2\t-97.7\t1"
    path = _write(tmp_path, lines)
    code = (
        "import sys; from aibench.datasets.gowalla import read_checkins\n"
        "try:\n    read_checkins(sys.argv[1])\nexcept Exception as e:\n    print(e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, f"the reader crashed: {proc.returncode} {proc.stderr[-500:]}"
    assert str(path) in proc.stdout and "line 1501" in proc.stdout and "time" in proc.stdout


def test_missing_file_is_a_layout_error(tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError, match="loc-gowalla_totalCheckins.txt"):
        load_gowalla(tmp_path)
    with pytest.raises(DataLayoutError):
        check_layout(GOWALLA_DATASET, tmp_path)


def _checkins(rows: list[tuple[int, int, int]]) -> Checkins:
    users, times, locs = (np.array(col, np.int64) for col in zip(*rows))
    return Checkins(users, times, np.zeros(len(rows)), np.zeros(len(rows)), locs)


def test_preprocess_dedupes_filters_sorts_and_splits() -> None:
    rows = [  # (user, time, location), deliberately out of time order
        (50, 5, 300),
        (50, 1, 100),
        (50, 3, 200),
        (50, 2, 100),
        (50, 4, 400),
        (50, 6, 500),  # 100 twice
        (70, 9, 500),
        (70, 7, 100),
        (70, 8, 200),
        (70, 10, 300),
        (70, 11, 400),
        (90, 1, 100),
        (90, 2, 999),  # 999 has one user: dropped; then user 90 has too few locations
    ]
    s = preprocess(_checkins(rows), min_user_items=3, min_item_users=2, test_fraction=0.2)
    assert (s.num_users, s.num_items) == (2, 5)
    np.testing.assert_array_equal(s.user_ids, [50, 70])
    np.testing.assert_array_equal(s.item_ids, [100, 200, 300, 400, 500])  # dense ids 0..4
    # user 50 by time, first visit of 100 kept: 100 (t1), 200 (t3), 400 (t4), 300 (t5), 500 (t6)
    np.testing.assert_array_equal(s.train_of(0), [0, 1, 3, 2])
    np.testing.assert_array_equal(s.test_of(0), [4])
    np.testing.assert_array_equal(s.train_of(1), [0, 1, 4, 2])
    np.testing.assert_array_equal(s.test_of(1), [3])


def test_preprocess_keeps_earliest_visit_and_rejects_empty_result() -> None:
    s = preprocess(_checkins([(1, 3, 10), (1, 1, 20), (1, 2, 10), (1, 4, 30)]), 2, 1, 0.34)
    np.testing.assert_array_equal(s.item_ids[np.concatenate([s.train_of(0), s.test_of(0)])], [20, 10, 30])
    with pytest.raises(DataLayoutError):
        preprocess(_checkins([(1, 1, 10), (2, 1, 20)]), 2, 2, 0.2)


def _sequences(train: list[list[int]], num_items: int):
    from aibench.datasets.gowalla import Sequences, _offsets

    counts = np.array([len(t) for t in train])
    flat = np.array([i for t in train for i in t], np.int64)
    return Sequences(
        len(train),
        num_items,
        _offsets(counts),
        flat,
        _offsets(np.ones(len(train), np.int64)),
        np.zeros(len(train), np.int64),
        np.arange(len(train)),
        np.arange(num_items),
    )


def test_caser_windows_match_reference_example() -> None:
    # rank_distill's to_sequence docstring: items 1..9, L=5, T=2 -> windows ending at every position
    inst = caser_instances(_sequences([[1, 2, 3, 4, 5, 6, 7, 8, 9]], num_items=10), L=5, T=2)
    got = sorted(zip(inst.sequences.tolist(), inst.targets.tolist()))
    assert got == [([1, 2, 3, 4, 5], [6, 7]), ([2, 3, 4, 5, 6], [7, 8]), ([3, 4, 5, 6, 7], [8, 9])]
    np.testing.assert_array_equal(inst.users, [0, 0, 0])
    np.testing.assert_array_equal(inst.test_sequences, [[5, 6, 7, 8, 9]])


def test_caser_windows_pad_short_sequences() -> None:
    inst = caser_instances(_sequences([[1, 2, 3, 4], [5, 6, 7], [8, 9, 1, 2, 3, 4, 5, 6, 7]], num_items=10), 5, 3)
    P = inst.pad
    assert P == 10
    short = inst.users == 0
    np.testing.assert_array_equal(inst.sequences[short], [[P, P, P, P, 1]])
    np.testing.assert_array_equal(inst.targets[short], [[2, 3, 4]])
    assert not (inst.users == 1).any()  # 3 items: the targets would include padding
    assert (inst.users == 2).sum() == 2
    np.testing.assert_array_equal(inst.test_sequences, [[P, 1, 2, 3, 4], [P, P, 5, 6, 7], [3, 4, 5, 6, 7]])


def test_generator_output_reads_back(tmp_path: Path) -> None:
    params = GowallaParams(users=40, locations=60, clusters=3, min_checkins=20, max_checkins=30)
    generate_gowalla(tmp_path, params, seed=3)
    path = tmp_path / CHECKINS_FILE
    text = path.read_text()
    line = re.compile(r"^\d+\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\t-?\d+\.\d+\t-?\d+\.\d+\t\d+$")
    lines = text.splitlines()
    assert all(line.match(ln) for ln in lines)
    c = read_checkins(path)
    assert 40 * 20 <= len(c) <= 40 * 30 and len(np.unique(c.users)) == 40
    assert (np.abs(c.latitudes) <= 90).all() and (np.abs(c.longitudes) <= 180).all()
    for u in np.unique(c.users):  # each user's check-ins are listed newest first, as in SNAP's file
        assert (np.diff(c.times[c.users == u]) < 0).all()
    s = load_gowalla(tmp_path, min_user_items=5, min_item_users=2)
    assert s.num_users > 30 and s.num_items > 30
    generate_gowalla(tmp_path / "again", params, seed=3)
    assert (tmp_path / "again" / CHECKINS_FILE).read_text() == text
    check_layout(GOWALLA_DATASET, tmp_path)
