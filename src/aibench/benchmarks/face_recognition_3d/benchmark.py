"""DC-AI-C8: RGB-D face recognition with torchvision's ResNet-50, its first convolution taking 4 channels.

The paper's data (Intellifusion, 77,715 samples of 253 identities) is not public; the layout read is ours
(`aibench.datasets.faces`: `rgbd_faces/<id>/<n>_rgb.jpg`, `<n>_depth.png` in millimetres, `split.txt`). Input:
RGB normalised with ImageNet's statistics beside depth / 1500 mm clipped to [0, 1] and centred, one 4-channel
image. Training: the paper's SGD 1e-3, momentum 0.9, batch 16 at full; a classifier over the training
identities, cross-entropy, horizontal flips. Quality: top-1 accuracy on the test samples (closed set: every test
identity has training samples; test poses and lighting lie outside the training ones). The splits are read into
memory whole, which suits the embedded data; the paper's 77,715 samples at 224x224 would need on-demand reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset
from torchvision import models

from aibench.baselines.faces import FAR_MM, colour_histograms, nearest_identities, rgbd_pixels
from aibench.benchmarks.base import Baseline, Benchmark, ModelProbe, ProfileSettings, StepOutput
from aibench.benchmarks.quality import AtLeast
from aibench.benchmarks.schedules import WarmupStepDecay
from aibench.datasets.faces import RGBD_FACES, FaceParams, read_rgbd_faces, read_rgbd_split
from aibench.metrics.classification import topk_accuracy, topk_classes
from aibench.registry import register

_MEAN = torch.tensor([0.485, 0.456, 0.406, 0.5]).view(1, 4, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225, 0.25]).view(1, 4, 1, 1)


@dataclass(frozen=True)
class RgbdOptions:
    image_size: int = 224  # RGB and depth are resized to image_size x image_size on reading
    identities: int = 253  # for counting FLOPs without data (the paper's 253)
    warmup_steps: int = 0
    decay_epochs: tuple[int, ...] = ()  # learning rate x0.1 after each of these epochs

    def __post_init__(self) -> None:
        if self.image_size < 16 or self.identities < 2 or self.warmup_steps < 0:
            raise ValueError("image_size must be >= 16, identities >= 2 and warmup_steps >= 0")


def resnet50_rgbd(identities: int) -> nn.Module:
    """torchvision's ResNet-50 with a 4-channel stem (RGB + depth) and an identity classifier."""
    model = models.resnet50(weights=None, num_classes=identities, zero_init_residual=True)
    model.conv1 = nn.Conv2d(4, 64, kernel_size=7, stride=2, padding=3, bias=False)
    nn.init.kaiming_normal_(model.conv1.weight, mode="fan_out", nonlinearity="relu")
    return model


def rgbd_input(rgb: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
    """(N, 4, S, S) float input of uint8 RGB and uint16 millimetre depth, normalised per channel."""
    x = torch.cat([rgb.float() / 255.0, (depth.float() / FAR_MM).clamp(0, 1)], 1)
    return (x - _MEAN.to(x.device)) / _STD.to(x.device)


def _pixels_1nn(bench: RgbdFaceRecognition) -> Mapping[int, np.ndarray]:
    train, test = bench.train, bench.test
    top = nearest_identities(
        rgbd_pixels(train.rgb, train.depth, 16), train.labels.numpy(), rgbd_pixels(test.rgb, test.depth, 16)
    )
    return dict(enumerate(top))


def _histogram_1nn(bench: RgbdFaceRecognition) -> Mapping[int, np.ndarray]:
    train, test = bench.train, bench.test
    top = nearest_identities(colour_histograms(train.rgb), train.labels.numpy(), colour_histograms(test.rgb))
    return dict(enumerate(top))


@register("DC-AI-C8")
class RgbdFaceRecognition(Benchmark):
    dataset = RGBD_FACES
    quality_metric = "top1"
    channels_last = True
    baselines = (
        Baseline("raw RGB-D pixels + 1-NN", _pixels_1nn, "16x16 RGB and depth / 1500 mm, L2"),
        Baseline("colour histogram + 1-NN", _histogram_1nn, "8x8x8 RGB histogram, Hellinger distance"),
    )
    profiles = {
        "full": ProfileSettings(
            batch_size=16,
            learning_rate=1e-3,
            max_epochs=60,
            target=AtLeast("top1", 0.9464),
            convergent=AtLeast("top1", 0.9459),
            time_limit_s=7 * 24 * 3600,
            options=RgbdOptions(),
        ),
        "small": ProfileSettings(
            batch_size=32,
            learning_rate=0.02,
            max_epochs=35,
            target=AtLeast("top1", 0.2),
            convergent=AtLeast("top1", 0.18),
            time_limit_s=900,
            data=FaceParams(vggface2_identities=0, lfw_identities=0, rgbd_identities=40, samples_per_identity=40),
            options=RgbdOptions(image_size=32, identities=40, warmup_steps=100),
        ),
        "tiny": ProfileSettings(
            batch_size=4,
            learning_rate=1e-3,
            max_epochs=2,
            target=AtLeast("top1", 1.01),
            time_limit_s=120,
            data=FaceParams(
                vggface2_identities=0, lfw_identities=0, rgbd_identities=3, samples_per_identity=4, image_size=32
            ),
            options=RgbdOptions(image_size=32, identities=3),
        ),
    }

    def build(self) -> None:
        opts: RgbdOptions = self.settings.options
        identities = len({s.split("/")[0] for s in _train_samples(self)})
        model = resnet50_rgbd(identities).to(self.device)
        self.optimizer = torch.optim.SGD(model.parameters(), lr=self.settings.learning_rate, momentum=0.9)
        self.schedule = WarmupStepDecay(self.optimizer, opts.warmup_steps, opts.decay_epochs)
        self.model = self.add_trained("model", model, self.optimizer, self.schedule)
        self.net = model
        self.loss_fn = nn.CrossEntropyLoss()
        self.flip_rng = torch.Generator().manual_seed(self.ctx.seed * 7907 + self.ctx.rank)

    def load_data(self) -> None:
        size = self.settings.options.image_size
        self.train = read_rgbd_faces(self.ctx.data_root, "train", size)
        self.test = read_rgbd_faces(self.ctx.data_root, "test", size)
        self.train_set = TensorDataset(torch.arange(len(self.train.labels)))

    def train_batches(self, epoch: int) -> Iterable[Any]:
        return self.ctx.train_loader(self.train_set, self.settings.batch_size, epoch)

    def train_step(self, batch: Any) -> StepOutput:
        index = batch[0]
        x = rgbd_input(self.train.rgb[index], self.train.depth[index])
        flip = torch.rand(len(index), generator=self.flip_rng) < 0.5
        x[flip] = x[flip].flip(-1)
        x, labels = x.to(self.device), self.train.labels[index].to(self.device)
        self.model.train()
        with self.ctx.autocast():
            loss = self.loss_fn(self.model(self.ctx.to_memory_format(x)), labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.schedule.step()
        return StepOutput(loss=loss.detach(), samples=len(index))

    def end_epoch(self, epoch: int) -> None:
        self.schedule.end_epoch()

    @torch.no_grad()
    def infer(self, indices: Sequence[int]) -> list[np.ndarray]:
        """The five most likely training identities of each test sample, best first."""
        rows = torch.tensor(list(indices))
        x = rgbd_input(self.test.rgb[rows], self.test.depth[rows]).to(self.device)
        self.net.eval()
        with self.ctx.autocast():
            return list(topk_classes(self.net(self.ctx.to_memory_format(x))))

    def score(self, outputs: Mapping[int, np.ndarray]) -> dict[str, float]:
        labels = self.test.labels.numpy()
        return topk_accuracy(np.stack([outputs[i] for i in range(len(labels))]), labels)

    def inference_batch_size(self) -> int:
        return 64

    @classmethod
    def model_probe(cls, settings: ProfileSettings[Any], device: torch.device) -> ModelProbe:
        opts: RgbdOptions = settings.options
        model = resnet50_rgbd(opts.identities).to(device)
        # Two samples: train-mode BatchNorm needs more than one value per channel at the last stage.
        x = torch.randn(2, 4, opts.image_size, opts.image_size, device=device)
        labels = torch.zeros(2, dtype=torch.long, device=device)

        def inference() -> torch.Tensor:
            return model.eval()(x)

        def training_loss() -> torch.Tensor:
            return nn.functional.cross_entropy(model.train()(x), labels)

        size = opts.image_size
        return ModelProbe(
            model, inference, training_loss, samples=2, sample_shape=f"4x{size}x{size} RGB-D, {opts.identities} ids"
        )

    def train_samples(self) -> int:
        return len(self.train_set)

    def eval_samples(self) -> int:
        return len(self.test.labels)


def _train_samples(bench: RgbdFaceRecognition) -> list[str]:
    # Identities come from the split file, so the classifier is built before the (timed) reading of the images.
    return read_rgbd_split(bench.ctx.data_root)["train"]
