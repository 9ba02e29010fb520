"""DC-AI-C10 recommendation: Neural Collaborative Filtering (NeuMF = GMF + MLP) on MovieLens."""

from aibench.benchmarks.recommendation.benchmark import Recommendation

__all__ = ["Recommendation"]
