"""DC-AI-C17 data layer, metric and baselines: PTB reader, KJV generator, perplexity."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from aibench.baselines import language_model as lm
from aibench.datasets.embedded import DataLayoutError
from aibench.datasets.ptb import EOS, UNK, PtbParams, generate_ptb, mikolov_words, read_ptb
from aibench.metrics.language_model import corpus_perplexity, perplexity

TINY = PtbParams(vocab=300, max_train_words=1500, max_valid_words=200, max_test_words=200)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ptb")
    generate_ptb(root, TINY, 0)
    return root


def _write(folder, train="a b\n", valid="a\n", test="b\n"):
    folder.mkdir(parents=True, exist_ok=True)
    for split, text in (("train", train), ("valid", valid), ("test", test)):
        (folder / f"ptb.{split}.txt").write_text(text)


def test_reader_reads_both_layouts(tmp_path):
    _write(tmp_path / "a" / "ptb")
    _write(tmp_path / "b" / "ptb" / "simple-examples" / "data", train=" the cat <unk> \n\n N dogs \n")
    assert read_ptb(tmp_path / "a")["train"] == [["a", "b"]]
    assert read_ptb(tmp_path / "b")["train"] == [["the", "cat", UNK], ["N", "dogs"]]


def test_reader_names_missing_corrupt_and_empty_files(tmp_path):
    _write(tmp_path / "ptb")
    (tmp_path / "ptb" / "ptb.test.txt").unlink()
    with pytest.raises(DataLayoutError, match="ptb.test.txt"):
        read_ptb(tmp_path)
    _write(tmp_path / "ptb", valid="\xff")
    (tmp_path / "ptb" / "ptb.valid.txt").write_bytes(b"\xff\xfe bad")
    with pytest.raises(DataLayoutError, match="ptb.valid.txt.*UTF-8"):
        read_ptb(tmp_path)
    _write(tmp_path / "ptb", train="\n \n")
    with pytest.raises(DataLayoutError, match="ptb.train.txt"):
        read_ptb(tmp_path)


def test_mikolov_processing():
    assert mikolov_words("And Adam lived an hundred and thirty years, 930:") == [
        "and", "adam", "lived", "an", "N", "and", "N", "years", "N"
    ]  # fmt: skip
    assert mikolov_words("two hundred and fifty") == ["N", "and", "N"]


def test_generator_is_ptb_like_and_splits_by_book(root):
    data = read_ptb(root)
    train_words = {w for s in data["train"] for w in s}
    assert len(train_words | {EOS}) <= TINY.vocab
    for split, sents in data.items():
        words = [w for s in sents for w in s]
        assert words and all(w == UNK or w == "N" or w.isalpha() and w.islower() for w in words), split
    # valid/test come from other books: their sentences are not copies of training sentences
    train = {tuple(s) for s in data["train"]}
    held = [tuple(s) for s in data["valid"] + data["test"] if len(s) > 8]
    assert held and sum(s in train for s in held) / len(held) < 0.1
    again = root.parent / "again"
    generate_ptb(again, TINY, 0)
    assert (again / "ptb" / "ptb.train.txt").read_bytes() == (root / "ptb" / "ptb.train.txt").read_bytes()


def test_perplexity_hand_computed_and_torchmetrics():
    # two sentences: NLLs sum 3.0 over 2 tokens and 1.0 over 2 tokens: exp(4/4) = e
    assert corpus_perplexity([np.array([3.0, 2]), np.array([1.0, 2])]) == pytest.approx(math.e)
    assert perplexity(math.log(10) * 5, 5) == pytest.approx(10.0)
    from torchmetrics.text import Perplexity

    torch.manual_seed(0)
    logits = torch.randn(3, 7, 11)
    target = torch.randint(0, 11, (3, 7))
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="none")
    ours = corpus_perplexity([np.array([float(n.sum()), 7]) for n in nll])
    assert ours == pytest.approx(float(Perplexity()(logits, target)), rel=1e-5)


def test_baselines_hand_case():
    train = [["a", "b"], ["a"]]
    uni = lm.unigram(train, [["a"]])[0]  # counts a 2, b 1, <eos> 2; vocab {a, b, <eos>, <unk>}; total 5 + 4
    assert uni[1] == 2 and uni[0] == pytest.approx(-math.log(3 / 9) - math.log(3 / 9))
    bi = lm.bigram(train, [["a"]], k=0.0 + 1e-12)[0]  # <eos> -> a: 2/2; a -> <eos>: 1/2
    assert bi[1] == 2 and bi[0] == pytest.approx(math.log(2), rel=1e-6)


def test_kneser_ney_is_a_distribution_and_reduces_to_counts():
    train = [["a", "b", "c"], ["a", "b", "d"], ["b", "c", "a"], ["c", "a", "b", "b"]]
    model = lm.KneserNey(train, order=3)
    for history in ([EOS, EOS], ["a", "b"], ["x", "c"], ["q", "q"]):  # seen, seen, unseen word, unseen history
        assert sum(model.prob(history, w) for w in model.vocab) == pytest.approx(1.0)
    # Below the top order a word counts its distinct left neighbours: "a" follows <eos> and "c" (twice each).
    bigram = lm.KneserNey(train, order=2)
    assert bigram.counts[2][(EOS, "a")] == 2 and bigram.counts[1][("a",)] == 2
    assert sum(bigram.prob([], w) for w in bigram.vocab) == pytest.approx(1.0)
    # A model of higher order never does worse on its own training text.
    scores = [lm.kneser_ney(train, train, order)[0][0] for order in (1, 3, 5)]
    assert scores[0] > scores[1] > scores[2]
