"""DC-AI-C4's data and metric: the COCO captions reader (errors naming the file), the seeded generator
(deterministic, photographs disjoint between the splits, captions naming what the image shows), the vocabulary,
perplexity against torchmetrics and BLEU-4 against a hand-computed case, and the trigram baseline."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from aibench.baselines.captioning import TrigramModel, fit_trigram
from aibench.datasets.coco_captions import (
    _TRAIN_PHOTOS,
    _VAL_PHOTOS,
    COLOURS,
    END,
    SHAPES,
    SPECIALS,
    CaptionParams,
    Vocabulary,
    annotation_file,
    generate,
    image_folder,
    read_captions,
    read_split,
    tokenize,
)
from aibench.datasets.embedded import DataLayoutError
from aibench.metrics.captioning import bleu4, perplexity

PARAMS = CaptionParams(train_images=12, val_images=6, image_size=32)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("coco")
    generate(out, PARAMS, seed=3)
    return out


@pytest.fixture
def root_copy(root: Path, tmp_path: Path) -> Path:
    shutil.copytree(root, tmp_path / "r")
    return tmp_path / "r"


def test_generation_is_deterministic_per_seed(root: Path, tmp_path: Path) -> None:
    generate(tmp_path / "a", PARAMS, seed=3)
    generate(tmp_path / "b", PARAMS, seed=4)
    for split in ("train", "val"):
        mine = (root / annotation_file(split)).read_text()
        assert (tmp_path / "a" / annotation_file(split)).read_text() == mine
        assert (tmp_path / "b" / annotation_file(split)).read_text() != mine


def test_reader_reads_the_generated_layout(root: Path) -> None:
    train = read_split(root, "train", 32)
    val = read_split(root, "val", 16)
    assert len(train.files) == 12 and len(val.files) == 6
    assert train.images is not None and train.images.shape == (12, 3, 32, 32) and train.images.dtype == torch.uint8
    assert val.images is not None and val.images.shape == (6, 3, 16, 16)
    assert all(len(caps) == 5 for caps in train.captions)


def test_captions_name_every_attribute_the_image_shows(root: Path) -> None:
    """No shortcut through the grammar: every caption names a colour and a shape for each group, and the
    captions of one image agree on the set of content words (they are phrasings of the same scene)."""
    data = read_captions(root, "train")
    for caps in data.captions:
        contents = []
        for caption in caps:
            words = set(caption)
            assert words & set(COLOURS) and any(w.startswith(tuple(SHAPES)) for w in words)
            contents.append(frozenset(w for w in caption if w in COLOURS or w.startswith(tuple(SHAPES))))
        assert len(set(contents)) == 1


def test_splits_use_disjoint_photographs_and_images(root: Path) -> None:
    assert not set(_TRAIN_PHOTOS) & set(_VAL_PHOTOS)
    train, val = read_captions(root, "train"), read_captions(root, "val")
    assert not {f.name for f in train.files} & {f.name for f in val.files}
    ids = [json.loads((root / annotation_file(s)).read_text())["images"] for s in ("train", "val")]
    assert not {i["id"] for i in ids[0]} & {i["id"] for i in ids[1]}


def test_missing_and_corrupt_files_are_named(root_copy: Path) -> None:
    val_json = root_copy / annotation_file("val")
    data = json.loads(val_json.read_text())
    image = root_copy / image_folder("val") / data["images"][0]["file_name"]
    image.write_bytes(b"not a jpeg")
    with pytest.raises(DataLayoutError, match=image.name):
        read_split(root_copy, "val", 16)
    image.unlink()
    with pytest.raises(DataLayoutError, match="missing image"):
        read_split(root_copy, "val", 16)
    data["annotations"][0]["image_id"] = 999
    val_json.write_text(json.dumps(data))
    with pytest.raises(DataLayoutError, match="unknown image 999"):
        read_captions(root_copy, "val")
    val_json.write_text("{not json")
    with pytest.raises(DataLayoutError, match="captions_val2014.json"):
        read_captions(root_copy, "val")
    val_json.unlink()
    with pytest.raises(DataLayoutError, match="captions_val2014.json: missing"):
        read_captions(root_copy, "val")


def test_tokenize_and_vocabulary() -> None:
    assert tokenize("A man's Dog, running.") == ["a", "man's", "dog", ",", "running", "."]
    vocab = Vocabulary.build([["a", "b", "a"], ["a", "c", "b"]], threshold=2)
    assert vocab.words == (*SPECIALS, "a", "b")
    assert vocab.encode(["a", "c"]) == [4, 3, SPECIALS.index(END)]
    assert vocab.decode([4, 3, 5, 2, 4]) == ["a", "<unk>", "b"]


def test_perplexity_matches_torchmetrics() -> None:
    from torchmetrics.text import Perplexity

    torch.manual_seed(0)
    logits = torch.randn(3, 7, 11)
    targets = torch.randint(1, 11, (3, 7))
    targets[1, 5:] = 0  # padding
    nll = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=0, reduction="sum")
    ours = perplexity(float(nll), int((targets != 0).sum()))
    theirs = Perplexity(ignore_index=0)(logits, targets)
    assert ours == pytest.approx(float(theirs), rel=1e-5)
    with pytest.raises(ValueError):
        perplexity(1.0, 0)


def test_bleu4_hand_computed() -> None:
    ref = [["a", "small", "red", "circle", "left", "of", "a", "cross"]]
    assert bleu4([ref[0]], [ref]) == pytest.approx(1.0)
    # 7 of 8 words, one substitution in the middle: p1 = 7/8, p2 = 5/7, p3 = 3/6, p4 = 1/5, no brevity penalty.
    hyp = ["a", "small", "red", "square", "left", "of", "a", "cross"]
    expected = math.exp((math.log(7 / 8) + math.log(5 / 7) + math.log(3 / 6) + math.log(1 / 5)) / 4)
    assert bleu4([hyp], [ref]) == pytest.approx(expected)


def test_trigram_is_a_distribution_and_fits() -> None:
    captions = [[4, 5, 2], [4, 6, 2], [5, 6, 2]]
    model = TrigramModel(captions, vocab_size=7, start=1, k=0.1)
    for u, v in ((1, 1), (1, 4), (4, 5), (3, 3)):
        assert sum(model.prob(u, v, w) for w in range(7)) == pytest.approx(1.0)
    fitted = fit_trigram([[c] for c in captions * 4], 7, 1)
    assert fitted.nll([4, 5, 2]) < model.nll([3, 3, 2])
    assert np.isfinite(fitted.nll([6, 6, 6, 2]))


def test_params_are_validated() -> None:
    with pytest.raises(ValueError):
        CaptionParams(image_size=8)
