"""DC-AI-C7 face embedding: FaceNet's triplet recipe on VGGFace2's folders, LFW verification."""

from aibench.benchmarks.face_embedding.benchmark import FaceEmbedding

__all__ = ["FaceEmbedding"]
