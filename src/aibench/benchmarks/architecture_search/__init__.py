"""DC-AI-C17 neural architecture search: ENAS (Pham et al. 2018) recurrent-cell search on Penn Treebank."""

from aibench.benchmarks.architecture_search.benchmark import ArchitectureSearch

__all__ = ["ArchitectureSearch"]
