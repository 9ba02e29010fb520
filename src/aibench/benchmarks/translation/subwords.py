"""The benchmark's tokenizer: a joint source/target BPE model trained by sentencepiece on the training split.

Vaswani et al. encode WMT'14 En-De with byte-pair encoding into a shared source-target vocabulary of about 37,000
tokens; the reference's Multi30k code used spaCy words. We follow the paper: sentencepiece's BPE (Kudo &
Richardson 2018; the BPE of Sennrich et al. in a maintained library) trained at the start of every session on both
sides of the training pairs, so the vocabulary never sees evaluation text. Ids 0-3 are <pad>, <unk>, <s>, </s>.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import sentencepiece as spm

PAD, UNK, BOS, EOS = 0, 1, 2, 3


class SubwordModel:
    """Encode and decode sentences with a BPE model trained on `sentences` (joint vocabulary of `vocab_size`)."""

    def __init__(self, sentences: Sequence[str], vocab_size: int, max_sentences: int) -> None:
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences),
            model_writer=model,
            model_type="bpe",
            vocab_size=vocab_size,
            character_coverage=1.0,
            pad_id=PAD,
            unk_id=UNK,
            bos_id=BOS,
            eos_id=EOS,
            input_sentence_size=max_sentences,  # sentencepiece samples this many when the corpus is larger
            shuffle_input_sentence=True,
            num_threads=1,  # one thread: the same model from the same sentences, and no fight for the cores
            hard_vocab_limit=False,  # a small corpus may hold fewer merges than asked for
            minloglevel=2,
        )
        self.processor = spm.SentencePieceProcessor(model_proto=model.getvalue())

    def __len__(self) -> int:
        return int(self.processor.get_piece_size())

    def encode(self, sentences: Sequence[str]) -> list[np.ndarray]:
        """Token ids of each sentence, without <s> and </s>."""
        return [np.asarray(ids, dtype=np.int64) for ids in self.processor.encode(list(sentences))]

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.processor.decode([int(i) for i in ids]))
