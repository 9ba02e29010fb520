"""C12's patch data (embedded generator in ImageNet's layout), its MS-SSIM setting and its cheap codecs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from aibench.baselines.compression import down_up, jpeg_at, mean_colour
from aibench.datasets import imagenet_patches
from aibench.datasets.embedded import DataLayoutError, check_layout
from aibench.datasets.imagenet import image_folder
from aibench.datasets.imagenet_patches import IMAGENET_PATCHES, PatchParams, generate_imagenet_patches

pytest.importorskip("torchmetrics")  # C12's metric library (a dependency to add to pyproject.toml)

from aibench.metrics.compression import BETAS, ms_ssim


def test_generator_writes_the_imagenet_layout_that_the_reader_reads(tmp_path: Path):
    params = PatchParams(train_images=6, val_images=4, image_size=36)
    generate_imagenet_patches(tmp_path, params, seed=3)
    check_layout(IMAGENET_PATCHES, tmp_path)
    train, val = image_folder(tmp_path, "train"), image_folder(tmp_path, "val")
    assert (len(train), len(val)) == (6, 4)
    assert train[0][0].size == (36, 36)
    assert all(p.endswith(".JPEG") for p, _ in train.samples + val.samples)


def test_generator_is_seeded(tmp_path: Path):
    params = PatchParams(train_images=2, val_images=2, image_size=16)
    for seed, sub in ((1, "a"), (1, "b"), (2, "c")):
        generate_imagenet_patches(tmp_path / sub, params, seed)
    first = sorted((tmp_path / "a").rglob("*.JPEG"))
    same = [(tmp_path / "b" / p.relative_to(tmp_path / "a")).read_bytes() == p.read_bytes() for p in first]
    other = [(tmp_path / "c" / p.relative_to(tmp_path / "a")).read_bytes() == p.read_bytes() for p in first]
    assert all(same) and not all(other)


def test_evaluation_photographs_are_never_training_sources():
    assert not set(imagenet_patches._TRAIN_PHOTOS) & set(imagenet_patches._VAL_PHOTOS)


def test_corrupt_patch_image_error_names_the_file(tmp_path: Path):
    bad = tmp_path / "imagenet" / "val" / "n00000000" / "n00000000_000001.JPEG"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"\xff\xd8 not a jpeg")
    with pytest.raises(DataLayoutError, match="n00000000_000001.JPEG"):
        image_folder(tmp_path, "val")[0]


def test_ms_ssim_of_identical_patches_is_one():
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ms_ssim(x, x), torch.ones(3), atol=1e-5)


def test_ms_ssim_of_flat_patches_is_the_luminance_term_by_hand():
    # Flat images have zero variance, so every contrast-structure term is (0 + C2) / (0 + C2) = 1 and only the
    # coarsest scale's luminance term remains: l = (2 mx my + C1) / (mx^2 + my^2 + C1), C1 = (0.01 * range)^2.
    x, y = torch.full((1, 3, 32, 32), 0.5), torch.full((1, 3, 32, 32), 0.25)
    c1 = 0.01**2
    lum = (2 * 0.5 * 0.25 + c1) / (0.5**2 + 0.25**2 + c1)
    assert float(ms_ssim(y, x)[0]) == pytest.approx(lum ** BETAS[-1], rel=1e-4)


def test_ms_ssim_agrees_with_pytorch_msssim():
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    # pytorch-msssim wants images above 16 x (window - 1) pixels whatever the number of scales: 96 x 96 here.
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(2, 1, 96, 96, generator=gen)  # one channel: the libraries average channels at different steps
    y = (x + 0.2 * torch.randn(2, 1, 96, 96, generator=gen)).clamp(0, 1)
    ours = ms_ssim(y, x)
    theirs = pytorch_msssim.ms_ssim(y, x, data_range=1.0, size_average=False, win_size=5, win_sigma=1.0, weights=BETAS)
    # The two libraries' single-scale SSIM already differ by about 1e-3 on such images (their windowing and
    # border handling differ in detail); three scales stay within 5e-3.
    assert torch.allclose(ours, theirs, atol=5e-3)


def test_cheap_codecs_output_a_reconstruction_and_its_bits():
    patch = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(2))
    flat = mean_colour(patch)
    assert flat.shape == (3 * 32 * 32 + 1,) and flat[-1] == 24
    np.testing.assert_allclose(flat[:-1].reshape(3, -1).std(axis=1), 0, atol=1e-6)
    assert down_up(patch, 4)[-1] == 3 * 8 * 8 * 8
    jpeg = jpeg_at(patch, max_bits=8 * 1500)
    assert jpeg[-1] <= 8 * 1500 and float(ms_ssim(torch.from_numpy(jpeg[:-1]).reshape(1, 3, 32, 32), patch[None])) > 0
