"""DC-AI-C3 text-to-text translation: the Transformer on parallel text (WMT'14 En-De at full)."""

from aibench.benchmarks.translation.benchmark import Translation

__all__ = ["Translation"]
