"""Speech recognition without a neural network: what DeepSpeech2 must beat.

- `most_frequent`: every utterance gets the training split's most frequent transcript (ties: the shortest, then
  the alphabetically first), the language-model-only guess with no acoustics at all.
- `nearest_length`: every utterance gets the transcript of the training utterance whose duration is nearest its
  own (ties: the first in the training split's order): duration is the one acoustic cue that needs no model, and
  it predicts the number of words.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np


def most_frequent(transcripts: Sequence[str]) -> str:
    """The most frequent transcript (ties: shortest, then alphabetical)."""
    if not transcripts:
        raise ValueError("no training transcripts")
    counts = Counter(transcripts)
    return min(counts, key=lambda t: (-counts[t], len(t), t))


def nearest_length(
    train_lengths: Sequence[int], train_transcripts: Sequence[str], eval_lengths: Sequence[int]
) -> list[str]:
    """Per evaluation utterance, the transcript of the training utterance of the nearest length (samples)."""
    if len(train_lengths) != len(train_transcripts) or not train_lengths:
        raise ValueError("need one length per training transcript, and at least one")
    lengths = np.asarray(train_lengths, dtype=np.int64)
    order = np.argsort(lengths, kind="stable")
    ranked = lengths[order]
    out = []
    for n in eval_lengths:
        j = int(np.searchsorted(ranked, n))
        candidates = [k for k in (j - 1, j) if 0 <= k < len(ranked)]
        best = min(candidates, key=lambda k: (abs(int(ranked[k]) - int(n)), int(order[k])))
        out.append(train_transcripts[int(order[best])])
    return out
