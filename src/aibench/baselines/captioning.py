"""Image-blind baseline for DC-AI-C4: an interpolated trigram language model of the training captions.

It sees the captions and never the image, so on data whose captions name what the image shows it learns the
grammar and the attribute frequencies but not which attributes an image has. It is scored as the model is:
per-word perplexity of the validation captions over the same targets (their words, <unk> included, and <end>;
not <start>), with the same vocabulary (training words seen at least `threshold` times). Its greedy caption, the
same for every image, is scored by BLEU-4 beside it.

P(w | u, v) = l3 c(u v w)/c(u v) + l2 c(v w)/c(v) + l1 (c(w) + k)/(N + k V), a level with an unseen context
giving its weight to the levels below. The weights (l1, l2, l3) and k are chosen on a held-out tenth of the
training images' captions (fit on the other nine tenths), then the counts are refit on all training captions.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence

Caption = Sequence[int]  # token ids, ending with <end>


class TrigramModel:
    def __init__(self, captions: Sequence[Caption], vocab_size: int, start: int, k: float = 0.1,
                 weights: tuple[float, float, float] = (0.1, 0.3, 0.6)) -> None:  # fmt: skip
        self.vocab_size, self.start, self.k, self.weights = vocab_size, start, k, weights
        self.uni: Counter[int] = Counter()
        self.bi: Counter[tuple[int, int]] = Counter()
        self.tri: Counter[tuple[int, int, int]] = Counter()
        self.ctx1: Counter[int] = Counter()
        self.ctx2: Counter[tuple[int, int]] = Counter()
        for caption in captions:
            seq = [start, start, *caption]
            for u, v, w in zip(seq, seq[1:], seq[2:]):
                self.uni[w] += 1
                self.bi[v, w] += 1
                self.tri[u, v, w] += 1
                self.ctx1[v] += 1
                self.ctx2[u, v] += 1
        self.total = sum(self.uni.values())

    def prob(self, u: int, v: int, w: int) -> float:
        l1, l2, l3 = self.weights
        p = (self.uni[w] + self.k) / (self.total + self.k * self.vocab_size)
        if self.ctx1[v]:
            p = (l1 * p + l2 * self.bi[v, w] / self.ctx1[v]) / (l1 + l2)
        else:
            return p
        if self.ctx2[u, v]:
            p = ((l1 + l2) * p + l3 * self.tri[u, v, w] / self.ctx2[u, v]) / (l1 + l2 + l3)
        return p

    def nll(self, caption: Caption) -> float:
        """Negative log-likelihood (nats) of a caption's targets: its tokens, <end> included, <start> not."""
        seq = [self.start, self.start, *caption]
        return -sum(math.log(self.prob(u, v, w)) for u, v, w in zip(seq, seq[1:], seq[2:]))

    def greedy(self, end: int, max_len: int = 20) -> list[int]:
        """The most likely next token at every step, from <start> <start>, up to <end> (excluded)."""
        u = v = self.start
        out: list[int] = []
        candidates = [w for w in self.uni if w != self.start]
        for _ in range(max_len):
            w = max(candidates, key=lambda c: self.prob(u, v, c))
            if w == end:
                break
            out.append(w)
            u, v = v, w
        return out


def fit_trigram(per_image: Sequence[Sequence[Caption]], vocab_size: int, start: int) -> TrigramModel:
    """A trigram model of all training captions, its weights and k tuned on a held-out tenth of the images."""
    held = [c for i, caps in enumerate(per_image) if i % 10 == 9 for c in caps]
    fit = [c for i, caps in enumerate(per_image) if i % 10 != 9 for c in caps]
    best: tuple[float, float, tuple[float, float, float]] | None = None
    if held and fit:
        for k, l2, l3 in itertools.product((0.01, 0.1, 1.0), (0.1, 0.3, 0.5), (0.1, 0.3, 0.5, 0.7)):
            weights = (max(1e-3, 1.0 - l2 - l3), l2, l3)
            if weights[0] <= 1e-3:
                continue
            model = TrigramModel(fit, vocab_size, start, k, weights)
            loss = sum(model.nll(c) for c in held)
            if best is None or loss < best[0]:
                best = (loss, k, weights)
    k, weights = (best[1], best[2]) if best else (0.1, (0.1, 0.3, 0.6))
    return TrigramModel([c for caps in per_image for c in caps], vocab_size, start, k, weights)
