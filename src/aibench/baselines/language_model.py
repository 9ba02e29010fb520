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
