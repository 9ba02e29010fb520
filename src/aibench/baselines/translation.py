"""Translation without a neural network: what the Transformer must beat on the invented language.

Each baseline returns, per test sentence, the target-language token ids it predicts at every position (scored by
token accuracy position by position, as the model's teacher-forced predictions are) and the translation it
outputs (scored by BLEU). None of them sees the reference translation:

- `copy_source`: the English sentence as its own translation (what BLEU gives a system that does nothing);
- `WordDictionary`: a monotone word-for-word dictionary learned from the training pairs by co-occurrence (each
  English word translated by the target word with the highest Dice coefficient, most frequent form); it cannot
  move verbs to the clause's end, put adjectives after nouns or choose agreement suffixes from other words;
- `TargetBigram`: a target-side bigram language model; under teacher forcing it is told the reference's previous
  token (as the model is), so it shows how much of the token accuracy the target language's own regularities
  (subword continuations, frequent sequences) give without reading the source.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence

_WORD = re.compile(r"[a-z]+")


def english_words(sentence: str) -> list[str]:
    return _WORD.findall(sentence.lower())


class WordDictionary:
    """English word -> target word, by the Dice coefficient of their co-occurrence in training pairs."""

    def __init__(self, sources: Sequence[str], targets: Sequence[str]) -> None:
        source_count: Counter[str] = Counter()
        target_count: Counter[str] = Counter()
        pair_count: Counter[tuple[str, str]] = Counter()
        for src, tgt in zip(sources, targets, strict=True):
            s, t = set(english_words(src)), set(tgt.split())
            source_count.update(s)
            target_count.update(t)
            pair_count.update((a, b) for a in s for b in t)
        best: dict[str, tuple[float, int, str]] = {}
        for (a, b), n in pair_count.items():
            key = (2.0 * n / (source_count[a] + target_count[b]), n, b)
            if a not in best or key > best[a]:
                best[a] = key
        self.table = {a: b for a, (_, _, b) in best.items()}

    def translate(self, sentence: str) -> str:
        return " ".join(self.table[w] for w in english_words(sentence) if w in self.table)


class TargetBigram:
    """Most frequent next token after each token of the training targets (token ids, BOS/EOS included)."""

    def __init__(self, targets: Sequence[Sequence[int]], bos: int, eos: int) -> None:
        following: defaultdict[int, Counter[int]] = defaultdict(Counter)
        for ids in targets:
            seq = [bos, *ids, eos]
            for a, b in zip(seq[:-1], seq[1:], strict=True):
                following[a][b] += 1
        self.next = {a: c.most_common(1)[0][0] for a, c in following.items()}
        self.bos, self.eos = bos, eos

    def teacher_forced(self, reference: Sequence[int]) -> list[int]:
        """The prediction at every position of reference + EOS, given the reference's previous token."""
        return [self.next.get(a, self.eos) for a in [self.bos, *reference]]

    def greedy(self, max_tokens: int) -> list[int]:
        """The chain of most frequent successors from BOS (the same output for every source: it reads none)."""
        out: list[int] = []
        token = self.next.get(self.bos, self.eos)
        while token != self.eos and len(out) < max_tokens:
            out.append(token)
            token = self.next.get(token, self.eos)
        return out
