"""DC-AI-C11 video prediction: CDNA (Finn et al. 2016) on robot pushing or Moving MNIST, error per predicted frame."""

from aibench.benchmarks.video_prediction.benchmark import VideoPrediction

__all__ = ["VideoPrediction"]
