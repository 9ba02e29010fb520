"""Speech recognition quality: word error rate (the AIBench target) and character error rate, from jiwer.

jiwer (4.x) aligns each hypothesis with its reference by Levenshtein distance over words and reports the corpus
WER: (substitutions + deletions + insertions) / reference words, summed over the whole split (not a mean of
per-utterance rates), which is how LibriSpeech results (and deepspeech.pytorch's validation) are stated. Both
sides are compared as given: the benchmark writes transcripts and hypotheses in LibriSpeech's upper case with
single spaces. Reported x100 (percent: the paper's target is 5.33 on test-clean, convergent 23.5). CER is the same
over characters (spaces included).
"""

from __future__ import annotations

from collections.abc import Sequence

import jiwer


def _check(hypotheses: Sequence[str], references: Sequence[str]) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    if not references:
        raise ValueError("no transcripts to score")
    if any(not r.strip() for r in references):
        raise ValueError("an empty reference transcript has no word error rate")


def word_error_rate(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus WER x100 of the hypotheses against one reference each (jiwer)."""
    _check(hypotheses, references)
    return 100.0 * float(jiwer.wer(list(references), list(hypotheses)))


def char_error_rate(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus CER x100 (jiwer)."""
    _check(hypotheses, references)
    return 100.0 * float(jiwer.cer(list(references), list(hypotheses)))


def speech_metrics(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """{"wer": ..., "cer": ...} x100."""
    return {"wer": word_error_rate(hypotheses, references), "cer": char_error_rate(hypotheses, references)}
