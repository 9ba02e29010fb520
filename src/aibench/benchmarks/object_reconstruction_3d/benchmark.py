"""DC-AI-C13: the perspective transformer network (PTN) of Yan, Yang, Yumer, Guo and Lee (2016).

The layers are those of the reference (tensorflow/models research/ptn, `ptn_encoder`, `ptn_vox_decoder`,
`perspective_projector`): an image encoder of three 5x5 stride-2 convolutions (f, 2f, 4f channels), two fully
connected layers (fc units) and a fully connected identity code (z units, ReLU); a volume decoder of one fully
connected layer to a 4^3 x 8f volume and three 3D transposed convolutions (4^3, 5^3, 6^3 kernels, stride 2; 4f,
1.5f, 1 channels; sigmoid) up to a 32^3 occupancy grid; and the perspective transformer: for a camera, a
32x32x32 grid of points in its viewing frustum, trilinear samples of the volume at them, and the maximum along
each ray, a silhouette. Training as the reference's PTN-Proj: Adam (reference 1e-4), the projection loss
(10 x half the summed squared error between projected and true silhouettes, per view and sample; weight
`proj_weight`), the volumetric loss as an option (`volume_weight`, 0 as in the reference), weight decay 0.001
(as Adam's L2 term, as the reference adds it to the loss), weights initialised N(0, 0.02) truncated. Each step
shows every object one random input view and projects its volume into `proj_views` of its views (the reference:
all 24).

Quality: average voxel IoU at threshold 0.5 (`aibench.metrics.voxel`, torchmetrics' binary Jaccard index) over
the test objects, each seen from its first `eval_views` views. Profiles keep every layer; small shrinks the
channel and unit counts (f, fc, z; recorded), projects into 4 views per step (the projection's grid sampling is
most of a CPU step, and more steps beat more views in a five-minute session) and trains without weight decay
(the reference's 0.001 was not compared at these settings). docs/calibration.md has the measurements.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from aibench.baselines.reconstruction import category_mean_grid, mean_grid
from aibench.benchmarks.base import Baseline, Benchmark, ModelProbe, ProfileSettings, StepOutput
from aibench.benchmarks.quality import AtLeast
from aibench.datasets.shapenet import SHAPENET, ShapeNetParams, camera_rays, read_shapenet, sample_volume
from aibench.metrics.voxel import mean_voxel_iou
from aibench.registry import register

VOXELS = 32  # the decoder's output: 32^3, as the paper's


@dataclass(frozen=True)
class PTNOptions:
    image_size: int = 64  # input images are resized to image_size x image_size; a multiple of 8
    f_dim: int = 64  # the reference's f_dim (convolution channels)
    fc_dim: int = 1024  # the reference's fc_dim
    z_dim: int = 512  # the reference's z_dim (identity code)
    proj_views: int = 24  # silhouettes per object in the projection loss (the reference's step_size)
    proj_weight: float = 10.0
    volume_weight: float = 0.0  # the volumetric loss (PTN-Comb); 0 = projection only (PTN-Proj)
    weight_decay: float = 0.001
    eval_views: int = 24  # input views per test object (the reference evaluates every view)

    def __post_init__(self) -> None:
        if self.image_size < 8 or self.image_size % 8:
            raise ValueError(f"image_size must be a positive multiple of 8, got {self.image_size}")
        if min(self.f_dim, self.fc_dim, self.z_dim, self.proj_views, self.eval_views) < 1:
            raise ValueError("f_dim, fc_dim, z_dim, proj_views and eval_views must be >= 1")
        if (
            min(self.proj_weight, self.volume_weight, self.weight_decay) < 0
            or self.proj_weight + self.volume_weight == 0
        ):
            raise ValueError("proj_weight, volume_weight and weight_decay must be >= 0, and one loss weight > 0")


class PTN(nn.Module):
    """Image encoder and volume decoder; `forward` maps (N, 3, S, S) images in [0, 1] to (N, 1, 32, 32, 32)
    occupancy in (z, y, x) order."""

    def __init__(self, image_size: int, f_dim: int, fc_dim: int, z_dim: int) -> None:
        super().__init__()
        f = f_dim
        self.f = f
        self.encoder = nn.Sequential(
            nn.Conv2d(3, f, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.Conv2d(f, 2 * f, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.Conv2d(2 * f, 4 * f, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear((image_size // 8) ** 2 * 4 * f, fc_dim),
            nn.ReLU(),
            nn.Linear(fc_dim, fc_dim),
            nn.ReLU(),
            nn.Linear(fc_dim, z_dim),  # the identity code
            nn.ReLU(),
        )
        self.decoder_fc = nn.Linear(z_dim, 4**3 * 8 * f)
        # 'SAME' stride-2 transposed convolutions double each side: (k, padding, output_padding) per kernel.
        self.decoder = nn.Sequential(
            nn.ConvTranspose3d(8 * f, 4 * f, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose3d(4 * f, max(1, 3 * f // 2), 5, stride=2, padding=2, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose3d(max(1, 3 * f // 2), 1, 6, stride=2, padding=2),
            nn.Sigmoid(),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d | nn.ConvTranspose3d | nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02, a=-0.04, b=0.04)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        code = self.encoder(images * 2 - 1)  # the reference's preprocessing to [-1, 1]
        h = F.relu(self.decoder_fc(code)).view(-1, 8 * self.f, 4, 4, 4)
        return self.decoder(h)


def project(volumes: torch.Tensor, cameras: torch.Tensor, size: int = VOXELS) -> torch.Tensor:
    """The perspective transformer: (N, 1, Z, Y, X) volumes seen by (N, K, 4) cameras -> (N, K, size, size)
    silhouettes, the maximum of trilinear samples along each ray (size depth samples)."""
    n, k = cameras.shape[:2]
    points = camera_rays(cameras.reshape(n * k, 4), size, size)  # (N*K, D, S, S, 3)
    points = points.view(n, k * size, size, size, 3)
    sampled = sample_volume(volumes, points.to(volumes.dtype))  # (N, 1, K*D, S, S)
    return sampled.view(n, k, size, size, size).amax(2)


def _mean(bench: ObjectReconstruction3D) -> Mapping[int, np.ndarray]:
    return mean_grid(bench.train.voxels.numpy(), bench.eval_samples())


def _category_mean(bench: ObjectReconstruction3D) -> Mapping[int, np.ndarray]:
    views = bench.settings.options.eval_views
    cats = [c for c in bench.test.categories for _ in range(views)]
    return category_mean_grid(bench.train.voxels.numpy(), bench.train.categories, cats)


@register("DC-AI-C13")
class ObjectReconstruction3D(Benchmark):
    dataset = SHAPENET
    quality_metric = "iou"
    higher_is_better = True
    channels_last = False
    baselines = (
        Baseline("mean training grid", _mean, "the mean occupancy of all training objects, whatever the image"),
        Baseline(
            "category mean grid (oracle)",
            _category_mean,
            "the mean training grid of the object's own category, the category given",
            oracle=True,
        ),
    )
    profiles = {
        "full": ProfileSettings(
            batch_size=32,
            learning_rate=1e-4,
            max_epochs=100,
            target=AtLeast("iou", 0.4583),
            convergent=AtLeast("iou", 0.45),
            time_limit_s=7 * 24 * 3600,
            options=PTNOptions(),
        ),
        "small": ProfileSettings(
            batch_size=16,
            learning_rate=1e-3,
            max_epochs=40,
            target=AtLeast("iou", 0.37),
            convergent=AtLeast("iou", 0.36),
            time_limit_s=900,
            data=ShapeNetParams(train_per_category=80, test_per_category=20),
            options=PTNOptions(f_dim=16, fc_dim=512, z_dim=256, proj_views=4, eval_views=4, weight_decay=0.0),
        ),
        "tiny": ProfileSettings(
            batch_size=4,
            learning_rate=1e-3,
            max_epochs=2,
            target=AtLeast("iou", 1.0),
            time_limit_s=120,
            data=ShapeNetParams(train_per_category=1, test_per_category=1, views=4, image_size=32),
            options=PTNOptions(image_size=32, f_dim=2, fc_dim=16, z_dim=8, proj_views=2, eval_views=2),
        ),
    }

    def build(self) -> None:
        opts: PTNOptions = self.settings.options
        model = PTN(opts.image_size, opts.f_dim, opts.fc_dim, opts.z_dim).to(self.device)
        self.optimizer = torch.optim.Adam(
            model.parameters(), lr=self.settings.learning_rate, weight_decay=opts.weight_decay
        )
        self.model = self.add_trained("model", model, self.optimizer)
        self.net = model  # unwrapped, for evaluation on rank 0
        self.views_rng = torch.Generator().manual_seed(self.ctx.seed * 7919 + self.ctx.rank)

    def load_data(self) -> None:
        opts: PTNOptions = self.settings.options
        self.train = read_shapenet(self.ctx.data_root, "train", opts.image_size, VOXELS)
        self.test = read_shapenet(self.ctx.data_root, "test", opts.image_size, VOXELS, views=opts.eval_views)
        views = self.train.images.shape[1]
        if views < opts.proj_views:
            raise ValueError(f"the training objects have {views} views; proj_views={opts.proj_views} needs more")
        self.train_set = TensorDataset(torch.arange(len(self.train.images)))

    def train_batches(self, epoch: int) -> Iterable[Any]:
        return self.ctx.train_loader(self.train_set, self.settings.batch_size, epoch)

    def train_step(self, batch: Any) -> StepOutput:
        opts: PTNOptions = self.settings.options
        index = batch[0]
        n, views = len(index), self.train.images.shape[1]
        # One random input view per object, and proj_views random views (the input's among them) to project into.
        order = torch.argsort(torch.rand(n, views, generator=self.views_rng), 1)[:, : opts.proj_views]
        rows = index[:, None]
        images = self.train.images[index, order[:, 0]].to(self.device).float() / 255.0
        masks = self.train.masks[rows, order].to(self.device).float() / 255.0  # (N, K, 32, 32)
        cameras = self.train.cameras[rows, order].to(self.device)
        self.model.train()
        with self.ctx.autocast():
            volumes = self.model(images).float()
        projections = project(volumes, cameras)
        losses: dict[str, torch.Tensor] = {}
        losses["projection"] = opts.proj_weight * 0.5 * ((projections - masks) ** 2).sum((2, 3)).mean()
        if opts.volume_weight:
            truth = self.train.voxels[index].to(self.device).float()[:, None]
            losses["volume"] = opts.volume_weight * 0.5 * ((volumes - truth) ** 2).sum((1, 2, 3, 4)).mean()
        loss = sum(losses.values())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[union-attr]
        self.optimizer.step()
        return StepOutput(loss={k: v.detach() for k, v in losses.items()}, samples=n)

    @torch.no_grad()
    def infer(self, indices: Sequence[int]) -> list[np.ndarray]:
        """Predicted 32^3 occupancy probabilities (float16, (z, y, x)) for test inputs: object i // eval_views,
        seen from its view i % eval_views."""
        views = self.settings.options.eval_views
        rows = torch.tensor(list(indices))
        images = self.test.images[rows // views, rows % views].to(self.device).float() / 255.0
        self.net.eval()
        with self.ctx.autocast():
            volumes = self.net(images).float()
        return list(volumes[:, 0].cpu().numpy().astype(np.float16))

    def score(self, outputs: Mapping[int, np.ndarray]) -> dict[str, float]:
        views = self.settings.options.eval_views
        predicted = torch.from_numpy(np.stack([outputs[i] for i in range(self.eval_samples())]).astype(np.float32))
        truth = self.test.voxels.repeat_interleave(views, 0)
        return {"iou": mean_voxel_iou(predicted, truth)}

    def inference_batch_size(self) -> int:
        return 64

    @classmethod
    def model_probe(cls, settings: ProfileSettings[Any], device: torch.device) -> ModelProbe:
        opts: PTNOptions = settings.options
        with torch.device(device):
            model = PTN(opts.image_size, opts.f_dim, opts.fc_dim, opts.z_dim)
        images = torch.rand(1, 3, opts.image_size, opts.image_size, device=device)
        cameras = torch.tensor([[30.0, 20.0, 1.75, 36.0]], device=device).repeat(1, opts.proj_views, 1)

        def inference() -> torch.Tensor:
            return model.eval()(images)

        def training_loss() -> torch.Tensor:
            projections = project(model.train()(images), cameras)
            return ((projections - 0.5) ** 2).sum()

        return ModelProbe(
            model,
            inference,
            training_loss,
            samples=1,
            sample_shape=f"one 3x{opts.image_size}x{opts.image_size} view -> 32^3 volume, "
            f"projected into {opts.proj_views} silhouettes of 32x32 for the loss",
            notes="FlopCounterMode counts matmuls and convolutions: the perspective transformer (grid sampling, "
            "most of a CPU training step) is not in the FLOPs",
        )

    def train_samples(self) -> int:
        return len(self.train_set)

    def eval_samples(self) -> int:
        return len(self.test.images) * self.settings.options.eval_views
