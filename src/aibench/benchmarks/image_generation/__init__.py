"""DC-AI-C2 image generation (WGAN on LSUN bedrooms): in progress, not registered yet.

benchmark.py runs (tiny sessions on 1 and 2 ranks, LoadGen inference, characterize), but the small profile's
target is not calibrated (docs/calibration.md); to register it, import
`aibench.benchmarks.image_generation.benchmark` here.
"""
