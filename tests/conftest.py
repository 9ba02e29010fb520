"""Test setup: embedded data goes to a throwaway cache, and every process (child sessions too) registers the
test-only benchmarks of tests/plugins under their reserved TEST-* ids."""

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
