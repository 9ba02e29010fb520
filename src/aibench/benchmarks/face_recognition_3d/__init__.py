"""DC-AI-C8 RGB-D face recognition: torchvision's ResNet-50 with a 4-channel stem on our `rgbd_faces/` layout."""

from aibench.benchmarks.face_recognition_3d.benchmark import RgbdFaceRecognition

__all__ = ["RgbdFaceRecognition"]
