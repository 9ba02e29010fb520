"""DC-AI-C4 image captioning: Neural Image Caption (ResNet-152 encoder, LSTM decoder), COCO 2014 captions layout.

Not registered yet: the benchmark class (benchmark.py) runs a tiny session, but the registry-parametrized tests
and the three-seed calibration have not been run on it.
"""
