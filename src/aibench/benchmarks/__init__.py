"""Component benchmarks, one sub-package each. Importing a sub-package registers its benchmark; the registry
imports them through the `aibench.benchmarks` entry points declared in pyproject.toml."""
