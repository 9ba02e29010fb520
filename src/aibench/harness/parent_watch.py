"""Children of `aibench run` end when it ends, even when it is SIGKILLed (Linux): no session is orphaned.

`stop_with_parent()` asks the kernel to send this process SIGTERM when its parent dies (PR_SET_PDEATHSIG) and
closes the race where the parent died first. `python -m aibench.harness.parent_watch CMD ...` does that and then
execs CMD: how the runner starts torchrun, whose own children (the ranks) watch torchrun the same way.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def stop_with_parent(expected_parent: int | None = None) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the parent's own signal handlers still forward signals
        return
    if expected_parent is not None and os.getppid() != expected_parent:
        raise SystemExit("aibench run is gone; not starting")


def main(argv: list[str]) -> None:
    parent = os.environ.get("AIBENCH_PARENT_PID")
    stop_with_parent(int(parent) if parent else None)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
