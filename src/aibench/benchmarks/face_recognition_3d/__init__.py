"""DC-AI-C8 RGB-D face recognition: in progress, not registered yet.

`benchmark.py` implements it (torchvision ResNet-50 with a 4-channel stem on `rgbd_faces/`), but the small
profile is not calibrated (docs/calibration.md): importing `RgbdFaceRecognition` here would register it.
"""
