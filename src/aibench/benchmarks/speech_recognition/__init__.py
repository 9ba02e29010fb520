"""DC-AI-C6 speech recognition: DeepSpeech2 (conv + bidirectional RNN + CTC) on LibriSpeech-format speech."""

from aibench.benchmarks.speech_recognition.benchmark import SpeechRecognition

__all__ = ["SpeechRecognition"]
