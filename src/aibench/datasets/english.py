"""Real English for the language benchmarks' embedded data: the King James Bible, shipped with the package.

Source: Debian's `bible-kjv-text` 4.38 (`/usr/lib/bible.data`), dumped verse by verse with Debian's `bible -f`
program into `corpora/kjv.txt` ("<Book><chapter>:<verse> <text>", 31,102 verses, 820,736 words) and compressed
with xz (0.98 MB). The KJV text is in the public domain; the Debian packaging (Chip Chapin's Bible Retrieval
System) allows unrestricted use and redistribution. It is shipped rather than installed by apt because a
fresh machine may not have root, and so that every machine generates byte-identical embedded data.

Splits are by document: a book is wholly in one split, never cut by verse, so evaluation text is never drawn
from a passage that training saw.
"""

from __future__ import annotations

import lzma
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

_VERSE = re.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$")
SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class Book:
    name: str  # the dump's abbreviation: "Ge", "1Sm", "Rev"
    verses: tuple[str, ...]

    @property
    def words(self) -> int:
        return sum(len(v.split()) for v in self.verses)


@cache
def kjv_books() -> tuple[Book, ...]:
    """The 66 books in canonical order."""
    raw = resources.files("aibench.datasets").joinpath("corpora/kjv.txt.xz").read_bytes()
    books: dict[str, list[str]] = {}
    for n, line in enumerate(lzma.decompress(raw).decode("utf-8").splitlines(), 1):
        match = _VERSE.match(line)
        if match is None:
            raise ValueError(f"corpora/kjv.txt.xz line {n} is not '<Book><chapter>:<verse> <text>': {line[:60]!r}")
        books.setdefault(match.group(1), []).append(match.group(4))
    return tuple(Book(name, tuple(verses)) for name, verses in books.items())


def split_by_book(books: tuple[Book, ...], every: int = 10) -> dict[str, tuple[Book, ...]]:
    """Whole books to train/valid/test: of every `every` consecutive books, the 4th is test and the 8th valid,
    so each split mixes Old and New Testament, law, history, poetry and letters (about 10% each)."""
    if every < 8:
        raise ValueError(f"split_by_book needs every >= 8 (got {every}) so that train keeps most books")
    out: dict[str, list[Book]] = {split: [] for split in SPLITS}
    for i, book in enumerate(books):
        out["test" if i % every == 3 else "valid" if i % every == 7 else "train"].append(book)
    return {split: tuple(chosen) for split, chosen in out.items()}


_SENTENCE_END = re.compile(r"(?<=[.?!;:])\s+")


def sentences(verse: str) -> list[str]:
    """A verse cut at sentence and clause ends (. ? ! ; :), each piece stripped; KJV verses are often several
    clauses joined by colons."""
    return [piece.strip() for piece in _SENTENCE_END.split(verse) if piece.strip()]
