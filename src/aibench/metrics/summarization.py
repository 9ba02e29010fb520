"""Summarization quality: ROUGE-L F1 (the AIBench target), with ROUGE-1 and ROUGE-2 beside it, from rouge-score.

Google's `rouge-score` package (the reimplementation of Lin's ROUGE-1.5.5 that most PyTorch summarization code
reports) with its default tokenizer and no stemming: text is lower-cased and every run of characters other than
a-z and 0-9 separates tokens, so punctuation and Gigaword's '#' digit placeholders are not scored, and a word
the model writes as "<unk>" counts as "unk" (which matches a reference's own "UNK" as ROUGE-1.5.5 would; embedded
references hold no UNK). ROUGE-L is the F1 of the longest common subsequence of words (rouge-score's
`rougeL`, the sentence-level LCS, the variant Gigaword headlines are reported with): with LCS length l, a
hypothesis of m tokens and a reference of n, P = l/m, R = l/n, F = 2PR/(P+R). Each pair's F1 is scored and the
mean over the evaluation split is reported x100 (Nallapati et al. and Rush et al. report 0-100; the paper's
target is 41).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rouge_score import rouge_scorer

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


def rouge(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean F1 x100 of each ROUGE type over the pairs (one reference per hypothesis): keys rouge1, rouge2, rougeL.

    An empty hypothesis scores 0 against any reference (rouge-score's convention)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    if not hypotheses:
        raise ValueError("no summaries to score")
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=False)
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for hypothesis, reference in zip(hypotheses, references, strict=True):
        scores = scorer.score(reference, hypothesis)  # score(target, prediction)
        for key in ROUGE_TYPES:
            totals[key] += scores[key].fmeasure
    return {key: float(100.0 * np.float64(total) / len(hypotheses)) for key, total in totals.items()}


def rouge_l(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Mean ROUGE-L F1 x100 (rouge-score, default tokenizer, no stemming)."""
    return rouge(hypotheses, references)["rougeL"]
