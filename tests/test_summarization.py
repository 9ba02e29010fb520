"""C14's data, metric, baseline and model parts: the Gigaword reader on hand-made files of both layouts and its
errors naming the file, the KJV generator (headlines that are no prefix of their article, splits from different
books), ROUGE-L against a hand-computed LCS case, the vocabulary and the lead-N baseline, and a model whose
summaries do not depend on the other articles of their batch."""

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from aibench.baselines.summarization import content_lead, lead, lead_length
from aibench.benchmarks.summarization.benchmark import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    SummarizationOptions,
    Vocabulary,
)
from aibench.benchmarks.summarization.model import Seq2SeqAttention
from aibench.datasets.embedded import DataLayoutError
from aibench.datasets.english import kjv_books, sentences, split_by_book
from aibench.datasets.gigaword import (
    SPLITS,
    GigawordParams,
    check_gigaword,
    generate_gigaword,
    gigaword_tokens,
    read_gigaword,
)
from aibench.metrics.summarization import rouge, rouge_l

PARAMS = GigawordParams(train_pairs=3000, valid_pairs=200, test_pairs=300)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gigaword")
    generate_gigaword(out, PARAMS, seed=0)
    return out


def _write(path: Path, lines: list[str], gz: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(line + "\n" for line in lines).encode()
    if gz:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)


def test_reader_reads_the_release_layout_with_gzipped_training_files(tmp_path: Path) -> None:
    train = tmp_path / "sumdata" / "train"
    _write(train / "train.article.txt", ["us stocks rose #.# percent on monday .", "the un met in UNK ."], gz=True)
    _write(train / "train.title.txt", ["us stocks rise", "un meets"], gz=True)
    _write(train / "valid.article.filter.txt", ["police killed a gunman ."])
    _write(train / "valid.title.filter.txt", ["police kill gunman"])
    _write(tmp_path / "sumdata" / "Giga" / "input.txt", ["rain fell in paris ."])
    _write(tmp_path / "sumdata" / "Giga" / "task1_ref0.txt", ["rain in paris"])
    check_gigaword(tmp_path)
    split = read_gigaword(tmp_path, "train")
    assert split.articles[0] == ("us", "stocks", "rose", "#.#", "percent", "on", "monday", ".")
    assert split.titles == (("us", "stocks", "rise"), ("un", "meets"))
    assert split.files[0].name == "train.article.txt.gz"
    assert read_gigaword(tmp_path, "valid").titles == (("police", "kill", "gunman"),)
    assert read_gigaword(tmp_path, "test").articles == (("rain", "fell", "in", "paris", "."),)


def test_reader_reads_the_flat_layout(tmp_path: Path) -> None:
    for split in SPLITS:
        _write(tmp_path / "gigaword" / f"{split}.article.txt", [f"an article of {split} ."] * 2)
        _write(tmp_path / "gigaword" / f"{split}.title.txt", [f"{split} title"] * 2)
    check_gigaword(tmp_path)
    assert read_gigaword(tmp_path, "test").titles == (("test", "title"),) * 2


def test_misaligned_and_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError, match="missing .*train.article.txt"):
        read_gigaword(tmp_path, "train")
    flat = tmp_path / "gigaword"
    _write(flat / "train.article.txt", ["one .", "two ."])
    with pytest.raises(DataLayoutError, match="missing .*train.title.txt"):
        read_gigaword(tmp_path, "train")
    _write(flat / "train.title.txt", ["one"])
    with pytest.raises(DataLayoutError, match="train.article.txt has 2 lines but .*train.title.txt has 1"):
        read_gigaword(tmp_path, "train")
    (flat / "train.title.txt").write_bytes(b"\xff\xfe not utf-8\n")
    with pytest.raises(DataLayoutError, match="train.title.txt is not UTF-8"):
        read_gigaword(tmp_path, "train")


def test_generation_is_deterministic(root: Path, tmp_path: Path) -> None:
    generate_gigaword(tmp_path, PARAMS, seed=0)
    for split in SPLITS:
        again, first = read_gigaword(tmp_path, split), read_gigaword(root, split)
        assert (again.articles, again.titles) == (first.articles, first.titles)


def test_headlines_compress_their_article_and_are_no_prefix_of_it(root: Path) -> None:
    train = read_gigaword(root, "train")
    assert len(train) == PARAMS.train_pairs
    prefix = sum(tuple(a[: len(t)]) == t for a, t in zip(train.articles, train.titles, strict=True))
    assert prefix < 0.05 * len(train)
    assert all(2 <= len(t) <= PARAMS.max_title_tokens for t in train.titles)
    assert 2.5 < np.mean([len(t) for t in train.titles]) < np.mean([len(a) for a in train.articles]) / 3
    # Most headline words are article words (a headline summarizes), but not all: verbs change tense.
    in_article = np.mean([w in a for a, t in zip(train.articles, train.titles, strict=True) for w in t])
    assert 0.7 < in_article < 0.98


def test_splits_come_from_different_books(root: Path) -> None:
    books = split_by_book(kjv_books())
    text = {
        split: " "
        + " ".join(" ".join(gigaword_tokens(p)) for b in books[split] for v in b.verses for p in sentences(v))
        for split in SPLITS
    }
    assert not {b.name for b in books["train"]} & {b.name for b in books["test"]}
    splits = {split: read_gigaword(root, split) for split in SPLITS}
    for split, data in splits.items():
        assert all(" " + " ".join(a) + " " in text[split] + " " for a in data.articles), split
    train_articles = set(splits["train"].articles)
    assert not train_articles & set(splits["test"].articles) and not train_articles & set(splits["valid"].articles)


def test_rouge_l_is_the_f1_of_the_longest_common_subsequence() -> None:
    reference = "police killed the gunman"
    # LCS(police kill the gunman, reference) = police the gunman: P = R = 3/4.
    assert rouge_l(["police kill the gunman"], [reference]) == pytest.approx(75.0)
    # LCS = "the gunman": P = 2/4, R = 2/4; the reversal also breaks every bigram.
    scores = rouge(["the gunman police kill"], [reference])
    assert scores["rougeL"] == pytest.approx(50.0) and scores["rouge2"] == pytest.approx(100 / 3)
    # A 2-word hypothesis inside the reference: P = 1, R = 2/4, F = 2/3; an empty one scores 0.
    assert rouge_l(["police gunman", ""], [reference, reference]) == pytest.approx((200 / 3 + 0.0) / 2)
    # Case and punctuation are not scored; '#' placeholders vanish in rouge-score's tokenizer.
    assert rouge_l(["Police , killed the gunman #"], [reference]) == pytest.approx(100.0)
    with pytest.raises(ValueError, match="2 hypotheses for 1 references"):
        rouge(["a", "b"], ["a"])


def test_vocabulary_and_lead_baselines() -> None:
    texts = [["b", "a", "UNK", "c"], ["a", "b", "d"], ["a"]]
    vocab = Vocabulary(texts, 4 + 3)
    assert vocab.words[4:] == ["a", "b", "c"]  # a x3, b x2, then c before d by spelling; UNK is never a word
    assert vocab.encode(["a", "d", "UNK"]) == [4, UNK_ID, UNK_ID]
    assert vocab.decode([BOS_ID, 4, UNK_ID, 6, EOS_ID, 5]) == "a <unk> c"
    assert lead_length([("x", "y"), ("x", "y", "z", "w")]) == 3
    assert lead(["and", "the", "lord", "spake"], 3) == ["and", "the", "lord"]
    assert content_lead(["and", "the", "lord", ",", "#", "spake"], 2, frozenset({"and", "the"})) == ["lord", "#"]


def test_summaries_do_not_depend_on_the_batch_or_its_padding() -> None:
    torch.manual_seed(0)
    model = Seq2SeqAttention(50, 8, 16, PAD_ID).eval()
    rows = [[5, 6, 7, 8, 9, 10], [11, 12], [13, 14, 15]]
    src = torch.full((3, 6), PAD_ID, dtype=torch.long)
    for i, r in enumerate(rows):
        src[i, : len(r)] = torch.tensor(r)
    lengths = torch.tensor([len(r) for r in rows])
    batch = model.greedy(src, lengths, BOS_ID, EOS_ID, 5)
    for i, r in enumerate(rows):
        alone = model.greedy(torch.tensor([r]), torch.tensor([len(r)]), BOS_ID, EOS_ID, 5)[0]
        assert batch[i, : len(alone)].tolist() == alone.tolist()
    logits = model(src, lengths, torch.tensor([[BOS_ID, 5, 6]] * 3))
    assert logits.shape == (3, 3, 50)


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="vocab_size"):
        SummarizationOptions(vocab_size=4)
    with pytest.raises(ValueError, match="eval_split"):
        SummarizationOptions(eval_split="train")
