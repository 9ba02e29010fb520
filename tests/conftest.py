"""Test setup: embedded data goes to a throwaway cache, and child sessions can import the fault plugins."""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent

# Set before anything imports aibench, so child processes inherit them.
os.environ.setdefault("AIBENCH_DATA_CACHE", tempfile.mkdtemp(prefix="aibench-test-data-"))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(TESTS / "plugins"), os.environ.get("PYTHONPATH")]))
os.environ["AIBENCH_THREADS"] = os.environ.get("AIBENCH_THREADS", "2")
sys.path.insert(0, str(TESTS / "plugins"))


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the fault-injecting test benchmarks here and in child sessions."""
    import aibench.registry as registry

    monkeypatch.setenv("AIBENCH_PLUGINS", "fault_benchmarks")
    registry._load_implementations()
    import fault_benchmarks

    importlib.reload(fault_benchmarks)  # registers on (re-)import
    yield
    for bench_id in fault_benchmarks.IDS:
        registry._IMPLEMENTATIONS.pop(bench_id, None)
