"""DC-AI-C6 speech recognition: DeepSpeech2 (conv + bidirectional RNN + CTC) on LibriSpeech-format speech."""
