"""AIBench Training: component AI benchmarks measured as MLPerf-style training sessions."""

__version__ = "0.1.0"
