"""Parallel text for DC-AI-C3 (translation), in the layout of WMT and Multi30k: one sentence a line.

Layout: ROOT/translation/ holds `train.en` and `train.de` (line n of one is the translation of line n of the
other), a validation pair and a test pair. The test pair is `test.{en,de}`, else Multi30k's `test2016.{en,de}`,
else WMT's `newstest2014.{en,de}`; the validation pair is `val.{en,de}`, else `valid.*`, else `newstest2013.*`
(the names WMT'14 systems use). A missing file, a pair of files with different line counts, a file that is not
UTF-8 or an empty training pair is a DataLayoutError naming the file.

The embedded data is real English from the King James Bible (`aibench.datasets.english`, split by book, so a
test sentence never comes from a book that training saw), cut into clauses of `min_words`..`max_words` words and
"translated" into an invented language by a fixed rule system that a word-for-word dictionary cannot imitate:

- vocabulary: every English word has one pseudo-word, built from syllables by a hash of the word and the seed;
- word order: the verbs of a clause move to its end (verb-final), an adjective follows its noun;
- agreement: a noun takes a suffix chosen by its determiner (definite, indefinite, plural, possessive or none),
  and every verb takes a suffix chosen by its clause's subject (the first noun or pronoun: singular or plural,
  first/second/third person), which sits at the other end of the clause;
- the determiner "a"/"an" itself is not written (its meaning lives in the noun's suffix), so target and source
  lengths differ.

The part-of-speech tags come from a light heuristic for KJV English (closed-class word lists, a list of common
verbs, the endings -eth/-est/-ed); it is not linguistics, only deterministic, consistent and learnable. The
translated side is written to the `.de` files (the real data's target side), English to `.en`.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from aibench.datasets.embedded import DataLayoutError, DatasetSpec
from aibench.datasets.english import kjv_books, sentences, split_by_book

FOLDER = "translation"
SOURCE, TARGET = "en", "de"
PARALLEL_TEXT_LAYOUT = (
    "DATA_ROOT/translation/{train,val,test}.{en,de}, one sentence a line, line n of .de translating line n of .en "
    "(also test2016.* / newstest2014.* for test, valid.* / newstest2013.* for validation)"
)
SPLIT_NAMES: dict[str, tuple[str, ...]] = {
    "train": ("train",),
    "val": ("val", "valid", "newstest2013"),
    "test": ("test", "test2016", "newstest2014"),
}


@dataclass(frozen=True)
class ParallelCorpus:
    """The sentence pairs of one split."""

    source: tuple[str, ...]
    target: tuple[str, ...]
    files: tuple[Path, Path]

    def __len__(self) -> int:
        return len(self.source)


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataLayoutError(f"{path} is not UTF-8 text: {exc}") from exc
    return text.rstrip("\n").split("\n") if text.strip() else []


def split_files(root: Path, split: str) -> tuple[Path, Path]:
    """The (.en, .de) files of a split: the first name of SPLIT_NAMES[split] whose source file exists."""
    folder = root / FOLDER
    names = SPLIT_NAMES[split]
    for name in names:
        src, tgt = folder / f"{name}.{SOURCE}", folder / f"{name}.{TARGET}"
        if src.is_file() or tgt.is_file():
            if not src.is_file():
                raise DataLayoutError(f"missing {src}: {tgt} has no source side; expected {PARALLEL_TEXT_LAYOUT}")
            if not tgt.is_file():
                raise DataLayoutError(f"missing {tgt}: {src} has no target side; expected {PARALLEL_TEXT_LAYOUT}")
            return src, tgt
    raise DataLayoutError(f"missing {folder / f'{names[0]}.{SOURCE}'}; expected {PARALLEL_TEXT_LAYOUT}")


def read_parallel(root: Path, split: str) -> ParallelCorpus:
    """The sentence pairs of `split` ('train', 'val' or 'test') under ROOT/translation/."""
    src_path, tgt_path = split_files(root, split)
    src, tgt = _read_lines(src_path), _read_lines(tgt_path)
    if len(src) != len(tgt):
        raise DataLayoutError(
            f"mis-aligned parallel files: {src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}; "
            "line n of one must translate line n of the other"
        )
    if not src:
        raise DataLayoutError(f"{src_path} and {tgt_path} hold no sentence pairs")
    return ParallelCorpus(tuple(s.strip() for s in src), tuple(t.strip() for t in tgt), (src_path, tgt_path))


def check_parallel_text(root: Path) -> None:
    for split in SPLIT_NAMES:
        read_parallel(root, split)


# -- the invented language ---------------------------------------------------------------------------------------

DETERMINERS = {
    # determiner -> the noun class it gives its noun (the noun's agreement suffix)
    "the": "def", "this": "def", "that": "def", "a": "ind", "an": "ind", "these": "plu", "those": "plu",
    "all": "plu", "many": "plu", "every": "ind", "no": "ind", "some": "plu", "his": "pos", "her": "pos",
    "their": "pos", "my": "pos", "thy": "pos", "thine": "pos", "our": "pos", "your": "pos", "its": "pos",
    "mine": "pos",
}  # fmt: skip
DROPPED = {"a", "an"}  # the indefinite article is not written: the noun's suffix says it
PRONOUNS = {
    # pronoun -> (person, number) of a subject
    "i": "1s", "me": "1s", "thou": "2s", "thee": "2s", "he": "3s", "him": "3s", "she": "3s", "it": "3s",
    "we": "1p", "us": "1p", "ye": "2p", "you": "2p", "they": "3p", "them": "3p", "who": "3s", "whom": "3s",
    "which": "3s", "what": "3s", "himself": "3s", "themselves": "3p", "herself": "3s", "myself": "1s",
}  # fmt: skip
PREPOSITIONS = set(
    [
        "of",
        "in",
        "to",
        "unto",
        "for",
        "with",
        "from",
        "by",
        "upon",
        "on",
        "into",
        "before",
        "against",
        "over",
        "among",
        "through",
        "after",
        "under",
        "at",
        "out",
        "about",
        "above",
        "within",
        "without",
        "toward",
        "towards",
        "beside",
        "between",
        "off",
        "up",
        "down",
        "behind",
        "beyond",
    ]
)
CONJUNCTIONS = set(
    [
        "and",
        "but",
        "or",
        "nor",
        "because",
        "when",
        "then",
        "if",
        "yea",
        "also",
        "therefore",
        "lest",
        "until",
        "while",
        "whereas",
        "so",
    ]
)
VERBS = set(
    [
        "is",
        "was",
        "be",
        "been",
        "being",
        "are",
        "were",
        "am",
        "art",
        "shall",
        "will",
        "would",
        "should",
        "may",
        "might",
        "can",
        "could",
        "must",
        "hath",
        "have",
        "had",
        "has",
        "do",
        "did",
        "does",
        "done",
        "came",
        "come",
        "went",
        "go",
        "goes",
        "gone",
        "made",
        "make",
        "said",
        "say",
        "saw",
        "see",
        "seen",
        "gave",
        "give",
        "given",
        "took",
        "take",
        "taken",
        "spake",
        "speak",
        "spoken",
        "brought",
        "bring",
        "knew",
        "know",
        "known",
        "sent",
        "send",
        "set",
        "put",
        "let",
        "went",
        "heard",
        "hear",
        "stood",
        "stand",
        "sat",
        "sit",
        "slew",
        "slay",
        "fell",
        "fall",
        "built",
        "build",
        "found",
        "find",
        "told",
        "tell",
        "kept",
        "keep",
        "left",
        "leave",
        "laid",
        "lay",
        "rose",
        "rise",
        "arose",
        "arise",
        "became",
        "become",
        "began",
        "begin",
        "bare",
        "bear",
        "born",
        "ate",
        "eat",
        "drank",
        "drink",
        "wrote",
        "write",
        "sware",
        "swear",
        "smote",
        "smite",
        "fled",
        "flee",
        "led",
        "lead",
        "fought",
        "fight",
        "sought",
        "seek",
        "bought",
        "buy",
        "sold",
        "sell",
        "dwelt",
        "dwell",
        "shalt",
        "wilt",
        "hast",
        "didst",
        "canst",
        "art",
        "thought",
        "think",
        "called",
        "turned",
        "returned",
        "answered",
        "commanded",
        "departed",
        "passed",
        "walked",
        "offered",
        "looked",
        "loved",
        "believed",
        "died",
        "lived",
        "cried",
        "gathered",
        "delivered",
    ]
)
ADJECTIVES = set(
    [
        "good",
        "great",
        "holy",
        "evil",
        "old",
        "young",
        "new",
        "many",
        "much",
        "little",
        "small",
        "mighty",
        "wise",
        "righteous",
        "wicked",
        "high",
        "strong",
        "whole",
        "dead",
        "living",
        "clean",
        "unclean",
        "first",
        "last",
        "other",
        "own",
        "same",
        "pure",
        "poor",
        "rich",
        "white",
        "black",
        "red",
        "true",
        "just",
        "faithful",
        "elder",
        "long",
        "fat",
        "lean",
        "fair",
        "precious",
        "beloved",
    ]
)
SYLLABLES = tuple(c + v for c in "bdfgklmnprstvz" for v in "aeiou") + ("ka", "lo", "mi", "shu", "tre", "zan")
NOUN_SUFFIX = {"def": "ra", "ind": "ne", "plu": "si", "pos": "mo", "none": ""}
VERB_SUFFIX = {"1s": "ak", "2s": "ot", "3s": "un", "1p": "akim", "2p": "otim", "3p": "unim"}
# Nouns the verb endings would catch ("priest" is not a second-person verb like "goest").
NOT_VERBS = set(
    ["priest", "forest", "breast", "beast", "feast", "east", "west", "least", "interest", "hundred", "kindred", "naked"]
)
_WORD = re.compile(r"[a-z]+")


def tag(word: str, previous: str | None) -> str:
    """A part-of-speech tag for a lowercased KJV word: DET PRON PREP CONJ VERB ADJ or NOUN."""
    if word in DETERMINERS:
        return "DET"
    if word in PRONOUNS:
        return "PRON"
    if word in PREPOSITIONS:
        return "PREP"
    if word in CONJUNCTIONS:
        return "CONJ"
    if word in ADJECTIVES:
        return "ADJ"
    if word in VERBS or (len(word) > 4 and word.endswith(("eth", "est", "ed")) and word not in NOT_VERBS):
        return "VERB"
    if previous in ("shall", "will", "shalt", "wilt", "may", "might", "to", "must", "not") and len(word) > 2:
        return "VERB"  # the infinitive after a modal or "to": "shall go", "to eat"
    return "NOUN"


def pseudo_word(word: str, seed: int) -> str:
    """The invented language's word for an English word: 1-3 syllables from a hash of the word and the seed."""
    digest = hashlib.blake2b(f"{seed}:{word}".encode(), digest_size=8).digest()
    n = 1 + (len(word) > 3) + (len(word) > 6)
    return "".join(SYLLABLES[digest[i] % len(SYLLABLES)] for i in range(n))


def _number(word: str, det_class: str) -> str:
    """Person and number of a noun subject: plural after a plural determiner or with an English plural -s."""
    plural = det_class == "plu" or (word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3)
    return "3p" if plural else "3s"


def translate(english: str, seed: int) -> str:
    """The invented language's sentence for an English clause (punctuation dropped, lowercase)."""
    words = _WORD.findall(english.lower())
    out: list[str] = []
    clause: list[tuple[str, str, str]] = []  # (word, tag, noun class)

    def flush() -> None:
        # The subject is the clause's first noun or pronoun; every verb of the clause agrees with it.
        first = next(((w, t, c) for w, t, c in clause if t in ("NOUN", "PRON")), None)
        subject_number = "3s"
        if first is not None:
            subject_number = PRONOUNS[first[0]] if first[1] == "PRON" else _number(first[0], first[2])
        agreement = VERB_SUFFIX[subject_number]
        rest: list[str] = []
        verbs: list[str] = []
        k = 0
        while k < len(clause):
            w, t, cls = clause[k]
            if t == "VERB":
                verbs.append(pseudo_word(w, seed) + agreement)
            elif t == "ADJ" and k + 1 < len(clause) and clause[k + 1][1] == "NOUN":
                # adjective after its noun: "the good land" -> the land-ra good
                nw, _, ncls = clause[k + 1]
                rest += [pseudo_word(nw, seed) + NOUN_SUFFIX[ncls], pseudo_word(w, seed)]
                k += 1
            elif t == "NOUN":
                rest.append(pseudo_word(w, seed) + NOUN_SUFFIX[cls])
            elif not (t == "DET" and w in DROPPED):
                rest.append(pseudo_word(w, seed))
            k += 1
        out.extend(rest + verbs)
        clause.clear()

    det_class = "none"
    previous: str | None = None
    for w in words:
        t = tag(w, previous)
        if t == "CONJ" and clause:
            flush()
        if t == "DET":
            det_class = DETERMINERS[w]
        noun_class = det_class if t == "NOUN" else "none"
        if t in ("NOUN", "PREP", "CONJ", "VERB", "PRON"):
            det_class = "none"  # a determiner governs the next noun only (adjectives may come between)
        clause.append((w, t, noun_class))
        previous = w
    if clause:
        flush()
    return " ".join(out)


@dataclass(frozen=True)
class ParallelTextParams:
    """Size of the embedded parallel corpus: clauses of KJV English with their invented-language translations."""

    train_pairs: int = 12000
    val_pairs: int = 300
    test_pairs: int = 500
    min_words: int = 4
    max_words: int = 14
    # Only clauses whose every word is among this many most frequent words of the training books (0: any word).
    # A few thousand pairs cannot teach the translation of words seen once; the rules stay the same.
    vocabulary: int = 0

    def __post_init__(self) -> None:
        if min(self.train_pairs, self.val_pairs, self.test_pairs) < 1:
            raise ValueError("embedded parallel text needs >= 1 pair in every split")
        if self.vocabulary < 0:
            raise ValueError(f"vocabulary must be >= 0 (0: any word), got {self.vocabulary}")
        if not 1 <= self.min_words <= self.max_words:
            raise ValueError(f"need 1 <= min_words <= max_words, got {self.min_words}, {self.max_words}")


def _clauses(books: Sequence[Any], params: ParallelTextParams, words: set[str] | None) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for book in books:
        for verse in book.verses:
            for clause in sentences(verse):
                tokens = _WORD.findall(clause.lower())
                known = words is None or all(w in words for w in tokens)
                if params.min_words <= len(tokens) <= params.max_words and known and clause not in seen:
                    seen.add(clause)
                    out.append(clause)
    return out


# Splits of the 66 books: every 10th group gives one test and one validation book (english.split_by_book).
_SPLIT_OF = {"train": "train", "val": "valid", "test": "test"}


def generate_parallel_text(root: Path, params: ParallelTextParams | Mapping[str, Any], seed: int) -> None:
    """Write ROOT/translation/{train,val,test}.{en,de}: clauses of disjoint books and their translations.

    Sentences are drawn at random (seeded) from each split's books; an evaluation sentence that also occurs in
    a training book (KJV repeats formulae such as "And the LORD spake unto Moses, saying") is dropped, so no
    evaluation pair is a copy of a training pair."""
    if isinstance(params, Mapping):
        params = ParallelTextParams(**params)
    books = split_by_book(kjv_books())
    folder = root / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    words: set[str] | None = None
    if params.vocabulary:
        frequency = Counter(w for book in books["train"] for verse in book.verses for w in _WORD.findall(verse.lower()))
        words = {w for w, _ in frequency.most_common(params.vocabulary)}
    train_all = set(_clauses(books["train"], params, None))
    counts = {"train": params.train_pairs, "val": params.val_pairs, "test": params.test_pairs}
    for k, (split, count) in enumerate(counts.items()):
        pool = _clauses(books[_SPLIT_OF[split]], params, words)
        if split != "train":
            pool = [c for c in pool if c not in train_all]
        rng = np.random.default_rng([seed, k])
        if count > len(pool):
            raise ValueError(
                f"the {split} books hold {len(pool)} clauses of {params.min_words}-{params.max_words} "
                f"words; {count} were asked for"
            )
        chosen = [pool[i] for i in sorted(rng.choice(len(pool), size=count, replace=False))]
        (folder / f"{split}.{SOURCE}").write_text("".join(c + "\n" for c in chosen), encoding="utf-8")
        (folder / f"{split}.{TARGET}").write_text("".join(translate(c, seed) + "\n" for c in chosen), encoding="utf-8")


PARALLEL_TEXT = DatasetSpec(
    name="parallel_text",
    required=(f"{FOLDER}/train.{SOURCE}", f"{FOLDER}/train.{TARGET}"),
    generate=generate_parallel_text,
    params=ParallelTextParams,
    validate=check_parallel_text,
    version=2,
    layout_hint=PARALLEL_TEXT_LAYOUT,
)
