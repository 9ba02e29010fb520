"""DC-AI-C16 learning to rank: ranking distillation with Caser models on Gowalla."""

from aibench.benchmarks.learning_to_rank.benchmark import LearningToRank

__all__ = ["LearningToRank"]
