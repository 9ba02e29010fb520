"""DC-AI-C3's data, tokenizer and metrics: the parallel-text reader (WMT and Multi30k file names, errors naming the
file), the invented language's rules (verb-final, adjective after noun, agreement a word dictionary cannot copy),
the seeded generator (deterministic, no evaluation sentence from a training book), the BPE tokenizer, and token
accuracy / BLEU against hand-computed cases and sacrebleu."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import sacrebleu

from aibench.baselines.translation import WordDictionary
from aibench.benchmarks.translation.subwords import SubwordModel
from aibench.datasets.embedded import DataLayoutError
from aibench.datasets.parallel_text import (
    FOLDER,
    ParallelTextParams,
    generate_parallel_text,
    pseudo_word,
    read_parallel,
    translate,
)
from aibench.metrics.translation import bleu, token_accuracy

PARAMS = ParallelTextParams(train_pairs=400, val_pairs=40, test_pairs=40, max_words=12, vocabulary=1000)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("parallel")
    generate_parallel_text(out, PARAMS, seed=5)
    return out


def _write(folder: Path, name: str, en: list[str], de: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.en").write_text("".join(s + "\n" for s in en), encoding="utf-8")
    (folder / f"{name}.de").write_text("".join(s + "\n" for s in de), encoding="utf-8")


def test_reader_takes_wmt_file_names(tmp_path: Path) -> None:
    folder = tmp_path / FOLDER
    _write(folder, "train", ["a house", "the cat"], ["ein Haus", "die Katze"])
    _write(folder, "newstest2013", ["a dog"], ["ein Hund"])
    _write(folder, "newstest2014", ["the tree"], ["der Baum"])
    assert read_parallel(tmp_path, "train").target == ("ein Haus", "die Katze")
    assert read_parallel(tmp_path, "val").source == ("a dog",)
    test = read_parallel(tmp_path, "test")
    assert test.target == ("der Baum",) and test.files[0].name == "newstest2014.en"


def test_reader_names_misaligned_missing_and_undecodable_files(tmp_path: Path) -> None:
    folder = tmp_path / FOLDER
    _write(folder, "train", ["a", "b", "c"], ["x", "y"])
    with pytest.raises(DataLayoutError, match=r"mis-aligned.*train\.en has 3 lines.*train\.de has 2"):
        read_parallel(tmp_path, "train")
    (folder / "test.en").write_text("only the source side\n", encoding="utf-8")
    with pytest.raises(DataLayoutError, match=r"missing .*test\.de"):
        read_parallel(tmp_path, "test")
    with pytest.raises(DataLayoutError, match=r"missing .*val\.en"):
        read_parallel(tmp_path, "val")
    (folder / "test.de").write_bytes(b"\xff\xfe not utf-8\n")
    with pytest.raises(DataLayoutError, match=r"test\.de is not UTF-8"):
        read_parallel(tmp_path, "test")


def test_rules_move_verbs_last_adjectives_after_nouns_and_agree() -> None:
    seed = 5
    out = translate("the good man saw them", seed).split()
    man, good, saw, them = (pseudo_word(w, seed) for w in ("man", "good", "saw", "them"))
    # "the" is written, the noun carries the definite suffix, the adjective follows it, the verb goes last
    # with the third-person-singular ending of its subject "man".
    assert out == [pseudo_word("the", seed), man + "ra", good, them, saw + "un"]
    # The same verb takes another ending when the subject changes, though the verb's English word is the same.
    assert translate("we saw them", seed).split()[-1] == saw + "akim"
    # "a" is not written: its meaning is the noun's indefinite suffix.
    assert translate("a man saw", seed).split() == [man + "ne", saw + "un"]


def test_generator_is_deterministic_and_evaluation_text_is_not_training_text(root: Path, tmp_path: Path) -> None:
    generate_parallel_text(tmp_path / "again", PARAMS, seed=5)
    generate_parallel_text(tmp_path / "other", PARAMS, seed=6)
    mine = (root / FOLDER / "train.de").read_text()
    assert (tmp_path / "again" / FOLDER / "train.de").read_text() == mine
    assert (tmp_path / "other" / FOLDER / "train.de").read_text() != mine
    train = read_parallel(root, "train")
    assert len(train) == PARAMS.train_pairs
    for split in ("val", "test"):
        held_out = read_parallel(root, split)
        assert len(held_out) == getattr(PARAMS, f"{split}_pairs")
        assert not set(held_out.source) & set(train.source)
    for line in train.source:
        assert PARAMS.min_words <= len(line.split()) <= PARAMS.max_words


def test_a_word_dictionary_cannot_imitate_the_translation(root: Path) -> None:
    train, test = read_parallel(root, "train"), read_parallel(root, "test")
    dictionary = WordDictionary(train.source, train.target)
    exact = sum(dictionary.translate(s) == t for s, t in zip(test.source, test.target, strict=True))
    assert exact <= len(test) // 4  # reordering and agreement defeat word-for-word translation


def test_subword_model_round_trips_training_text(root: Path) -> None:
    train = read_parallel(root, "train")
    model = SubwordModel([*train.source, *train.target], vocab_size=300, max_sentences=10_000)
    assert 4 < len(model) <= 300
    ids = model.encode(train.target[:5])
    assert [model.decode(x) for x in ids] == list(train.target[:5])


def test_token_accuracy_pools_positions_and_counts_short_predictions_wrong() -> None:
    reference = [np.array([5, 6, 7, 3]), np.array([8, 3])]
    predicted = [np.array([5, 9, 7, 3]), np.array([8])]  # 3 of 4, then 1 of 2 (the missing position is wrong)
    assert token_accuracy(predicted, reference) == pytest.approx(4 / 6)
    assert token_accuracy([np.array([1, 2, 3, 4, 5])], [np.array([1, 2])]) == 1.0  # a longer one is cut
    with pytest.raises(ValueError, match="2 predictions for 1"):
        token_accuracy(predicted, reference[:1])


def test_bleu_is_sacrebleus_corpus_bleu() -> None:
    hyps = ["the cat sat on the mat", "a dog ran in the park today"]
    refs = ["the cat sat on a mat", "a dog ran in the park"]
    assert bleu(hyps, refs) == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    assert bleu(refs, refs) == pytest.approx(100.0)
