"""Test setup: embedded data goes to a throwaway cache, and every process (child sessions too) registers the
test-only benchmarks of tests/plugins under their reserved TEST-* ids.

What runs per registered benchmark (parametrized over the registry, so a new benchmark is tested by being
registered) is kept to what only that benchmark can get wrong, at the tiny profile: one tiny session (all of them
in one `aibench run`, test_sessions.py), its log through MLCommons' checker, FLOP counting, inference outputs
against evaluate(), and its baselines on the small data (test_registry.py). Everything about the harness itself
(faults, isolation, the contract, LoadGen, profiling) runs once, on the TEST-* benchmarks. `-m "not slow"` skips
what trains or generates data.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

# Set before anything imports aibench, so child processes inherit them.
os.environ.setdefault("AIBENCH_DATA_CACHE", tempfile.mkdtemp(prefix="aibench-test-data-"))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS / "plugins"), os.environ.get("PYTHONPATH")]))
os.environ["AIBENCH_THREADS"] = os.environ.get("AIBENCH_THREADS", "2")
os.environ["AIBENCH_PLUGINS"] = "fault_benchmarks,inference_fake"
sys.path.insert(0, str(TESTS / "plugins"))
