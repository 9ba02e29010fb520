"""C6's data, metric, baseline and model parts: the LibriSpeech reader on hand-made release folders and its errors
naming the file (truncated FLAC, transcript line without its FLAC, FLAC without a line, wrong sample rate), the
espeak-ng generator (real layout read back by the reader, determinism, test sentences and speakers never in
training), WER against jiwer and a hand-computed case, the baselines, greedy CTC decoding, and a model whose
output for an utterance does not depend on the padding its batch gives it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch

from aibench.baselines.speech import most_frequent, nearest_length
from aibench.benchmarks.speech_recognition.benchmark import (
    BLANK,
    LABELS,
    decode,
    encode,
    greedy_ids,
    mel_filters,
    spectrogram,
)
from aibench.benchmarks.speech_recognition.model import BatchRNN, DeepSpeech2, conv_frequency_bins, output_lengths
from aibench.datasets.embedded import DataLayoutError
from aibench.datasets.librispeech import (
    EMBEDDED_SPLITS,
    LibriSpeechParams,
    check_librispeech,
    embedded_sentences,
    generate_librispeech,
    kjv_clauses,
    load_audio,
    normalize,
    read_split,
    speakers,
)
from aibench.metrics.speech import char_error_rate, speech_metrics, word_error_rate

PARAMS = LibriSpeechParams(train_utterances=40, valid_utterances=6, test_utterances=12, utterances_per_chapter=5)
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def _flac(path: Path, seconds: float = 0.5, rate: int = 16000, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * rate)) / rate
    x = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    soundfile.write(str(path), np.stack([x] * channels, 1), rate, subtype="PCM_16", format="FLAC")


def _chapter(root: Path, split: str, speaker: int, chapter: int, lines: dict[int, str], flacs: bool = True) -> Path:
    folder = root / "LibriSpeech" / split / str(speaker) / str(chapter)
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join(f"{speaker}-{chapter}-{u:04d} {words}\n" for u, words in lines.items())
    (folder / f"{speaker}-{chapter}.trans.txt").write_text(text)
    if flacs:
        for u in lines:
            _flac(folder / f"{speaker}-{chapter}-{u:04d}.flac")
    return folder


def test_reader_reads_the_release_layout(tmp_path: Path) -> None:
    _chapter(tmp_path, "train-clean-100", 19, 198, {0: "NORTHANGER ABBEY", 1: "CHAPTER ONE"})
    _chapter(tmp_path, "train-clean-100", 26, 495, {0: "IT IS A TRUTH UNIVERSALLY ACKNOWLEDGED'S"})
    _chapter(tmp_path, "test-clean", 1089, 134686, {0: "HE HOPED THERE WOULD BE STEW FOR DINNER"})
    check_librispeech(tmp_path)
    train = read_split(tmp_path, "train-clean-100")
    assert [u.id for u in train.utterances] == ["19-198-0000", "19-198-0001", "26-495-0000"]
    assert train.utterances[1].transcript == "CHAPTER ONE" and train.utterances[2].speaker == "26"
    audio = load_audio(train.utterances[0].path)
    assert audio.dtype == np.float32 and audio.shape == (8000,) and 0.29 < np.abs(audio).max() < 0.31
    # A split folder directly under the root is accepted too.
    flat = tmp_path / "flat"
    shutil.copytree(tmp_path / "LibriSpeech" / "test-clean", flat / "test-clean")
    assert read_split(flat, "test-clean").transcripts == ["HE HOPED THERE WOULD BE STEW FOR DINNER"]


def test_missing_and_corrupt_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataLayoutError, match="missing .*LibriSpeech/train-clean-100"):
        read_split(tmp_path, "train-clean-100")
    folder = _chapter(tmp_path, "train-clean-100", 19, 198, {0: "A B", 1: "C D"})
    (folder / "19-198-0001.flac").unlink()  # a transcript line for a missing file
    with pytest.raises(DataLayoutError, match=r"missing .*19-198-0001\.flac.*line 2"):
        read_split(tmp_path, "train-clean-100")
    _flac(folder / "19-198-0001.flac")
    _flac(folder / "19-198-0002.flac")  # a FLAC with no transcript line
    with pytest.raises(DataLayoutError, match=r"19-198-0002\.flac has no line in .*19-198\.trans\.txt"):
        read_split(tmp_path, "train-clean-100")
    (folder / "19-198-0002.flac").unlink()
    (folder / "19-198.trans.txt").write_text("19-198-0000 A B\n19-198-0001 lower case\n")
    with pytest.raises(DataLayoutError, match=r"19-198\.trans\.txt line 2: transcript has characters"):
        read_split(tmp_path, "train-clean-100")
    (folder / "19-198.trans.txt").unlink()
    with pytest.raises(DataLayoutError, match=r"missing .*19-198\.trans\.txt"):
        read_split(tmp_path, "train-clean-100")


def test_truncated_resampled_and_stereo_audio_are_named(tmp_path: Path) -> None:
    good = tmp_path / "good.flac"
    _flac(good, seconds=1.0)
    truncated = tmp_path / "truncated.flac"
    data = good.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataLayoutError, match="truncated.flac"):
        load_audio(truncated)
    header_only = tmp_path / "header.flac"
    header_only.write_bytes(data[:20])
    with pytest.raises(DataLayoutError, match="header.flac"):
        load_audio(header_only)
    wrong_rate = tmp_path / "rate.flac"
    _flac(wrong_rate, rate=22050)
    with pytest.raises(DataLayoutError, match="rate.flac is sampled at 22050 Hz"):
        load_audio(wrong_rate)
    stereo = tmp_path / "stereo.flac"
    _flac(stereo, channels=2)
    with pytest.raises(DataLayoutError, match="stereo.flac has 2 channels"):
        load_audio(stereo)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    out = tmp_path_factory.mktemp("librispeech")
    generate_librispeech(out, PARAMS, seed=0)
    return out


@needs_espeak
def test_generator_writes_the_real_layout_that_the_reader_reads(root: Path) -> None:
    splits = {split: read_split(root, name) for split, name in EMBEDDED_SPLITS.items()}
    assert {k: len(v) for k, v in splits.items()} == {"train": 40, "valid": 6, "test": 12}
    check_librispeech(root)
    for utt in splits["test"].utterances[:4]:
        audio = load_audio(utt.path)
        assert 0.3 < len(audio) / 16000 < 6.0 and 0.01 < np.abs(audio).max() <= 1.0
        words = utt.transcript.split()
        assert PARAMS.min_words <= len(words) <= PARAMS.max_words and utt.transcript == utt.transcript.upper()
        assert set(utt.transcript) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ' ")
    # Chapters hold at most utterances_per_chapter utterances; speaker folders are voice ids.
    for trans in (root / "LibriSpeech" / "train-clean-100").rglob("*.trans.txt"):
        assert 1 <= len(trans.read_text().splitlines()) <= PARAMS.utterances_per_chapter


@needs_espeak
def test_generator_is_deterministic(root: Path, tmp_path: Path) -> None:
    small = LibriSpeechParams(train_utterances=4, valid_utterances=2, test_utterances=2)
    generate_librispeech(tmp_path / "a", small, seed=3)
    generate_librispeech(tmp_path / "b", small, seed=3)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    for rel in files_a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


@needs_espeak
def test_no_test_sentence_or_speaker_occurs_in_training(root: Path) -> None:
    splits = {split: read_split(root, name) for split, name in EMBEDDED_SPLITS.items()}
    train_text = set(splits["train"].transcripts)
    train_speakers = {u.speaker for u in splits["train"].utterances}
    for held_out in ("valid", "test"):
        assert not train_text & set(splits[held_out].transcripts)
        assert not train_speakers & {u.speaker for u in splits[held_out].utterances}
    # Over the whole eligible pools too, not just this draw: held-out sentences come from other books and are
    # dropped when a training book has them; the voice/variant pairs are disjoint.
    pools = embedded_sentences(LibriSpeechParams())
    every_train_clause = set(kjv_clauses()["train"])
    assert not every_train_clause & set(pools["test"]) and not every_train_clause & set(pools["valid"])
    voices = speakers(LibriSpeechParams(), seed=0)
    assert not set(voices["train"]) & set(voices["test"]) and not set(voices["valid"]) & set(voices["test"])
    assert len(voices["test"]) == LibriSpeechParams().test_speakers


def test_normalize_keeps_letters_apostrophes_and_spaces() -> None:
    assert normalize("And God said, Let there be light: and there was light.") == (
        "and god said let there be light and there was light"
    )
    assert normalize("the LORD'S house -- forty-two") == "the lord's house forty two"


def test_wer_matches_jiwer_and_a_hand_computed_case() -> None:
    refs = ["THE CAT SAT ON THE MAT", "HELLO WORLD"]
    hyps = ["THE CAT SAT ON MAT", "HELLO THERE WORLD"]
    # One deletion (THE) in the first, one insertion (THERE) in the second: 2 errors over 8 reference words.
    assert word_error_rate(hyps, refs) == pytest.approx(25.0)
    assert word_error_rate(["A B"], ["A B"]) == 0.0
    assert word_error_rate([""], ["A B C"]) == pytest.approx(100.0)
    # CER: "ABD" against "ABC" is one substitution of three characters.
    assert char_error_rate(["ABD"], ["ABC"]) == pytest.approx(100 / 3)
    assert set(speech_metrics(hyps, refs)) == {"wer", "cer"}
    with pytest.raises(ValueError):
        word_error_rate(["A"], ["A", "B"])


def test_baselines() -> None:
    assert most_frequent(["A B", "C", "A B", "C", "D E F"]) == "C"  # tie of counts: the shorter
    train = ["ONE", "TWO WORDS", "THREE WORDS HERE"]
    assert nearest_length([100, 200, 300], train, [90, 210, 1000, 250]) == [
        "ONE",
        "TWO WORDS",
        "THREE WORDS HERE",
        "TWO WORDS",  # equidistant: the first in training order
    ]


def test_labels_and_greedy_ctc_decoding() -> None:
    assert LABELS[BLANK] == "_" and len(LABELS) == 29 and decode(encode("IT'S ME")) == "IT'S ME"
    ids = encode("AAB")
    a, b = ids[0], ids[2]
    # frames: A A blank A B B blank -> "AAB" (a blank separates the repeated A), the last frame cut by its length
    frames = [a, a, BLANK, a, b, b, BLANK, a]
    logits = torch.full((len(frames), 1, len(LABELS)), -5.0)
    for t, k in enumerate(frames):
        logits[t, 0, k] = 5.0
    assert greedy_ids(logits, [7]) == [[a, a, b]]
    assert decode([*encode("HI"), BLANK, *encode("X")]) == "HI"  # the blank ends an output


def test_features_and_shapes() -> None:
    audio = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    linear = spectrogram(audio)
    assert linear.shape == (161, 101) and abs(float(linear.mean())) < 1e-4 and abs(float(linear.std()) - 1) < 1e-3
    assert spectrogram(audio, n_mels=40).shape == (40, 101)
    filters = mel_filters(40, 320)
    assert filters.shape == (40, 161) and bool((filters >= 0).all()) and bool((filters.sum(1) > 0).all())
    assert conv_frequency_bins(161) == 41  # the reference's 32 x 41 = 1312 RNN inputs
    assert output_lengths(torch.tensor([101, 100])).tolist() == [51, 50]


def test_model_output_does_not_depend_on_batch_padding() -> None:
    torch.manual_seed(0)
    model = DeepSpeech2(n_freq=20, hidden_size=12, hidden_layers=5, conv_channels=3).eval()
    assert len(model.rnns) == 5 and model.rnns[0].batch_norm is None and model.rnns[1].batch_norm is not None
    short, long_ = torch.randn(1, 1, 20, 30), torch.randn(1, 1, 20, 50)
    alone, n_alone = model(short, torch.tensor([30]))
    padded = torch.zeros(2, 1, 20, 50)
    padded[0, :, :, :30], padded[1] = short[0], long_[0]
    together, n_together = model(padded, torch.tensor([30, 50]))
    assert n_alone is not None and n_together is not None and n_together.tolist() == [15, 25]
    assert torch.allclose(alone[:15, 0], together[:15, 0], atol=1e-5)


def test_two_way_lstm_equals_the_packed_bidirectional_lstm() -> None:
    """BatchRNN runs each direction over the padded batch; on real frames it must match the reference's packed
    bidirectional LSTM (directions summed) with the same weights, outputs and gradients alike."""
    torch.manual_seed(0)
    layer = BatchRNN(6, 5, batch_norm=False)
    packed_lstm = torch.nn.LSTM(6, 5, bidirectional=True)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            getattr(packed_lstm, name).copy_(getattr(layer.forward_rnn, name))
            getattr(packed_lstm, name + "_reverse").copy_(getattr(layer.backward_rnn, name))
    lengths = torch.tensor([9, 4, 7])
    x = torch.randn(9, 3, 6, requires_grad=True)
    mask = (torch.arange(9)[:, None] < lengths[None, :])[:, :, None]
    ours = layer(x, lengths, None) * mask
    packed, _ = packed_lstm(torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False))
    reference, _ = torch.nn.utils.rnn.pad_packed_sequence(packed, total_length=9)
    reference = reference.view(9, 3, 2, 5).sum(2) * mask
    assert torch.allclose(ours, reference, atol=1e-6)
    (grad_ours,) = torch.autograd.grad(ours.square().sum(), x)
    (grad_reference,) = torch.autograd.grad(reference.square().sum(), x)
    assert torch.allclose(grad_ours, grad_reference, atol=1e-6)
