"""Component benchmarks, one sub-package each. Importing this package registers every implemented one."""

from aibench.benchmarks import image_classification  # noqa: F401  DC-AI-C1
