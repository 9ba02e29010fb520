"""Component benchmarks, one sub-package each. Importing this package registers every implemented one."""

from aibench.benchmarks import image_classification  # noqa: F401  DC-AI-C1
from aibench.benchmarks import object_detection  # noqa: F401  DC-AI-C9
from aibench.benchmarks import learning_to_rank  # noqa: F401  DC-AI-C16
