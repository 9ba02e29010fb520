"""DC-AI-C13 3D object reconstruction: the perspective transformer network (PTN) on ShapeNet-style renderings."""

from aibench.benchmarks.object_reconstruction_3d.benchmark import ObjectReconstruction3D

__all__ = ["ObjectReconstruction3D"]
