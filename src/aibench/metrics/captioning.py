"""Caption quality for DC-AI-C4: per-word perplexity with teacher forcing (the paper's metric) and BLEU-4 of
greedy captions beside it.

Perplexity counts every target of a caption: its words (<unk> included) and the closing <end>, never <start>
(the decoder's first input, not a prediction). It is the corpus-level exp(total negative log-likelihood / total
targets) over every validation caption, which is what torchmetrics' `Perplexity` computes over the same targets
(a test checks the two agree).

BLEU-4 is nltk's `corpus_bleu` (uniform weights, no smoothing): it takes a variable number of references per
image (COCO images have 5-7 captions) and already-tokenized text, as the COCO caption evaluation's BLEU does;
sacrebleu wants a fixed number of reference streams and re-tokenizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def perplexity(total_nll: float, targets: int) -> float:
    """exp(mean negative log-likelihood per target token), natural logarithm."""
    if targets <= 0:
        raise ValueError("perplexity needs at least one target token")
    return math.exp(total_nll / targets)


def bleu4(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[Sequence[str]]]) -> float:
    """Corpus BLEU-4 in [0, 1] of tokenized hypotheses against each one's tokenized references (nltk)."""
    import warnings

    from nltk.translate.bleu_score import corpus_bleu

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference sets")
    with warnings.catch_warnings():  # nltk warns when a hypothesis has no 4-gram match; the score is then 0
        warnings.simplefilter("ignore")
        return float(corpus_bleu([list(map(list, r)) for r in references], [list(h) for h in hypotheses]))
