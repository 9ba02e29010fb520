"""DC-AI-C3 text-to-text translation: the Transformer on parallel text (WMT'14 En-De at full).

Not registered yet: the benchmark class is written (benchmark.py) but its small profile is not calibrated and
the registry-parametrized tests have not run on it.
"""
