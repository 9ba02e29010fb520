"""DC-AI-C5 image-to-image: CycleGAN (ResNet generators, 70x70 PatchGAN), Cityscapes labels <-> photos, FCN score."""

from aibench.benchmarks.image_to_image.benchmark import ImageToImage

__all__ = ["ImageToImage"]
