"""DC-AI-C2 image generation: WGAN (MLP generator and critic) on LSUN bedrooms, critic EM estimate and patch SWD."""

from aibench.benchmarks.image_generation.benchmark import ImageGeneration

__all__ = ["ImageGeneration"]
