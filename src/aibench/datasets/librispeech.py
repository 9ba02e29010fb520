"""LibriSpeech (DC-AI-C6 speech recognition) in its release layout, and embedded speech synthesized by espeak-ng.

Layout (what `--data-root` must hold). The OpenSLR release (resource 12) unpacks every split into `LibriSpeech/`:

    DATA_ROOT/LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utterance>.flac
    DATA_ROOT/LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>.trans.txt

with splits `train-clean-100`, `train-clean-360`, `train-other-500`, `dev-clean`, `dev-other`, `test-clean`,
`test-other`. A split folder directly under the data root (`DATA_ROOT/<split>/...`) is accepted too. Audio is
16 kHz mono FLAC; each `.trans.txt` holds one line per utterance of its chapter, "<utterance id> <TRANSCRIPT>",
upper case, letters, apostrophes and spaces. The reader pairs every transcript line with its FLAC: a chapter
without a transcript file, a line whose FLAC is missing, a FLAC without a line, a malformed line, or characters
outside A-Z, ' and space are DataLayoutErrors naming the file (and line). Audio is decoded with soundfile; a
corrupt or truncated FLAC (fewer samples than its header declares), a sample rate other than 16 kHz or a second
channel is a DataLayoutError naming the FLAC.

The embedded data is real synthesized speech in that layout: espeak-ng (Debian's 1.51) speaks real English
sentences -- clauses of the King James Bible (`aibench.datasets.english`), lower-cased, letters, apostrophes and
spaces only -- with many voices. A speaker is one espeak-ng voice (an English accent: en, en-us, en-gb-scotland,
en-gb-x-rp, ...) with one voice variant (m1..m7, f1..f4, klatt...); each utterance draws its own speaking rate
(words a minute), pitch and word gap. The 22,050 Hz output is resampled to 16 kHz
(scipy.signal.resample_poly), given a random gain and white noise at a random SNR, and written as 16-bit FLAC.
No shortcut: sentences are split by BOOK (the test split speaks sentences of books training never heard, and a
held-out sentence that also occurs in a training book is dropped), and the test and validation speakers are
voice/variant pairs that no training speaker is. Sentences are unique within a split; `max_vocab` keeps only
sentences whose every word is among the N most frequent words of the training books, which bounds the spelling
a small model must learn (the acoustic and spelling task is unchanged). Generation runs espeak-ng in parallel
subprocesses (one per CPU); the output is deterministic for a seed.
"""

from __future__ import annotations

import collections
import io
import os
import re
import shutil
import subprocess
import wave
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from aibench.datasets.embedded import DataLayoutError, DatasetSpec
from aibench.datasets.english import kjv_books, sentences, split_by_book

SAMPLE_RATE = 16000
RELEASE = Path("LibriSpeech")
TRAIN_SPLITS = ("train-clean-100", "train-clean-360", "train-other-500")
DEV_SPLITS = ("dev-clean", "dev-other")
TEST_SPLITS = ("test-clean", "test-other")
LIBRISPEECH_LAYOUT = (
    "DATA_ROOT/LibriSpeech/<split>/<speaker>/<chapter>/<speaker>-<chapter>-<utterance>.flac with "
    "<speaker>-<chapter>.trans.txt beside them (16 kHz mono FLAC; split folders such as train-clean-100, dev-clean, "
    "test-clean; DATA_ROOT/<split>/... also accepted)"
)
_TRANSCRIPT = re.compile(r"^[A-Z' ]*$")
_UTTERANCE_ID = re.compile(r"^(\d+)-(\d+)-(\d+)$")


@dataclass(frozen=True)
class Utterance:
    id: str  # "<speaker>-<chapter>-<utterance>"
    path: Path
    transcript: str  # as the .trans.txt holds it: upper case
    speaker: str


@dataclass(frozen=True)
class LibriSplit:
    name: str
    root: Path
    utterances: tuple[Utterance, ...]

    def __len__(self) -> int:
        return len(self.utterances)

    @property
    def transcripts(self) -> list[str]:
        return [u.transcript for u in self.utterances]


def split_dir(root: Path, split: str) -> Path:
    """The folder of `split` under a data root: LibriSpeech/<split>, else <split>."""
    for candidate in (root / RELEASE / split, root / split):
        if candidate.is_dir():
            return candidate
    raise DataLayoutError(
        f"missing {root / RELEASE / split} (LibriSpeech split {split!r}); expected {LIBRISPEECH_LAYOUT}"
    )


def _transcript_lines(path: Path) -> list[tuple[int, str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataLayoutError(f"{path} is not UTF-8 text: {exc}") from exc
    except OSError as exc:
        raise DataLayoutError(f"unreadable transcript file {path}: {exc}") from exc
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        utt_id, _, words = line.strip().partition(" ")
        if not _UTTERANCE_ID.match(utt_id):
            raise DataLayoutError(
                f"{path} line {n}: expected '<speaker>-<chapter>-<utterance> TRANSCRIPT', got {line[:60]!r}"
            )
        words = " ".join(words.split())
        if not _TRANSCRIPT.match(words):
            raise DataLayoutError(
                f"{path} line {n}: transcript has characters other than A-Z, ' and space: {words[:60]!r}"
            )
        out.append((n, utt_id, words))
    return out


def read_split(root: Path, split: str) -> LibriSplit:
    """Every utterance of `split` (paths and transcripts; audio is read by `load_audio`), sorted by id.

    Each chapter folder's transcript file and FLACs must match one to one (errors name the file and line)."""
    base = split_dir(root, split)
    utterances: list[Utterance] = []
    for speaker_dir in sorted(p for p in base.iterdir() if p.is_dir()):
        for chapter_dir in sorted(p for p in speaker_dir.iterdir() if p.is_dir()):
            prefix = f"{speaker_dir.name}-{chapter_dir.name}"
            trans = chapter_dir / f"{prefix}.trans.txt"
            flacs = {p.stem for p in chapter_dir.glob("*.flac")}
            if not trans.is_file():
                raise DataLayoutError(f"missing {trans}: chapter folder {chapter_dir} has no transcript file")
            listed = set()
            for n, utt_id, words in _transcript_lines(trans):
                if not utt_id.startswith(prefix + "-"):
                    raise DataLayoutError(f"{trans} line {n}: utterance {utt_id} is not of chapter {prefix}")
                if utt_id not in flacs:
                    raise DataLayoutError(
                        f"missing {chapter_dir / (utt_id + '.flac')}: {trans} line {n} transcribes it"
                    )
                if utt_id in listed:
                    raise DataLayoutError(f"{trans} line {n}: utterance {utt_id} is transcribed twice")
                listed.add(utt_id)
                utterances.append(Utterance(utt_id, chapter_dir / f"{utt_id}.flac", words, speaker_dir.name))
            unlisted = sorted(flacs - listed)
            if unlisted:
                raise DataLayoutError(f"{chapter_dir / (unlisted[0] + '.flac')} has no line in {trans}")
    if not utterances:
        raise DataLayoutError(f"{base} holds no utterances; expected {LIBRISPEECH_LAYOUT}")
    return LibriSplit(split, base, tuple(utterances))


def load_audio(path: Path) -> np.ndarray:
    """A 16 kHz mono FLAC as float32 samples in [-1, 1]; a corrupt, truncated or wrongly sampled file is named."""
    try:
        info = soundfile.info(str(path))
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (RuntimeError, OSError, soundfile.LibsndfileError) as exc:
        raise DataLayoutError(f"corrupt or unreadable audio file {path}: {exc}") from exc
    if rate != SAMPLE_RATE:
        raise DataLayoutError(f"{path} is sampled at {rate} Hz; LibriSpeech is {SAMPLE_RATE} Hz")
    if audio.shape[1] != 1:
        raise DataLayoutError(f"{path} has {audio.shape[1]} channels; LibriSpeech is mono")
    if audio.shape[0] != info.frames or audio.shape[0] == 0:
        raise DataLayoutError(
            f"truncated audio file {path}: {audio.shape[0]} samples decoded, its header declares {info.frames}"
        )
    return audio[:, 0]


def check_librispeech(root: Path, splits: Sequence[str] = ("train-clean-100", "test-clean")) -> None:
    """The splits a session reads exist and their transcripts and FLACs match (audio is decoded later)."""
    for split in splits:
        read_split(root, split)


# -- the embedded corpus: espeak-ng speaking the KJV --------------------------------------------------------------

ACCENTS = ("en", "en-us", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029", "en-us-nyc")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "klatt", "klatt2", "klatt3")
ESPEAK_RATE = 22050
_WORD = re.compile(r"[a-z']+")


def espeak_binary() -> str:
    found = shutil.which("espeak-ng")
    if found is None:
        raise RuntimeError(
            "espeak-ng is not installed: the embedded LibriSpeech is synthesized with it "
            "(Debian/Ubuntu: apt-get install espeak-ng; scripts/setup.sh installs it)"
        )
    return found


def normalize(text: str) -> str:
    """A clause as a transcript: lower case, letters and apostrophes, single spaces (other characters dropped)."""
    return " ".join(_WORD.findall(text.lower().replace("-", " "))).strip("'")


@cache
def kjv_clauses() -> dict[str, tuple[str, ...]]:
    """Per split (by book), the KJV's clauses (pieces between punctuation), normalized, in book order."""
    out: dict[str, tuple[str, ...]] = {}
    for split, books in split_by_book(kjv_books()).items():
        pieces: list[str] = []
        for book in books:
            for verse in book.verses:
                for sentence in sentences(verse):
                    pieces.extend(normalize(p) for p in re.split(r"[,()]", sentence))
        out[split] = tuple(p for p in pieces if p)
    return out


@dataclass(frozen=True)
class LibriSpeechParams:
    """Size and voices of the embedded LibriSpeech.

    Utterances per split (at most: sentences run out first); sentences of `min_words`..`max_words` words whose
    words are all among the `max_vocab` most frequent training words (0: any); `test_speakers` and
    `valid_speakers` voice/variant pairs held out of training (the rest are training speakers); per utterance
    a rate in `rate` words a minute, pitch (0-99) in `pitch`, SNR in dB in `snr_db`, gain in dB in `gain_db`."""

    train_utterances: int = 4000
    valid_utterances: int = 200
    test_utterances: int = 400
    min_words: int = 3
    max_words: int = 7
    max_vocab: int = 600
    test_speakers: int = 12
    valid_speakers: int = 8
    utterances_per_chapter: int = 25
    rate: tuple[int, int] = (150, 230)
    pitch: tuple[int, int] = (25, 75)
    snr_db: tuple[float, float] = (20.0, 30.0)
    gain_db: tuple[float, float] = (-9.0, 0.0)

    def __post_init__(self) -> None:
        if min(self.train_utterances, self.valid_utterances, self.test_utterances) < 1:
            raise ValueError("embedded LibriSpeech needs at least one utterance in every split")
        if not 1 <= self.min_words <= self.max_words or self.max_vocab < 0:
            raise ValueError("need 1 <= min_words <= max_words and max_vocab >= 0")
        if self.test_speakers < 1 or self.valid_speakers < 1:
            raise ValueError("at least one test and one validation speaker")
        if self.test_speakers + self.valid_speakers >= len(ACCENTS) * len(VARIANTS):
            raise ValueError(f"only {len(ACCENTS) * len(VARIANTS)} voice/variant pairs: training needs some")
        if self.utterances_per_chapter < 1:
            raise ValueError("utterances_per_chapter must be >= 1")


EMBEDDED_SPLITS = {"train": "train-clean-100", "valid": "dev-clean", "test": "test-clean"}


def embedded_sentences(params: LibriSpeechParams) -> dict[str, list[str]]:
    """Per split, the distinct eligible sentences in book order (held-out ones never occur in training books)."""
    clauses = kjv_clauses()
    counts = collections.Counter(w for c in clauses["train"] for w in c.split())
    vocab = {w for w, _ in counts.most_common(params.max_vocab)} if params.max_vocab else None
    out: dict[str, list[str]] = {}
    train_all = set(clauses["train"])
    for split in ("train", "valid", "test"):
        seen: set[str] = set()
        kept = []
        for c in clauses[split]:
            words = c.split()
            if not params.min_words <= len(words) <= params.max_words or c in seen:
                continue
            if vocab is not None and not all(w in vocab for w in words):
                continue
            if split != "train" and c in train_all:
                continue
            seen.add(c)
            kept.append(c)
        out[split] = kept
    return out


def speakers(params: LibriSpeechParams, seed: int) -> dict[str, list[tuple[str, str]]]:
    """Voice/variant pairs per split: disjoint sets drawn by the seed (every accent and variant trains)."""
    pairs = [(a, v) for a in ACCENTS for v in VARIANTS]
    rng = np.random.default_rng([seed, 6, 1])
    order = [pairs[i] for i in rng.permutation(len(pairs))]
    test = order[: params.test_speakers]
    valid = order[params.test_speakers : params.test_speakers + params.valid_speakers]
    return {"train": order[params.test_speakers + params.valid_speakers :], "valid": valid, "test": test}


def _wav_samples(data: bytes) -> np.ndarray:
    """espeak-ng's --stdout WAV (its header's sizes are placeholders when streaming) as float samples."""
    start = data.find(b"data")
    if not data.startswith(b"RIFF") or start < 0:
        raise RuntimeError("espeak-ng wrote no WAV data")
    return np.frombuffer(data[start + 8 :][: (len(data) - start - 8) // 2 * 2], dtype="<i2").astype(np.float64) / 32768


def synthesize(text: str, accent: str, variant: str, rate: int, pitch: int, gap: int) -> np.ndarray:
    """espeak-ng speaking `text` at 22,050 Hz, float samples."""
    cmd = [espeak_binary(), "-v", f"{accent}+{variant}", "-s", str(rate), "-p", str(pitch)]
    cmd += ["-g", str(gap), "--stdout", text]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"espeak-ng failed ({' '.join(cmd[1:-1])}): {proc.stderr.decode(errors='replace')[:200]}")
    return _wav_samples(proc.stdout)


def _trim(x: np.ndarray, threshold: float = 1e-3, margin: int = 1600) -> np.ndarray:
    """The speech with at most 0.1 s of espeak-ng's leading and trailing silence."""
    loud = np.flatnonzero(np.abs(x) > threshold)
    if loud.size == 0:
        return x
    return x[max(0, loud[0] - margin) : loud[-1] + margin]


def render(text: str, voice: tuple[str, str], rng: np.random.Generator, params: LibriSpeechParams) -> np.ndarray:
    """One utterance at 16 kHz: espeak-ng with a random rate, pitch and word gap, resampled, gain and noise."""
    from scipy.signal import resample_poly

    rate = int(rng.integers(params.rate[0], params.rate[1] + 1))
    pitch = int(rng.integers(params.pitch[0], params.pitch[1] + 1))
    gap = int(rng.integers(0, 3))
    snr = float(rng.uniform(*params.snr_db))
    gain = 10 ** (float(rng.uniform(*params.gain_db)) / 20)
    noise_rng = np.random.default_rng(rng.integers(2**63))
    speech = resample_poly(_trim(synthesize(text, *voice, rate, pitch, gap)), 320, 441)
    speech = speech / max(np.abs(speech).max(), 1e-6) * 0.7
    power = float(np.mean(speech**2))
    noise = noise_rng.standard_normal(speech.shape) * np.sqrt(power / 10 ** (snr / 10))
    return np.clip((speech + noise) * gain, -1.0, 1.0).astype(np.float32)


def generate_librispeech(root: Path, params: LibriSpeechParams | Mapping[str, Any], seed: int) -> None:
    """Write the embedded LibriSpeech (module docstring): root/LibriSpeech/{train-clean-100,dev-clean,test-clean}."""
    if isinstance(params, Mapping):
        params = LibriSpeechParams(**params)
    espeak_binary()
    pool = embedded_sentences(params)
    voices = speakers(params, seed)
    wanted = {"train": params.train_utterances, "valid": params.valid_utterances, "test": params.test_utterances}
    rng = np.random.default_rng([seed, 6])
    jobs: list[tuple[Path, str, tuple[str, str], np.random.Generator]] = []
    pair_ids = {pair: 100 + i for i, pair in enumerate((a, v) for a in ACCENTS for v in VARIANTS)}
    for split, name in EMBEDDED_SPLITS.items():
        chosen = sorted(rng.permutation(len(pool[split]))[: wanted[split]])
        texts = [pool[split][i] for i in chosen]
        owner = rng.integers(len(voices[split]), size=len(texts))
        by_speaker: dict[tuple[str, str], list[str]] = collections.defaultdict(list)
        for text, k in zip(texts, owner, strict=True):
            by_speaker[voices[split][int(k)]].append(text)
        for voice, said in sorted(by_speaker.items()):
            speaker = pair_ids[voice]
            for c in range(0, len(said), params.utterances_per_chapter):
                chapter = 1000 + c // params.utterances_per_chapter
                folder = root / RELEASE / name / str(speaker) / str(chapter)
                folder.mkdir(parents=True, exist_ok=True)
                lines = []
                for u, text in enumerate(said[c : c + params.utterances_per_chapter]):
                    utt_id = f"{speaker}-{chapter}-{u:04d}"
                    lines.append(f"{utt_id} {text.upper()}\n")
                    jobs.append((folder / f"{utt_id}.flac", text, voice, np.random.default_rng(rng.integers(2**63))))
                (folder / f"{speaker}-{chapter}.trans.txt").write_text("".join(lines), encoding="utf-8")

    def write(job: tuple[Path, str, tuple[str, str], np.random.Generator]) -> None:
        path, text, voice, job_rng = job
        soundfile.write(str(path), render(text, voice, job_rng, params), SAMPLE_RATE, subtype="PCM_16", format="FLAC")

    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as executor:
        list(executor.map(write, jobs))


def wav_bytes(samples: np.ndarray, rate: int = SAMPLE_RATE) -> bytes:
    """16-bit mono WAV bytes (tests write hand-made audio with it)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


LIBRISPEECH = DatasetSpec(
    name="librispeech",
    required=(),  # two accepted roots (LibriSpeech/<split> or <split>): check_librispeech names what is missing
    generate=generate_librispeech,
    params=LibriSpeechParams,
    validate=check_librispeech,
    version=1,
    layout_hint=LIBRISPEECH_LAYOUT,
)
