"""DC-AI-C4 image captioning: Neural Image Caption (ResNet-152 encoder, LSTM decoder), COCO 2014 captions layout."""

from aibench.benchmarks.image_captioning.benchmark import ImageCaptioning

__all__ = ["ImageCaptioning"]
