"""Gigaword headline generation (DC-AI-C14) in the layout of Rush et al.'s release, one example a line.

Layout (what `--data-root` must hold). The release of Rush, Chopra and Weston (2015, harvardnlp/sent-summary's
`summary.tar.gz`), which later work (Nallapati et al., the pointer-generator and most PyTorch ports) reads:

    DATA_ROOT/sumdata/train/train.article.txt      training articles (3.8M: the first sentence of a news story)
    DATA_ROOT/sumdata/train/train.title.txt        their headlines, line n for line n
    DATA_ROOT/sumdata/train/valid.article.filter.txt, valid.title.filter.txt   validation (189k)
    DATA_ROOT/sumdata/Giga/input.txt, task1_ref0.txt                          the test set (1,951 pairs)

The release ships the training files gzipped (`train.article.txt.gz`); a `.gz` beside or instead of each file is
read as well. A flat layout is accepted too, for copies exported under the issue's names:
`DATA_ROOT/gigaword/{train,valid,test}.{article,title}.txt`. The first layout present wins, file by file pair.

The text is used as released: lower-cased, tokenized with spaces (PTB style: "'s" and punctuation split off),
digits replaced by '#' ("#.## billion"), rare words already "UNK". The reader splits lines on whitespace and
nothing else. A missing file, an article file and a title file of different line counts, a file that is not
UTF-8, or an empty training split is a DataLayoutError naming the files.

The embedded data is written in the release's layout from real English, the King James Bible
(`aibench.datasets.english`, split by book, so no test article comes from a book that training saw). An article is
one or two consecutive sentences of one book (the corpus's sentence and clause pieces), tokenized like Gigaword:
lower-cased, "'s" and punctuation split off, and numbers normalized to '#' (there are no digits in the KJV; its
number words, "threescore and ten" style, are numbers all the same: every run of number words becomes one '#').

A headline is made from its article by a fixed rule, the way a Gigaword headline compresses the first sentence:

1. the main clause of the first sentence is found: leading discourse words ("and", "but", "for", "then",
   "behold", ...) are dropped; a leading subordinate clause (one opening with "when", "if", "because", "which",
   ...) is skipped up to the next comma; the main clause then ends at the first comma or at the first relative
   pronoun or subordinating word ("which", "that", "who", "when", "saying", ...) inside it. An article whose first
   sentence has no main clause (a fragment like "that they may ...") takes it from its second sentence;
2. its content words are kept, in order; function words (articles, prepositions, conjunctions, auxiliaries,
   possessives and object pronouns: the `FUNCTION_WORDS` list) are dropped;
3. the clause's first finite verb is put in the headline's present tense, as news headlines are ("spake" ->
   "speaks", "departed" -> "departs", "keepeth" -> "keeps"): irregular verbs from a fixed table, "-ed", "-eth",
   "-est" forms by their stem when the stem is a word of the KJV. A participle after an auxiliary ("is written")
   stays as it is;
4. at most `max_title_tokens` words; a headline of fewer than two words drops the example.

So a headline is never a prefix of its article, and its words do not all come from the article. Every pair is
unique within its split, and a validation or test article whose first sentence also opens a training article is
dropped (the KJV repeats formulas such as "and the lord spake unto moses , saying ,").
"""

from __future__ import annotations

import collections
import gzip
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from aibench.datasets.embedded import DataLayoutError, DatasetSpec
from aibench.datasets.english import Book, kjv_books, sentences, split_by_book

RELEASE = Path("sumdata")
FLAT = Path("gigaword")
SPLITS = ("train", "valid", "test")
# Per split, the (article, title) file pairs of each accepted layout, in the order they are looked for.
SPLIT_FILES: dict[str, tuple[tuple[Path, Path], ...]] = {
    "train": (
        (RELEASE / "train" / "train.article.txt", RELEASE / "train" / "train.title.txt"),
        (FLAT / "train.article.txt", FLAT / "train.title.txt"),
    ),
    "valid": (
        (RELEASE / "train" / "valid.article.filter.txt", RELEASE / "train" / "valid.title.filter.txt"),
        (RELEASE / "train" / "valid.article.txt", RELEASE / "train" / "valid.title.txt"),
        (FLAT / "valid.article.txt", FLAT / "valid.title.txt"),
    ),
    "test": (
        (RELEASE / "Giga" / "input.txt", RELEASE / "Giga" / "task1_ref0.txt"),
        (FLAT / "test.article.txt", FLAT / "test.title.txt"),
    ),
}
GIGAWORD_LAYOUT = (
    "DATA_ROOT/sumdata/train/{train.article.txt,train.title.txt,valid.article.filter.txt,valid.title.filter.txt} "
    "and DATA_ROOT/sumdata/Giga/{input.txt,task1_ref0.txt} (Rush et al.'s release; .gz accepted), or "
    "DATA_ROOT/gigaword/{train,valid,test}.{article,title}.txt; one example a line, line n of the title file "
    "the headline of line n of the article file"
)
UNK_TOKENS = ("UNK", "<unk>")  # how the release and its ports write a rare word


@dataclass(frozen=True)
class GigawordSplit:
    """The pairs of one split: token lists, as the files hold them."""

    articles: tuple[tuple[str, ...], ...]
    titles: tuple[tuple[str, ...], ...]
    files: tuple[Path, Path]

    def __len__(self) -> int:
        return len(self.articles)


def _existing(path: Path) -> Path | None:
    """The file itself, else its gzipped copy (the release ships `train.article.txt.gz`), else None."""
    if path.is_file():
        return path
    gz = path.with_name(path.name + ".gz")
    return gz if gz.is_file() else None


def split_files(root: Path, split: str) -> tuple[Path, Path]:
    """The (article, title) files of `split` ('train', 'valid' or 'test'): the first accepted pair present."""
    if split not in SPLIT_FILES:
        raise ValueError(f"unknown Gigaword split {split!r}; expected one of {SPLITS}")
    for article, title in SPLIT_FILES[split]:
        found_article, found_title = _existing(root / article), _existing(root / title)
        if found_article and found_title:
            return found_article, found_title
        if found_article or found_title:
            present, absent = (found_article, title) if found_article else (found_title, article)
            raise DataLayoutError(f"missing {root / absent}: {present} has no partner; expected {GIGAWORD_LAYOUT}")
    article, title = SPLIT_FILES[split][0]
    raise DataLayoutError(f"missing {root / article} and {root / title}; expected {GIGAWORD_LAYOUT}")


def _lines(path: Path) -> list[str]:
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataLayoutError(f"corrupt or unreadable file {path}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataLayoutError(f"{path} is not UTF-8 text: {exc}") from exc
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    return lines


def read_gigaword(root: Path, split: str) -> GigawordSplit:
    """The article/headline pairs of `split` under `root`, tokenized by whitespace as the release is."""
    article_path, title_path = split_files(root, split)
    articles, titles = _lines(article_path), _lines(title_path)
    if len(articles) != len(titles):
        raise DataLayoutError(
            f"mis-aligned Gigaword files: {article_path} has {len(articles)} lines but {title_path} has "
            f"{len(titles)}; line n of the title file must be the headline of line n of the article file"
        )
    if not articles:
        raise DataLayoutError(f"{article_path} and {title_path} hold no examples")
    return GigawordSplit(
        tuple(tuple(line.split()) for line in articles),
        tuple(tuple(line.split()) for line in titles),
        (article_path, title_path),
    )


def _count_lines(path: Path) -> int:
    return len(_lines(path))


def check_gigaword(root: Path) -> None:
    """Training and test pairs exist and are aligned (validation too where present); read before any session."""
    for split in SPLITS:
        try:
            article, title = split_files(root, split)
        except DataLayoutError:
            if split == "valid":  # the benchmark does not read it: a copy without validation files still runs
                continue
            raise
        n_article, n_title = _count_lines(article), _count_lines(title)
        if n_article != n_title:
            raise DataLayoutError(
                f"mis-aligned Gigaword files: {article} has {n_article} lines but {title} has {n_title}"
            )
        if n_article == 0:
            raise DataLayoutError(f"{article} and {title} hold no examples")


# -- Gigaword-style text from the KJV --------------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


NUMBER_WORDS = _words(
    """one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen
    eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred hundreds thousand thousands
    score threescore fourscore twain"""
)
_TOKEN = re.compile(r"[a-z]+|'s\b|[0-9]+|[^\sa-z0-9]")
CLAUSE_ENDS = frozenset(".;:?!")


def gigaword_tokens(text: str) -> list[str]:
    """Text as Gigaword writes it: lower-cased, "'s" and punctuation split off, every digit '#' and every run of
    number words one '#'."""
    out: list[str] = []
    for token in _TOKEN.findall(text.lower()):
        token = re.sub("[0-9]", "#", token)
        if token in NUMBER_WORDS:
            token = "#"
        if token == "#" and out and out[-1] == "#":
            continue
        out.append(token)
    return out


DISCOURSE_WORDS = _words(
    """and but for then now so yea behold therefore wherefore moreover also nevertheless verily lo o thus howbeit
    furthermore likewise surely neither notwithstanding again"""
)
SUBORDINATORS = _words(
    """when if because after as while though although since lest until till whereas whether unless whosoever whatsoever
    whoso which who whom whose that where whereby wherein whither saying"""
)
CLAUSE_CUTS = _words(
    """which who whom whose that when where whereby wherein whither because if lest until till while saying"""
)
FUNCTION_WORDS = _words(
    """the a an of in to unto for with from by upon on into before against over among through after under at out about
    above within without toward towards beside between off up down behind beyond and but or nor so then shall
    will would should may might can could must do did doth dost didst shalt wilt canst be been being am is are
    was were art wast hath hast had have has this that these those my thy his her its our your their mine thine
    him them me us thee himself themselves herself myself thyself ourselves yourselves it there here 's ' even
    also all every some any no"""
)
AUXILIARIES = _words(
    """is was were are be been being am art wast hath hast had have has shall will would should may might can could
    must shalt wilt canst do did doth dost didst"""
)
IRREGULAR_PRESENT = {
    "said": "says", "saith": "says", "spake": "speaks", "spoke": "speaks", "came": "comes", "went": "goes",
    "saw": "sees", "gave": "gives", "took": "takes", "brought": "brings", "knew": "knows", "sent": "sends",
    "heard": "hears", "stood": "stands", "sat": "sits", "slew": "slays", "fell": "falls", "built": "builds",
    "found": "finds", "told": "tells", "kept": "keeps", "left": "leaves", "laid": "lays", "rose": "rises",
    "arose": "arises", "became": "becomes", "began": "begins", "bare": "bears", "ate": "eats", "drank": "drinks",
    "wrote": "writes", "sware": "swears", "smote": "smites", "fled": "flees", "led": "leads", "fought": "fights",
    "sought": "seeks", "bought": "buys", "sold": "sells", "dwelt": "dwells", "made": "makes", "thought": "thinks",
    "ran": "runs", "abode": "abides", "drave": "drives", "brake": "breaks", "forsook": "forsakes", "cast": "casts",
    "slept": "sleeps", "wept": "weeps", "met": "meets", "held": "holds", "chose": "chooses", "gat": "gets",
    "got": "gets", "stole": "steals", "overthrew": "overthrows", "threw": "throws", "grew": "grows",
    "drew": "draws", "hid": "hides", "bade": "bids", "rent": "rends", "understood": "understands", "sang": "sings",
    "spread": "spreads", "shewed": "shews", "answered": "answers", "put": "puts", "set": "sets", "let": "lets",
}  # fmt: skip
_STEM_ENDINGS = ("eth", "est", "ed")


@cache
def kjv_lexicon() -> frozenset[str]:
    """Words that occur at least twice in the whole KJV: the stems a verb form may be reduced to."""
    counts = collections.Counter(t for book in kjv_books() for verse in book.verses for t in gigaword_tokens(verse))
    return frozenset(w for w, c in counts.items() if c >= 2 and w.isalpha())


def present_tense(word: str) -> str:
    """The headline (present, third person) form of a KJV verb form, or the word itself if it is none."""
    if word in IRREGULAR_PRESENT:
        return IRREGULAR_PRESENT[word]
    lexicon = kjv_lexicon()
    for ending in _STEM_ENDINGS:
        if word.endswith(ending) and len(word) > len(ending) + 2:
            stem = word[: -len(ending)]
            if ending == "ed" and stem.endswith("i"):  # cried -> cries
                return stem[:-1] + "ies"
            doubled = [stem[:-1]] if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in "ls" else []
            for base in (stem, stem + "e", *doubled):  # turned, loved, stopped
                if base in lexicon and base not in FUNCTION_WORDS:
                    return base + ("es" if base.endswith(("s", "sh", "ch", "x", "o", "z")) else "s")
    return word


def _main_clause(sentence: Sequence[str]) -> list[str]:
    """The main clause of one tokenized sentence (step 1 of the rule), or [] where it has none."""
    segments: list[list[str]] = [[]]
    for token in sentence:
        if token == ",":
            segments.append([])
        elif token not in CLAUSE_ENDS:
            segments[-1].append(token)
    segments = [s for s in segments if s]

    def stripped(segment: list[str]) -> list[str]:
        start = 0
        while start < len(segment) and segment[start] in DISCOURSE_WORDS:
            start += 1
        return segment[start:]

    if not segments:
        return []
    k, clause = 0, stripped(segments[0])
    while clause and clause[0] in SUBORDINATORS and k + 1 < len(segments):
        k += 1
        clause = stripped(segments[k])
    if not clause or clause[0] in SUBORDINATORS:
        return []
    end = next((i for i, t in enumerate(clause) if i > 0 and t in CLAUSE_CUTS), len(clause))
    return clause[:end]


def headline(sentence: Sequence[str], max_tokens: int = 10) -> list[str]:
    """The headline the rule makes from an article's first sentence (tokens), possibly empty."""
    clause = _main_clause(sentence)
    out: list[str] = []
    verb_done = False
    for i, token in enumerate(clause):
        if token in FUNCTION_WORDS or not (token.isalpha() or token == "#"):
            continue
        after_auxiliary = i > 0 and clause[i - 1] in AUXILIARIES
        if not verb_done and not after_auxiliary:
            tensed = present_tense(token)
            verb_done = tensed != token
            token = tensed
        verb_done = verb_done or after_auxiliary
        out.append(token)
    return out[:max_tokens]


@dataclass(frozen=True)
class GigawordParams:
    """Size of the embedded Gigaword: pairs per split (at most; the books hold about 21k, 1.3k and 3.6k) and the
    longest article (tokens). `two_sentences` is the share of articles made of two sentences."""

    train_pairs: int = 20000
    valid_pairs: int = 500
    test_pairs: int = 1000
    max_article_tokens: int = 40
    max_title_tokens: int = 10
    two_sentences: float = 0.5

    def __post_init__(self) -> None:
        if min(self.train_pairs, self.valid_pairs, self.test_pairs) < 1:
            raise ValueError("embedded Gigaword needs at least one pair in every split")
        if self.max_article_tokens < 4 or self.max_title_tokens < 2 or not 0 <= self.two_sentences <= 1:
            raise ValueError("max_article_tokens must be >= 4, max_title_tokens >= 2, two_sentences in [0, 1]")


Pair = tuple[list[str], list[str], tuple[str, ...]]  # article, headline, the article's first sentence


def book_pairs(books: Iterable[Book], params: GigawordParams, rng: np.random.Generator) -> list[Pair]:
    """(article, headline, first sentence) from consecutive sentences of each book, in book order."""
    out: list[Pair] = []
    for book in books:
        pieces = [gigaword_tokens(p) for verse in book.verses for p in sentences(verse)]
        i = 0
        while i < len(pieces):
            take = 2 if i + 1 < len(pieces) and rng.random() < params.two_sentences else 1
            article = [t for piece in pieces[i : i + take] for t in piece]
            title = headline(pieces[i], params.max_title_tokens)
            if len(title) < 2 and take == 2:  # no main clause in the first sentence: the second one's
                title = headline(pieces[i + 1], params.max_title_tokens)
            if len(title) >= 2 and len(article) <= params.max_article_tokens:
                out.append((article, title, tuple(pieces[i])))
            i += take
    return out


def generate_gigaword(root: Path, params: GigawordParams | Mapping[str, Any], seed: int) -> None:
    """Write embedded Gigaword in the release's layout under `root` (see the module docstring)."""
    if isinstance(params, Mapping):
        params = GigawordParams(**params)
    books = split_by_book(kjv_books())
    rng = np.random.default_rng([seed, 14])
    pairs = {split: book_pairs(books[split], params, rng) for split in SPLITS}
    train_openings = {first for _, _, first in pairs["train"]}
    wanted = {"train": params.train_pairs, "valid": params.valid_pairs, "test": params.test_pairs}
    for split, (article_file, title_file) in ((s, SPLIT_FILES[s][0]) for s in SPLITS):
        # Unique articles per split; a held-out article whose first sentence opens a training article goes.
        seen: set[tuple[str, ...]] = set()
        kept: list[Pair] = []
        for article, title, first in pairs[split]:
            if tuple(article) in seen or (split != "train" and first in train_openings):
                continue
            seen.add(tuple(article))
            kept.append((article, title, first))
        chosen = rng.permutation(len(kept))[: wanted[split]]
        if split != "train":
            chosen.sort()  # held-out pairs in book order, as a test file would be
        (root / article_file).parent.mkdir(parents=True, exist_ok=True)
        (root / article_file).write_text("".join(" ".join(kept[j][0]) + "\n" for j in chosen), encoding="utf-8")
        (root / title_file).write_text("".join(" ".join(kept[j][1]) + "\n" for j in chosen), encoding="utf-8")


GIGAWORD = DatasetSpec(
    name="gigaword",
    required=(),  # two accepted layouts: check_gigaword names what is missing
    generate=generate_gigaword,
    params=GigawordParams,
    validate=check_gigaword,
    version=1,
    layout_hint=GIGAWORD_LAYOUT,
)
