"""Penn Treebank in Mikolov's layout: DATA_ROOT/ptb/ptb.{train,valid,test}.txt (or under ptb/simple-examples/data/).

One sentence a line, words separated by spaces, lower case, no punctuation, numbers written `N`, the 10k-word
vocabulary's rare words written `<unk>`. The reader returns each split's sentences as word lists; a missing file,
a file that is not UTF-8 or an empty training file is a DataLayoutError naming it.

The generator writes an embedded stand-in in the same files from real English, the shipped King James Bible
(`aibench.datasets.english`), processed as Mikolov processed PTB: books split whole into train/valid/test
(`split_by_book`), verses cut into clauses (`sentences`), lower-cased, punctuation dropped, every run of number
words (and any digits) one `N` (the number words of `aibench.datasets.gigaword`), the `vocab - 1` most frequent
training words kept and the others written `<unk>` (the vocabulary, with `<eos>`, then has `vocab` words as PTB's
10k does). `max_*_words` cut each split to its first sentences (whole books stay in one split).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aibench.datasets.embedded import DataLayoutError, DatasetSpec
from aibench.datasets.english import SPLITS, kjv_books, sentences, split_by_book
from aibench.datasets.gigaword import NUMBER_WORDS

PTB_LAYOUT = "DATA_ROOT/ptb/ptb.{train,valid,test}.txt (Mikolov's simple-examples/data; one sentence a line)"
UNK, EOS, NUMBER = "<unk>", "<eos>", "N"
_WORD = re.compile(r"[a-z]+|[0-9]+")


def ptb_dir(root: Path) -> Path:
    """The folder holding the three files: ROOT/ptb, or ROOT/ptb/simple-examples/data as the tarball unpacks."""
    for folder in (root / "ptb", root / "ptb" / "simple-examples" / "data"):
        if (folder / "ptb.train.txt").is_file():
            return folder
    return root / "ptb"


def read_ptb(root: Path) -> dict[str, list[list[str]]]:
    """Sentences (word lists, without <eos>) of each split, by split name."""
    folder = ptb_dir(root)
    out: dict[str, list[list[str]]] = {}
    for split in SPLITS:
        path = folder / f"ptb.{split}.txt"
        if not path.is_file():
            raise DataLayoutError(f"missing {path}; expected {PTB_LAYOUT}")
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataLayoutError(f"{path} is not UTF-8 text: {exc}") from exc
        out[split] = [line.split() for line in text.splitlines() if line.split()]
        if not out[split] and split == "train":
            raise DataLayoutError(f"{path} holds no sentence; expected {PTB_LAYOUT}")
    return out


def check_ptb(root: Path) -> None:
    folder = ptb_dir(root)
    for split in SPLITS:
        if not (folder / f"ptb.{split}.txt").is_file():
            raise DataLayoutError(f"missing {folder / f'ptb.{split}.txt'}; expected {PTB_LAYOUT}")


@dataclass(frozen=True)
class PtbParams:
    """Size of the embedded corpus: vocabulary (with <eos>) and the words kept of each split (0 = all)."""

    vocab: int = 10000
    max_train_words: int = 0
    max_valid_words: int = 0
    max_test_words: int = 0

    def __post_init__(self) -> None:
        if self.vocab < 3 or min(self.max_train_words, self.max_valid_words, self.max_test_words) < 0:
            raise ValueError("embedded PTB needs vocab >= 3 and non-negative word caps")


def mikolov_words(clause: str) -> list[str]:
    """A clause as Mikolov's PTB writes it: lower case, no punctuation, each run of numbers one `N`."""
    out: list[str] = []
    for word in _WORD.findall(clause.lower()):
        if word in NUMBER_WORDS or word.isdigit():
            if out and out[-1] == NUMBER:
                continue
            word = NUMBER
        out.append(word)
    return out


def generate_ptb(root: Path, params: PtbParams | Mapping[str, Any], seed: int) -> None:
    """Write ROOT/ptb/ptb.{train,valid,test}.txt from the KJV (deterministic: `seed` does not change real text)."""
    if isinstance(params, Mapping):
        params = PtbParams(**params)
    caps = {"train": params.max_train_words, "valid": params.max_valid_words, "test": params.max_test_words}
    splits: dict[str, list[list[str]]] = {}
    for split, books in split_by_book(kjv_books()).items():
        kept: list[list[str]] = []
        count = 0
        for book in books:
            for verse in book.verses:
                for clause in sentences(verse):
                    words = mikolov_words(clause)
                    if words and not (caps[split] and count >= caps[split]):
                        kept.append(words)
                        count += len(words)
        splits[split] = kept
    counts = Counter(w for s in splits["train"] for w in s)
    keep = {w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: params.vocab - 2]}
    keep.add(UNK)  # vocab = kept words + <unk> + <eos>
    (root / "ptb").mkdir(parents=True, exist_ok=True)
    for split, sents in splits.items():
        lines = (" ".join(w if w in keep else UNK for w in s) for s in sents)
        (root / "ptb" / f"ptb.{split}.txt").write_text("".join(f" {line} \n" for line in lines), encoding="utf-8")


PTB = DatasetSpec(
    name="ptb",
    required=("ptb",),
    generate=generate_ptb,
    params=PtbParams,
    validate=check_ptb,
    version=1,
    layout_hint=PTB_LAYOUT,
)
