"""DC-AI-C1: ResNet-50 (torchvision, architecture unchanged) trained from scratch; top-1 accuracy.

Reference settings (BenchCouncil's code, = the torchvision ImageNet recipe): batch 256, SGD lr 0.1 divided by
10 every 30 epochs, momentum 0.9, weight decay 1e-4, 224x224 random-resized crops, 90 epochs.
The small profile keeps the network and the recipe's shape (SGD, momentum, step decay) but trains at 32x32 on
embedded data, with the learning rate scaled linearly to its batch (0.1 x 32/256) and a linear warm-up: at 32x32
the last stage sees 1x1 feature maps and from-scratch training diverges without one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import models
from torchvision.transforms import v2 as T

from aibench.benchmarks.base import Benchmark, ModelProbe, ProfileSettings, SampleCache, StepOutput
from aibench.datasets.imagenet import IMAGENET, image_folder
from aibench.metrics.classification import topk_accuracy, topk_classes
from aibench.registry import register

_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@register("DC-AI-C1")
class ImageClassification(Benchmark):
    dataset = IMAGENET
    quality_metric = "top1"
    profiles = {
        "full": ProfileSettings(
            batch_size=256, learning_rate=0.1, max_epochs=90, target=0.749, time_limit_s=14 * 24 * 3600,
            options={"image_size": 224, "resize": 256, "lr_step_epochs": 30, "workers": 8, "num_classes": 1000},
        ),
        "small": ProfileSettings(
            batch_size=32, learning_rate=0.0125, max_epochs=16, target=0.67, time_limit_s=900,
            data={"classes": 10, "train_per_class": 100, "val_per_class": 30, "image_size": 40},
            # Random-resized crops below half of a 40px image leave too little of the scene to classify.
            options={"image_size": 32, "resize": 36, "lr_step_epochs": 8, "workers": 0, "crop_scale_min": 0.5,
                     "warmup_steps": 60},
        ),
        "tiny": ProfileSettings(
            batch_size=8, learning_rate=0.003, max_epochs=2, target=0.99, time_limit_s=120,
            data={"classes": 3, "train_per_class": 8, "val_per_class": 4, "image_size": 36},
            options={"image_size": 32, "resize": 36, "lr_step_epochs": 30, "workers": 0},
        ),
    }

    def build(self) -> None:
        # Class count comes from the data, so it is known before the (off-clock) model build: listing
        # class folders is not reading the data set.
        classes = sorted(p.name for p in (self.ctx.data_root / "imagenet" / "train").iterdir() if p.is_dir())
        self.model = models.resnet50(weights=None, num_classes=len(classes), zero_init_residual=True).to(self.device)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=self.settings.learning_rate,
                                         momentum=0.9, weight_decay=1e-4)
        self.loss_fn = nn.CrossEntropyLoss()
        self._epoch, self._step = 1, 0

    def load_data(self) -> None:
        size, resize = int(self.settings.options["image_size"]), int(self.settings.options["resize"])
        train_tf = T.Compose([T.ToImage(), T.RandomResizedCrop(size, scale=(float(self.settings.options.get("crop_scale_min", 0.08)), 1.0), antialias=True), T.RandomHorizontalFlip(),
                              T.ToDtype(torch.float32, scale=True), T.Normalize(_MEAN, _STD)])
        eval_tf = T.Compose([T.ToImage(), T.Resize(resize, antialias=True), T.CenterCrop(size),
                             T.ToDtype(torch.float32, scale=True), T.Normalize(_MEAN, _STD)])
        self.train_set = image_folder(self.ctx.data_root, "train", train_tf)
        self.val_set = image_folder(self.ctx.data_root, "val", eval_tf)
        if self.train_set.classes != self.val_set.classes:
            raise ValueError("imagenet/train and imagenet/val have different class folders")
        self.eval_inputs = SampleCache(lambda i: self.val_set[i][0])

    def _loader(self, dataset: Any, shuffle: bool, epoch: int = 0) -> DataLoader:
        gen = torch.Generator().manual_seed(self.ctx.seed * 1000 + epoch)
        workers = int(self.settings.options.get("workers", 0))
        return DataLoader(dataset, batch_size=self.settings.batch_size, shuffle=shuffle, generator=gen,
                          num_workers=workers, pin_memory=self.device.type == "cuda",
                          drop_last=shuffle and len(dataset) > self.settings.batch_size,
                          persistent_workers=False)

    def train_batches(self, epoch: int) -> Iterable[Any]:
        self._epoch = epoch
        return self._loader(self.train_set, shuffle=True, epoch=epoch)

    def _learning_rate(self) -> float:
        """Step decay (/10 every lr_step_epochs) after a linear warm-up over the first warmup_steps steps.

        From-scratch ResNet-50 at small batch diverges without warm-up (Goyal et al., 2017).
        """
        opts = self.settings.options
        lr = self.settings.learning_rate * 0.1 ** ((self._epoch - 1) // int(opts["lr_step_epochs"]))
        warmup = int(opts.get("warmup_steps", 0))
        return lr * min(1.0, (self._step + 1) / warmup) if warmup else lr

    def train_step(self, batch: Any) -> StepOutput:
        images, labels = (t.to(self.device, non_blocking=True) for t in batch)
        self.model.train()
        for group in self.optimizer.param_groups:
            group["lr"] = self._learning_rate()
        self._step += 1
        with self.ctx.autocast():
            loss = self.loss_fn(self.model(images), labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return StepOutput(loss=loss.detach(), samples=images.shape[0])

    @torch.no_grad()
    def _top5(self, images: torch.Tensor) -> np.ndarray:
        self.model.eval()
        with self.ctx.autocast():
            return topk_classes(self.model(images.to(self.device, non_blocking=True)))

    def evaluate(self) -> dict[str, float]:
        # The data loader (with its workers) instead of infer(): the same predictions, read in parallel.
        top = np.concatenate([self._top5(images) for images, _ in self._loader(self.val_set, shuffle=False)])
        return self.score(dict(enumerate(top)))

    def infer(self, indices: Sequence[int]) -> list[np.ndarray]:
        return list(self._top5(torch.stack([self.eval_inputs[i] for i in indices])))

    def score(self, outputs: Mapping[int, np.ndarray]) -> dict[str, float]:
        labels = np.asarray(self.val_set.targets)
        return topk_accuracy(np.stack([outputs[i] for i in range(len(labels))]), labels)

    @classmethod
    def model_probe(cls, settings: ProfileSettings, device: torch.device) -> ModelProbe:
        size = int(settings.options["image_size"])
        classes = int(settings.options.get("num_classes", settings.data.get("classes", 1000)))
        model = models.resnet50(weights=None, num_classes=classes).to(device)
        # Two samples: at 32x32 the last stage is 1x1, and train-mode BatchNorm needs more than one value.
        images = torch.randn(2, 3, size, size, device=device)
        labels = torch.zeros(2, dtype=torch.long, device=device)

        def inference() -> torch.Tensor:
            return model.eval()(images)

        def training_loss() -> torch.Tensor:
            return nn.functional.cross_entropy(model.train()(images), labels)

        return ModelProbe(model, inference, training_loss, samples=2,
                          sample_shape=f"3x{size}x{size} image, {classes} classes")

    def train_samples(self) -> int:
        return len(self.train_set)

    def eval_samples(self) -> int:
        return len(self.val_set)

    def optimizer_settings(self) -> dict[str, Any]:
        return {"opt_name": "sgd", "opt_base_learning_rate": self.settings.learning_rate, "opt_momentum": 0.9,
                "opt_weight_decay": 1e-4, "opt_learning_rate_decay_boundary_epochs":
                    int(self.settings.options["lr_step_epochs"]), "opt_learning_rate_decay_factor": 0.1,
                "opt_learning_rate_warmup_steps": int(self.settings.options.get("warmup_steps", 0))}
