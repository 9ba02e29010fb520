"""Translation quality: token accuracy under teacher forcing (the AIBench target) and BLEU (sacrebleu).

`token_accuracy` is the share of reference subword tokens (the end-of-sentence token included, padding excluded)
that the model's prediction at that position equals, where the decoder is fed the reference prefix (teacher
forcing): the metric the BenchCouncil reference code and the paper's 55% target use. A prediction shorter than its
reference counts its missing positions as wrong, a longer one is cut. `bleu` is sacrebleu's corpus BLEU (13a
tokenization, the WMT standard) of detokenized hypotheses against one reference each, on the 0-100 scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sacrebleu


def token_accuracy(predicted: Sequence[np.ndarray], reference: Sequence[np.ndarray]) -> float:
    """Matching positions over reference tokens, pooled over all sentences (not a mean of per-sentence ratios)."""
    if len(predicted) != len(reference):
        raise ValueError(f"{len(predicted)} predictions for {len(reference)} references")
    correct = total = 0
    for pred, ref in zip(predicted, reference, strict=True):
        ref = np.asarray(ref)
        pred = np.asarray(pred)[: len(ref)]
        correct += int((pred == ref[: len(pred)]).sum())
        total += len(ref)
    if total == 0:
        raise ValueError("the references hold no tokens")
    return correct / total


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """sacrebleu's corpus BLEU (0-100) with one reference per hypothesis."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)
