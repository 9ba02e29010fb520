"""DC-AI-C1 image classification: torchvision ResNet-50 on ImageNet, top-1 accuracy."""

from aibench.benchmarks.image_classification.benchmark import ImageClassification

__all__ = ["ImageClassification"]
