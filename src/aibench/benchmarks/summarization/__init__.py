"""DC-AI-C14 text summarization: an attentional seq2seq RNN (Nallapati et al. 2016) writing Gigaword headlines."""

from aibench.benchmarks.summarization.benchmark import Summarization

__all__ = ["Summarization"]
