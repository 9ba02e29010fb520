"""DC-AI-C9 object detection: torchvision Faster R-CNN ResNet-50-FPN on PASCAL VOC2007, VOC mAP@0.5."""

from aibench.benchmarks.object_detection.benchmark import ObjectDetection

__all__ = ["ObjectDetection"]
