"""DC-AI-C15 spatial transformer: STN (localisation net, affine grid, bilinear sampler) on MNIST, accuracy."""

from aibench.benchmarks.spatial_transformer.benchmark import SpatialTransformer

__all__ = ["SpatialTransformer"]
