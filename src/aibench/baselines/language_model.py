"""Count-based language models for DC-AI-C17: per-sentence [sum NLL, token count], as the model's `infer`.

Each sentence predicts its words and a closing <eos>, the first word given the sentence start (<eos>, as the
model sees it). Probabilities are over the training vocabulary (words + <eos>); an unseen validation word is <unk>.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from aibench.datasets.ptb import EOS, UNK


def _targets(sentence: Sequence[str], vocab: set[str]) -> list[str]:
    return [w if w in vocab else UNK for w in sentence] + [EOS]


def unigram(train: Sequence[Sequence[str]], evaluate: Sequence[Sequence[str]]) -> dict[int, np.ndarray]:
    """Add-one unigram frequencies of the training words and <eos>."""
    counts = Counter(w for s in train for w in [*s, EOS])
    vocab = set(counts) | {UNK}
    total = sum(counts.values()) + len(vocab)
    out = {}
    for i, s in enumerate(evaluate):
        t = _targets(s, vocab)
        out[i] = np.array([sum(-math.log((counts[w] + 1) / total) for w in t), len(t)])
    return out


def bigram(train: Sequence[Sequence[str]], evaluate: Sequence[Sequence[str]], k: float = 0.01) -> dict[int, np.ndarray]:
    """Add-k bigram (k chosen on nothing but the default; 0.01 is about its best on the embedded data)."""
    unigrams = Counter(w for s in train for w in [*s, EOS])
    vocab = set(unigrams) | {UNK}
    pairs: Counter[tuple[str, str]] = Counter()
    history: Counter[str] = Counter()
    for s in train:
        seq = [EOS, *s, EOS]
        pairs.update(zip(seq, seq[1:]))
        history.update(seq[:-1])
    v = len(vocab)
    out = {}
    for i, s in enumerate(evaluate):
        seq = [EOS, *_targets(s, vocab)]
        nll = sum(-math.log((pairs[(a, b)] + k) / (history[a] + k * v)) for a, b in zip(seq, seq[1:]))
        out[i] = np.array([nll, len(seq) - 1])
    return out


class KneserNey:
    """Interpolated Kneser-Ney of `order` (Chen & Goodman 1998, one discount per order, D = n1 / (n1 + 2 n2)).

    Reported beside the declared baselines for information: it is the strongest count model, the one Mikolov's PTB
    tables compare RNN language models with (KN5: 141 on PTB). Lower orders use continuation counts (how many
    distinct words precede an n-gram); the unigram level interpolates with the uniform distribution over the
    vocabulary, so every word has a probability. Histories start with order - 1 <eos> tokens, as the sentence
    start is <eos> for the other baselines and the model."""

    def __init__(self, train: Sequence[Sequence[str]], order: int = 5) -> None:
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        self.order = order
        self.vocab = {w for s in train for w in s} | {EOS, UNK}
        self.start = [EOS] * (order - 1)
        highest: Counter[tuple[str, ...]] = Counter()  # raw counts of the full-order n-grams
        for s in train:
            seq = [*self.start, *s, EOS]
            highest.update(tuple(seq[i - order + 1 : i + 1]) for i in range(order - 1, len(seq)))
        # counts[n]: what each n-gram counts at level n (raw at the top, continuation counts below).
        self.counts: dict[int, Counter[tuple[str, ...]]] = {order: highest}
        for n in range(order - 1, 0, -1):
            self.counts[n] = Counter(g[1:] for g in self.counts[n + 1])  # distinct left extensions of each suffix
        self.discount: dict[int, float] = {}
        self.total: dict[int, Counter[tuple[str, ...]]] = {}
        self.types: dict[int, Counter[tuple[str, ...]]] = {}
        for n, c in self.counts.items():
            n1 = sum(1 for v in c.values() if v == 1)
            n2 = sum(1 for v in c.values() if v == 2)
            self.discount[n] = n1 / (n1 + 2 * n2) if n1 + n2 else 0.5
            self.total[n], self.types[n] = Counter(), Counter()
            for g, v in c.items():
                self.total[n][g[:-1]] += v
                self.types[n][g[:-1]] += 1

    def prob(self, history: Sequence[str], word: str) -> float:
        """P(word | the last order - 1 words of history)."""
        p = 1.0 / len(self.vocab)
        for n in range(1, self.order + 1):  # from the unigram level up, each level interpolating the one below
            h = tuple(history[len(history) - n + 1 :]) if n > 1 else ()
            total = self.total[n][h]
            if total == 0:
                continue  # an unseen history: this level adds nothing, the lower estimate stands
            d = self.discount[n]
            p = max(self.counts[n][(*h, word)] - d, 0.0) / total + d * self.types[n][h] / total * p
        return p


def kneser_ney(
    train: Sequence[Sequence[str]], evaluate: Sequence[Sequence[str]], order: int = 5
) -> dict[int, np.ndarray]:
    """Per-sentence [sum NLL, token count] under an interpolated Kneser-Ney model of the training sentences."""
    model = KneserNey(train, order)
    out = {}
    for i, s in enumerate(evaluate):
        seq = [*model.start, *_targets(s, model.vocab)]
        nll = sum(-math.log(model.prob(seq[j - order + 1 : j], seq[j])) for j in range(order - 1, len(seq)))
        out[i] = np.array([nll, len(seq) - order + 1])
    return out
