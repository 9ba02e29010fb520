"""DC-AI-C12 image compression (recurrent encoder/binarizer/decoder): in progress, not registered yet.

`benchmark.py` implements it (tiny, two-rank, infer and characterize work), but the small profile is not
calibrated (docs/calibration.md): importing `ImageCompression` here would register it.
"""
