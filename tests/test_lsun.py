"""The LSUN reader (LMDB and image folder), its held-out split, the embedded generator, and the patch SWD."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from aibench.datasets.embedded import DataLayoutError, check_layout
from aibench.datasets.lsun import LSUN, LsunParams, LsunSource, generate_lsun
from aibench.metrics.generation import laplacian_pyramid, sliced_wasserstein, swd

lmdb = pytest.importorskip("lmdb")


def _jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (80, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG")
    return buf.getvalue()


def _lmdb(root: Path, items: dict[bytes, bytes]) -> Path:
    folder = root / "lsun" / "bedroom_train_lmdb"
    folder.mkdir(parents=True)
    env = lmdb.open(str(folder), map_size=1 << 24)
    with env.begin(write=True) as txn:
        for k, v in items.items():
            txn.put(k, v)
    env.close()
    return folder


def test_reads_lsun_lmdb_sorted_keys_resized_and_centre_cropped_with_last_keys_held_out(tmp_path: Path):
    _lmdb(tmp_path, {b"b2": _jpeg((0, 255, 0)), b"a1": _jpeg((255, 0, 0)), b"c3": _jpeg((0, 0, 255))})
    check_layout(LSUN, tmp_path)
    source = LsunSource(tmp_path)
    assert source.keys == [b"a1", b"b2", b"c3"]
    train, held = source.split(1)
    assert train == [b"a1", b"b2"] and held == [b"c3"]
    img = source.image(b"a1", 16)
    assert img.shape == (16, 16, 3) and img[8, 8, 0] > 240 and img[8, 8, 1] < 15


def test_undecodable_value_names_the_key_and_the_database(tmp_path: Path):
    folder = _lmdb(tmp_path, {b"good": _jpeg((1, 2, 3)), b"broken-key": b"\xff\xd8 not a jpeg"})
    with pytest.raises(DataLayoutError, match=r"broken-key.*bedroom_train_lmdb") as err:
        LsunSource(tmp_path).image(b"broken-key", 8)
    assert str(folder) in str(err.value)


def test_image_folder_alternative_and_missing_layout(tmp_path: Path):
    with pytest.raises(DataLayoutError, match="bedroom_train_lmdb"):
        check_layout(LSUN, tmp_path / "nowhere")
    (tmp_path / "lsun").mkdir()
    with pytest.raises(DataLayoutError, match="data.mdb"):
        check_layout(LSUN, tmp_path)
    folder = tmp_path / "lsun" / "bedroom_train"
    folder.mkdir()
    for name, colour in (("x.jpg", (255, 255, 255)), ("y.webp", (0, 0, 0))):
        Image.new("RGB", (40, 30), colour).save(folder / name)
    source = LsunSource(tmp_path)
    assert source.keys == [b"x.jpg", b"y.webp"]
    assert source.image(b"y.webp", 8).max() < 10


def test_generated_lmdb_is_read_by_the_reader_and_deterministic(tmp_path: Path):
    params = LsunParams(train_count=6, eval_count=3, image_size=16)
    generate_lsun(tmp_path / "a", params, seed=3)
    generate_lsun(tmp_path / "b", params, seed=3)
    a, b = LsunSource(tmp_path / "a"), LsunSource(tmp_path / "b")
    assert len(a.keys) == 9 and a.keys == b.keys and all(len(k) == 40 for k in a.keys)
    train, held = a.split(3)
    assert not set(train) & set(held)
    assert all(np.array_equal(a.image(k, 16), b.image(k, 16)) for k in a.keys)
    assert a.image(held[0], 16).std() > 5  # a scene, not a flat colour


def test_sliced_wasserstein_of_a_shifted_set_is_the_mean_projected_shift():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((50, 3))
    shift = np.array([3.0, 0.0, 4.0])
    dirs = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.6, 0.0, 0.8]])
    # Projections of a + shift are those of a moved by shift . d: W1 = |shift . d| per direction.
    assert sliced_wasserstein(a + shift, a, dirs) == pytest.approx((3 + 0 + 4 + 5) / 4)
    # Two point sets in 1-D by hand: sorted {0, 1} against {2, 5}: (2 + 4) / 2.
    assert sliced_wasserstein(np.array([[1.0], [0.0]]), np.array([[5.0], [2.0]]), np.array([[1.0]])) == 3.0


def test_swd_is_zero_for_identical_sets_and_grows_with_the_difference():
    torch.manual_seed(0)
    real = torch.rand(16, 3, 32, 32) * 2 - 1
    same = swd(real.clone(), real)
    assert set(same) == {"swd_32", "swd_16", "swd"} and same["swd"] == 0.0
    near = swd((real + 0.05 * torch.randn_like(real)).clamp(-1, 1), real)["swd"]
    far = swd(torch.zeros_like(real), real)["swd"]
    assert 0 < near < far


def test_laplacian_pyramid_bands_sum_back_to_the_image():
    x = torch.rand(2, 3, 32, 32)
    band, low = laplacian_pyramid(x)
    assert band.shape == (2, 3, 32, 32) and low.shape == (2, 3, 16, 16)
    up = torch.nn.functional.interpolate(low, size=(32, 32), mode="bilinear", align_corners=False)
    assert torch.allclose(band + up, x, atol=1e-6)
