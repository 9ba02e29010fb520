"""DC-AI-C4 image captioning: Neural Image Caption (Show and Tell) with a ResNet-152 encoder and an LSTM decoder.

The model is the reference code's (yunjey/pytorch-tutorial, image_captioning): EncoderCNN = torchvision's
ResNet-152 without its classifier, then Linear(2048, embed) + BatchNorm1d; DecoderRNN = Embedding(vocab, embed),
a one-layer LSTM(embed, hidden) and Linear(hidden, vocab). At the full shapes (embed 256, hidden 512, COCO's
threshold-4 vocabulary of about 9,956 words) it has about 68 M parameters, the suite's largest. The image feature
is the LSTM's first input step, as in Show and Tell; then <start> and the caption's words are fed, and the
targets are the words and <end> (never <start>), the targets the perplexity counts.

Initialisation. The reference starts from an ImageNet-trained ResNet-152 and trains only the linear layer, the
BatchNorm and the decoder. The rules forbid trained weights, so by default EVERYTHING trains from scratch.
`--backbone-weights PATH` (a torchvision ResNet-152 state dict, or a weights.pt of this benchmark) starts the
encoder's trunk from it instead; the session logs and records that, and it is never the default. The trunk then
still trains (one optimizer over all parameters), so the option changes only the starting point.

Training: Adam (the paper's 1e-3), cross-entropy over every target of every caption of the batch's images (an
image's encoder pass is shared by all its captions: the encoder, not the decoder, is the cost). Quality: per-word
perplexity of the validation captions under teacher forcing (lower is better; the paper's 4.2 on COCO), with
BLEU-4 of greedy captions beside it.

Inference (`aibench infer`): a query is one validation image; `infer` returns, per image, the total negative
log-likelihood of its reference captions under teacher forcing and their token count (what perplexity needs, and
nothing else about the references), then the greedy caption's ids. AccuracyOnly therefore reports the teacher-
forced perplexity and the greedy captions' BLEU-4, the numbers `evaluate()` gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset
from torchvision import models

from aibench.baselines.captioning import fit_trigram
from aibench.benchmarks.base import Baseline, Benchmark, ModelProbe, ProfileSettings, StepOutput
from aibench.benchmarks.quality import AtMost
from aibench.datasets.coco_captions import (
    COCO_CAPTIONS,
    END,
    PAD,
    SPECIALS,
    START,
    CaptionParams,
    CaptionSplit,
    Vocabulary,
    read_split,
)
from aibench.metrics.captioning import bleu4, perplexity
from aibench.registry import register

_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
PAD_ID, START_ID, END_ID = SPECIALS.index(PAD), SPECIALS.index(START), SPECIALS.index(END)


@dataclass(frozen=True)
class CaptionOptions:
    image_size: int = 224  # images are resized to image_size x image_size on reading
    embed_size: int = 256
    hidden_size: int = 512
    vocab_size: int = 9956  # for counting without data (COCO 2014 train, threshold 4); sessions use the data's
    caption_length: int = 13  # tokens a caption for counting (COCO's mean is about 11.3 words + <end>)
    max_caption: int = 20  # longest greedy caption
    threshold: int = 4  # a word enters the vocabulary when seen this many times in the training captions

    def __post_init__(self) -> None:
        if self.image_size < 16 or min(self.embed_size, self.hidden_size, self.caption_length) < 1:
            raise ValueError("image_size must be >= 16 and embed_size, hidden_size, caption_length >= 1")
        if self.vocab_size <= len(SPECIALS) or self.max_caption < 1 or self.threshold < 1:
            raise ValueError("vocab_size must exceed the 4 specials; max_caption and threshold >= 1")


class Captioner(nn.Module):
    """EncoderCNN (ResNet-152 trunk, Linear + BatchNorm1d) and DecoderRNN (Embedding, LSTM, Linear) in one."""

    def __init__(self, vocab_size: int, embed_size: int = 256, hidden_size: int = 512) -> None:
        super().__init__()
        self.trunk = models.resnet152(weights=None)
        self.trunk.fc = nn.Identity()  # the reference drops the classifier
        self.linear = nn.Linear(2048, embed_size)
        self.bn = nn.BatchNorm1d(embed_size, momentum=0.01)  # the reference's momentum
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size, 1, batch_first=True)
        self.out = nn.Linear(hidden_size, vocab_size)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.bn(self.linear(self.trunk(images)))

    def decode(self, features: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, vocab) for inputs (B, T) (<start> w1 ... wn), the feature being step 0 (not scored)."""
        steps = torch.cat([features.unsqueeze(1), self.embed(inputs)], 1)
        hidden, _ = self.lstm(steps)
        return self.out(hidden[:, 1:])

    def forward(self, images: torch.Tensor, inputs: torch.Tensor, owner: torch.Tensor) -> torch.Tensor:
        """Logits of captions `inputs`, caption k describing image owner[k] of the batch."""
        return self.decode(self.encode(images)[owner], inputs)

    @torch.no_grad()
    def greedy(self, features: torch.Tensor, max_len: int) -> torch.Tensor:
        """(B, max_len) greedy token ids after <start> (the reference's sample())."""
        _, state = self.lstm(features.unsqueeze(1))
        token = torch.full((len(features),), START_ID, dtype=torch.long, device=features.device)
        out = []
        for _ in range(max_len):
            hidden, state = self.lstm(self.embed(token).unsqueeze(1), state)
            token = self.out(hidden[:, 0]).argmax(-1)
            out.append(token)
        return torch.stack(out, 1)


def image_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, S, S) to ImageNet-normalised float."""
    x = images.float() / 255.0
    return (x - _MEAN.to(x.device)) / _STD.to(x.device)


@dataclass
class EncodedSplit:
    split: CaptionSplit
    tokens: torch.Tensor  # (M, L) ids: the caption's words then <end>, right-padded with <pad>
    owner: torch.Tensor  # (M,) image index of each caption
    rows: list[torch.Tensor]  # per image, its caption rows


def encode_split(split: CaptionSplit, vocab: Vocabulary) -> EncodedSplit:
    ids = [vocab.encode(c) for caps in split.captions for c in caps]
    owner = torch.tensor([i for i, caps in enumerate(split.captions) for _ in caps])
    tokens = torch.full((len(ids), max(map(len, ids))), PAD_ID, dtype=torch.long)
    for k, row in enumerate(ids):
        tokens[k, : len(row)] = torch.tensor(row)
    rows = [torch.nonzero(owner == i).flatten() for i in range(len(split.captions))]
    return EncodedSplit(split, tokens, owner, rows)


def teacher_inputs(targets: torch.Tensor) -> torch.Tensor:
    """Decoder inputs for targets (w1 ... wn <end>): <start> w1 ... wn (the target shifted right)."""
    start = torch.full((len(targets), 1), START_ID, dtype=torch.long, device=targets.device)
    return torch.cat([start, targets[:, :-1]], 1)


def _trunk_state(path: Path) -> dict[str, torch.Tensor]:
    """ResNet-152 trunk weights (no classifier) from a torchvision state dict or this benchmark's weights.pt."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ValueError(f"--backbone-weights {path}: not a PyTorch state dict ({exc})") from exc
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = {k.removeprefix("trunk."): v for k, v in state["model"].items() if k.startswith("trunk.")}
    expected = set(models.resnet152().state_dict()) - {"fc.weight", "fc.bias"}
    trunk = {k: v for k, v in state.items() if k in expected}
    missing = expected - set(trunk)
    if missing:
        raise ValueError(f"--backbone-weights {path}: not a ResNet-152 state dict (missing {sorted(missing)[:3]}...)")
    return trunk


def _outputs(nll: np.ndarray, count: np.ndarray, greedy: np.ndarray) -> list[np.ndarray]:
    return [np.concatenate([[n, c], g]).astype(np.float64) for n, c, g in zip(nll, count, greedy)]


def _trigram(bench: ImageCaptioning) -> Mapping[int, np.ndarray]:
    train = bench.train
    per_image = [[row[row != PAD_ID].tolist() for row in train.tokens[r]] for r in train.rows]
    model = fit_trigram(per_image, len(bench.vocab), START_ID)
    caption = model.greedy(END_ID, bench.settings.options.max_caption)
    out = {}
    for i, rows in enumerate(bench.val.rows):
        caps = [row[row != PAD_ID].tolist() for row in bench.val.tokens[rows]]
        out[i] = np.array([sum(model.nll(c) for c in caps), sum(map(len, caps)), *caption, END_ID], np.float64)
    return out


@register("DC-AI-C4")
class ImageCaptioning(Benchmark):
    dataset = COCO_CAPTIONS
    quality_metric = "perplexity"
    higher_is_better = False
    channels_last = True
    backbone = "the ResNet-152 encoder trunk (a torchvision ResNet-152 state dict, or a DC-AI-C4 weights.pt)"
    baselines = (
        Baseline(
            "image-blind trigram LM",
            _trigram,
            "interpolated trigram of the training captions (weights, add-k tuned on a held-out tenth)",
        ),
    )
    profiles = {
        "full": ProfileSettings(
            batch_size=128,
            learning_rate=1e-3,
            max_epochs=5,
            target=AtMost("perplexity", 4.2),
            convergent=AtMost("perplexity", 4.2),  # the paper's convergent quality equals its target
            time_limit_s=7 * 24 * 3600,
            options=CaptionOptions(),
        ),
        "small": ProfileSettings(
            batch_size=32,
            learning_rate=1e-3,
            max_epochs=6,
            target=AtMost("perplexity", 2.8),
            convergent=AtMost("perplexity", 2.9),
            time_limit_s=600,
            data=CaptionParams(train_images=1000, val_images=200, image_size=32),
            options=CaptionOptions(image_size=32, embed_size=256, hidden_size=512),
        ),
        "tiny": ProfileSettings(
            batch_size=4,
            learning_rate=1e-3,
            max_epochs=2,
            target=AtMost("perplexity", 0.5),
            time_limit_s=120,
            data=CaptionParams(train_images=8, val_images=4, image_size=32),
            # 32x32, not 16x16: at 16x16 layer3/4 are 1x1 and BatchNorm over the 2 images of a 2-rank step
            # (per-rank batch 2) goes non-finite within 4 steps; at 32x32 it stays finite.
            options=CaptionOptions(image_size=32, embed_size=32, hidden_size=32, max_caption=6, threshold=1),
        ),
    }

    def build(self) -> None:
        opts: CaptionOptions = self.settings.options
        # The vocabulary comes from the training captions alone (a small JSON read), before the timed image reading.
        from aibench.datasets.coco_captions import read_captions

        self.vocab = Vocabulary.build(
            [c for caps in read_captions(self.ctx.data_root, "train").captions for c in caps], opts.threshold
        )
        model = Captioner(len(self.vocab), opts.embed_size, opts.hidden_size)
        if self.ctx.backbone_weights is not None:
            model.trunk.load_state_dict(_trunk_state(self.ctx.backbone_weights), strict=False)
        model = model.to(self.device)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=self.settings.learning_rate)
        self.model = self.add_trained("model", model, self.optimizer)
        self.net = model
        self.loss_fn = nn.CrossEntropyLoss(ignore_index=PAD_ID)

    def load_data(self) -> None:
        size = self.settings.options.image_size
        self.train = encode_split(read_split(self.ctx.data_root, "train", size), self.vocab)
        self.val = encode_split(read_split(self.ctx.data_root, "val", size), self.vocab)
        self.train_set = TensorDataset(torch.arange(len(self.train.rows)))

    def train_batches(self, epoch: int) -> Iterable[Any]:
        return self.ctx.train_loader(self.train_set, self.settings.batch_size, epoch)

    def _batch(self, data: EncodedSplit, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Images, every caption of them (trimmed to the longest) and each caption's image in the batch."""
        assert data.split.images is not None
        rows = torch.cat([data.rows[int(i)] for i in index])
        owner = torch.cat([torch.full((len(data.rows[int(i)]),), k) for k, i in enumerate(index)])
        targets = data.tokens[rows]
        targets = targets[:, : int((targets != PAD_ID).sum(1).max())]
        x = self.ctx.to_memory_format(image_input(data.split.images[index]).to(self.device))
        return x, targets.to(self.device), owner.to(self.device)

    def train_step(self, batch: Any) -> StepOutput:
        index = batch[0]
        x, targets, owner = self._batch(self.train, index)
        self.model.train()
        with self.ctx.autocast():
            logits = self.model(x, teacher_inputs(targets), owner)
            loss = self.loss_fn(logits.float().flatten(0, 1), targets.flatten())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return StepOutput(loss=loss.detach(), samples=len(index))

    @torch.no_grad()
    def infer(self, indices: Sequence[int]) -> list[np.ndarray]:
        """Per image: [total NLL of its references (teacher forcing), their target count, greedy ids...]."""
        index = torch.tensor(list(indices))
        x, targets, owner = self._batch(self.val, index)
        self.net.eval()
        with self.ctx.autocast():
            features = self.net.encode(x)
            logits = self.net.decode(features[owner], teacher_inputs(targets)).float()
            greedy = self.net.greedy(features, self.settings.options.max_caption)
        nll = nn.functional.cross_entropy(
            logits.flatten(0, 1), targets.flatten(), ignore_index=PAD_ID, reduction="none"
        ).view(targets.shape)
        per_image = torch.zeros(len(index), dtype=torch.float64).index_add_(0, owner, nll.sum(1).double())
        counts = torch.zeros(len(index), dtype=torch.float64).index_add_(0, owner, (targets != PAD_ID).sum(1).double())
        return _outputs(per_image.cpu().numpy(), counts.cpu().numpy(), greedy.cpu().numpy())

    def score(self, outputs: Mapping[int, np.ndarray]) -> dict[str, float]:
        n = len(self.val.rows)
        total = sum(float(outputs[i][0]) for i in range(n))
        count = int(round(sum(float(outputs[i][1]) for i in range(n))))
        hypotheses = [self.vocab.decode(outputs[i][2:].astype(np.int64).tolist()) for i in range(n)]
        return {
            "perplexity": perplexity(total, count),
            "bleu4": bleu4(hypotheses, self.val.split.captions),
        }

    def inference_batch_size(self) -> int:
        return 64

    @classmethod
    def model_probe(cls, settings: ProfileSettings[Any], device: torch.device) -> ModelProbe:
        opts: CaptionOptions = settings.options
        model = Captioner(opts.vocab_size, opts.embed_size, opts.hidden_size).to(device)
        # Two images (train-mode BatchNorm1d needs more than one value), five captions each, as COCO has.
        x = torch.randn(2, 3, opts.image_size, opts.image_size, device=device)
        targets = torch.ones(10, opts.caption_length, dtype=torch.long, device=device)
        owner = torch.arange(2, device=device).repeat_interleave(5)

        def inference() -> torch.Tensor:
            model.eval()
            features = model.encode(x)
            return model.decode(features[owner], teacher_inputs(targets))

        def training_loss() -> torch.Tensor:
            logits = model.train()(x, teacher_inputs(targets), owner)
            return nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())

        size = opts.image_size
        return ModelProbe(
            model,
            inference,
            training_loss,
            samples=2,
            sample_shape=f"3x{size}x{size} image + 5 captions of {opts.caption_length} tokens, vocab {opts.vocab_size}",
            notes="inference = encoder + teacher-forced decoder over the 5 captions (greedy decoding not counted)",
        )

    def train_samples(self) -> int:
        return len(self.train_set)

    def eval_samples(self) -> int:
        return len(self.val.rows)
