"""The MLPerf Training workloads the paper set beside AIBench (section 5.2, Figures 1 and 2), counted with the
same counter at their reference shapes, so one tool shows both suites' ranges of parameters and FLOPs.

torchvision supplies ResNet-50 v1.5 and Mask R-CNN; the others are small definitions that follow the MLPerf
reference implementations' layer structure and sizes (named per workload below). Weights are random: only
shapes matter to a count. A sample is what MLPerf's throughput counts: an image, a sentence pair, a user-item
pair, a board position.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from aibench.benchmarks.base import ModelProbe
from aibench.benchmarks.recommendation.benchmark import NeuMF
from aibench.harness.flops import count_on_meta_or_cpu

SEQ_LEN = 50  # source and target tokens of a translation sample: MLPerf GNMT's max_length_train


@dataclass(frozen=True)
class MlperfWorkload:
    name: str
    model: str
    reference: str  # where the shapes come from
    build: Callable[[torch.device], ModelProbe]


def _classifier_probe(model: nn.Module, x: torch.Tensor, classes: int, shape: str) -> ModelProbe:
    target = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)

    def inference() -> Any:
        return model.eval()(x)

    def training_loss() -> torch.Tensor:
        return F.cross_entropy(model.train()(x), target)

    return ModelProbe(model, inference, training_loss, samples=x.shape[0], sample_shape=shape)


def _resnet50(device: torch.device) -> ModelProbe:
    import torchvision

    with torch.device(device):
        model = torchvision.models.resnet50()  # torchvision's ResNet-50 is v1.5 (stride 2 in the 3x3 conv)
        x = torch.zeros(2, 3, 224, 224)
    return _classifier_probe(model, x, 1000, "3x224x224 image, 1000 classes")


class SsdResNet34(nn.Module):
    """SSD300 on a ResNet-34 trunk as MLPerf's single_stage_detector: conv1 to layer3 with layer3's first block
    at stride 1 (38x38 features), five extra blocks, 4/6/6/6/4/4 default boxes on 38/19/10/5/3/1 maps, 81
    classes (8,732 boxes)."""

    def __init__(self, classes: int = 81) -> None:
        import torchvision

        super().__init__()
        r = torchvision.models.resnet34()
        r.layer3[0].conv1.stride = (1, 1)
        r.layer3[0].downsample[0].stride = (1, 1)
        self.trunk = nn.Sequential(r.conv1, r.bn1, r.relu, r.maxpool, r.layer1, r.layer2, r.layer3)
        channels = [256, 512, 512, 256, 256, 256]
        middles = [256, 256, 128, 128, 128]
        extras = []
        for i, (cin, cout, mid) in enumerate(zip(channels[:-1], channels[1:], middles, strict=True)):
            stride, pad = (2, 1) if i < 3 else (1, 0)
            extras.append(
                nn.Sequential(
                    nn.Conv2d(cin, mid, 1, bias=False),
                    nn.BatchNorm2d(mid),
                    nn.ReLU(inplace=True),
                    nn.Conv2d(mid, cout, 3, stride, pad, bias=False),
                    nn.BatchNorm2d(cout),
                    nn.ReLU(inplace=True),
                )
            )
        self.extras = nn.ModuleList(extras)
        boxes = [4, 6, 6, 6, 4, 4]
        self.loc = nn.ModuleList(nn.Conv2d(c, b * 4, 3, padding=1) for c, b in zip(channels, boxes, strict=True))
        self.conf = nn.ModuleList(nn.Conv2d(c, b * classes, 3, padding=1) for c, b in zip(channels, boxes, strict=True))
        self.classes = classes

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        maps = [self.trunk(x)]
        for block in self.extras:
            maps.append(block(maps[-1]))
        n = x.shape[0]
        loc = torch.cat([h(m).reshape(n, 4, -1) for h, m in zip(self.loc, maps, strict=True)], 2)
        conf = torch.cat([h(m).reshape(n, self.classes, -1) for h, m in zip(self.conf, maps, strict=True)], 2)
        return loc, conf


def _ssd(device: torch.device) -> ModelProbe:
    with torch.device(device):
        model = SsdResNet34()
        x = torch.zeros(2, 3, 300, 300)
        boxes = torch.zeros(2, 4, 8732)
        labels = torch.zeros(2, 8732, dtype=torch.long)

    def training_loss() -> torch.Tensor:
        loc, conf = model.train()(x)
        return F.smooth_l1_loss(loc, boxes) + F.cross_entropy(conf, labels)

    return ModelProbe(model, lambda: model.eval()(x), training_loss, samples=2, sample_shape="3x300x300 image")


def _mask_rcnn(device: torch.device) -> ModelProbe:
    import torchvision

    # MLPerf's Mask R-CNN: ResNet-50-FPN, images resized to 800 (at most 1333) on the short side, 81 classes. A
    # score threshold of 0 keeps 100 detections an image, so the mask head's count does not depend on the random
    # weights.
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=81, min_size=800, max_size=1333, box_score_thresh=0.0
    ).to(device)
    image = torch.rand(3, 480, 640, device=device)  # COCO's most common size
    mask = torch.zeros(1, 480, 640, dtype=torch.uint8, device=device)
    mask[:, 100:300, 150:400] = 1
    target = {"boxes": torch.tensor([[150.0, 100.0, 400.0, 300.0]]), "labels": torch.tensor([1]), "masks": mask}

    def training_loss() -> torch.Tensor:
        losses = model.train()([image], [target])
        return sum(losses.values())

    return ModelProbe(
        model,
        lambda: model.eval()([image]),
        training_loss,
        samples=1,
        sample_shape="640x480 image resized to 800x1067",
        meta_ok=False,
        notes="RPN, RoI heads and the mask head on 100 detections; RoIAlign and NMS are not counted",
    )


class Gnmt(nn.Module):
    """MLPerf's GNMT (rnn_translator): shared 32,320-word embedding of 1,024, a 4-layer encoder (the first
    bidirectional, residual from the third), a 4-layer decoder whose first layer feeds Bahdanau attention and every
    layer gets the attention context, a 1,024 -> 32,320 classifier."""

    def __init__(self, vocab: int = 32320, hidden: int = 1024) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.enc_bi = nn.LSTM(hidden, hidden, batch_first=True, bidirectional=True)
        self.enc = nn.ModuleList([nn.LSTM(2 * hidden, hidden, batch_first=True)])
        self.enc.extend(nn.LSTM(hidden, hidden, batch_first=True) for _ in range(2))
        self.dec_first = nn.LSTM(hidden, hidden, batch_first=True)
        self.dec = nn.ModuleList(nn.LSTM(2 * hidden, hidden, batch_first=True) for _ in range(3))
        self.query, self.key = nn.Linear(hidden, hidden, bias=False), nn.Linear(hidden, hidden, bias=False)
        self.v = nn.Linear(hidden, 1, bias=False)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        x, _ = self.enc_bi(self.embed(src))
        for i, layer in enumerate(self.enc):
            y, _ = layer(x)
            x = y + x if i > 0 else y
        keys = self.key(x)
        h, _ = self.dec_first(self.embed(tgt))
        scores = self.v(torch.tanh(self.query(h)[:, :, None] + keys[:, None])).squeeze(-1)
        context = torch.softmax(scores, -1) @ x
        for i, layer in enumerate(self.dec):
            y, _ = layer(torch.cat([h, context], -1))
            h = y + h if i > 0 else y
        return self.out(h)


def _seq2seq_probe(model: nn.Module, vocab: int, shape: str, device: torch.device) -> ModelProbe:
    with torch.device(device):
        src = torch.zeros(1, SEQ_LEN, dtype=torch.long)
        tgt = torch.zeros(1, SEQ_LEN, dtype=torch.long)

    def training_loss() -> torch.Tensor:
        return F.cross_entropy(model.train()(src, tgt).reshape(-1, vocab), tgt.reshape(-1))

    return ModelProbe(model, lambda: model.eval()(src, tgt), training_loss, samples=1, sample_shape=shape)


def _gnmt(device: torch.device) -> ModelProbe:
    with torch.device(device):
        model = Gnmt()
    return _seq2seq_probe(model, 32320, f"sentence pair, {SEQ_LEN} + {SEQ_LEN} tokens (teacher forcing)", device)


class TransformerBig(nn.Module):
    """Transformer (big) as MLPerf's translation reference (fairseq): 6 + 6 layers, d_model 1,024, 16 heads, FFN
    4,096, one 33,708-word dictionary shared by both embeddings and the output projection."""

    def __init__(self, vocab: int = 33708, d_model: int = 1024) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.core = nn.Transformer(d_model, 16, 6, 6, 4096, dropout=0.1, batch_first=True)

    def forward(self, src: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        mask = nn.Transformer.generate_square_subsequent_mask(tgt.shape[1], device=tgt.device)
        h = self.core(self.embed(src), self.embed(tgt), tgt_mask=mask, tgt_is_causal=True)
        return h @ self.embed.weight.T  # tied output projection


def _transformer(device: torch.device) -> ModelProbe:
    with torch.device(device):
        model = TransformerBig()
    return _seq2seq_probe(model, 33708, f"sentence pair, {SEQ_LEN} + {SEQ_LEN} tokens (teacher forcing)", device)


def _ncf(device: torch.device) -> ModelProbe:
    with torch.device(device):
        model = NeuMF(138_493, 26_744, 64, [256, 256, 128, 64])  # MLPerf ml-20m, mf_dim 64, layers 256-256-128-64
        users = torch.zeros(2, dtype=torch.long)
        items = torch.zeros(2, dtype=torch.long)
        labels = torch.zeros(2)

    def training_loss() -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(model.train()(users, items), labels)

    return ModelProbe(
        model, lambda: model.eval()(users, items), training_loss, samples=2, sample_shape="one user-item pair"
    )


class MinigoNet(nn.Module):
    """Minigo's dual network as MLPerf ran it (ml_perf/reference_implementation.py: 9x9 board, --trunk_layers=10,
    --conv_width=64): 17 feature planes, a 3x3 stem, 10 residual blocks, a 2-filter policy head over 82 moves, a
    1-filter value head with a 256-unit hidden layer (Minigo's default fc_width)."""

    def __init__(self, board: int = 9, planes: int = 17, width: int = 64, blocks: int = 10, fc: int = 256) -> None:
        super().__init__()

        def conv(cin: int, cout: int, k: int = 3) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout))

        self.stem = conv(planes, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(conv(width, width), nn.ReLU(), conv(width, width)) for _ in range(blocks)
        )
        self.policy_conv, self.value_conv = conv(width, 2, 1), conv(width, 1, 1)
        self.policy = nn.Linear(2 * board * board, board * board + 1)
        self.value = nn.Sequential(nn.Linear(board * board, fc), nn.ReLU(), nn.Linear(fc, 1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.stem(x))
        for block in self.blocks:
            h = F.relu(h + block(h))
        policy = self.policy(F.relu(self.policy_conv(h)).flatten(1))
        value = self.value(F.relu(self.value_conv(h)).flatten(1)).squeeze(-1)
        return policy, value


def _minigo(device: torch.device) -> ModelProbe:
    with torch.device(device):
        model = MinigoNet()
        x = torch.zeros(2, 17, 9, 9)
        moves = torch.zeros(2, dtype=torch.long)
        outcome = torch.zeros(2)

    def training_loss() -> torch.Tensor:
        policy, value = model.train()(x)
        return F.cross_entropy(policy, moves) + 0.25 * F.mse_loss(value, outcome)  # --value_cost_weight=0.25

    return ModelProbe(model, lambda: model.eval()(x), training_loss, samples=2, sample_shape="9x9 board, 17 planes")


MLPERF_WORKLOADS: tuple[MlperfWorkload, ...] = (
    MlperfWorkload("image classification", "ResNet-50 v1.5", "torchvision resnet50, 224x224", _resnet50),
    MlperfWorkload("object detection (light)", "SSD-ResNet34", "MLPerf single_stage_detector, 300x300", _ssd),
    MlperfWorkload("object detection (heavy)", "Mask R-CNN", "torchvision maskrcnn_resnet50_fpn, 800 px", _mask_rcnn),
    MlperfWorkload("translation (recurrent)", "GNMT", "MLPerf rnn_translator, 4+4 layers of 1,024", _gnmt),
    MlperfWorkload("translation (non-recurrent)", "Transformer (big)", "MLPerf/fairseq transformer big", _transformer),
    MlperfWorkload("recommendation", "NCF", "MLPerf NeuMF on ml-20m, mf_dim 64", _ncf),
    MlperfWorkload("reinforcement learning", "MiniGo", "MLPerf minigo, 9x9, 10 blocks of 64", _minigo),
)


def characterize_mlperf(names: tuple[str, ...] | None = None, progress: Any = None) -> list[dict[str, Any]]:
    """Parameters and per-sample FLOPs of the MLPerf workloads (all, or those whose model is in `names`)."""
    rows = []
    for w in MLPERF_WORKLOADS:
        if names is not None and w.model not in names:
            continue
        if progress:
            progress(f"counting MLPerf {w.model}")
        rows.append({"task": w.name, "model": w.model, "reference": w.reference, "full": count_on_meta_or_cpu(w.build)})
    return rows
