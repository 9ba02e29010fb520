"""Child-process entry point: `python -m aibench.harness.worker SESSION_CONFIG.json`.

stdout carries JSON-lines events to the parent; anything else the process prints is moved to stderr,
which the parent saves as the session's stderr.log.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from aibench.harness.config import SessionConfig, threads_from_env

PR_SET_PDEATHSIG = 1


def _stop_with_parent() -> None:
    """SIGTERM this process when `aibench run` dies, even by SIGKILL (Linux), so no session is orphaned; and
    treat SIGTERM like Ctrl-C, so the session records `aborted` and closes its log."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handler)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the parent's own SIGTERM handler still forwards the signal
        pass
    parent = os.environ.get("AIBENCH_PARENT_PID")
    if parent and os.getppid() != int(parent):   # the parent died before prctl took effect
        raise SystemExit("aibench run is gone; not starting the session")


def main(argv: list[str]) -> int:
    _stop_with_parent()
    events = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # stray prints from libraries must not corrupt the event stream
    sys.stdout = sys.stderr
    parent_gone = False

    def emit(event: dict[str, Any]) -> None:
        nonlocal parent_gone
        if parent_gone:
            return
        try:
            events.write(json.dumps(event, default=str) + "\n")
        except BrokenPipeError:   # the parent stopped reading: the session goes on and writes its result
            parent_gone = True

    cfg = SessionConfig.from_json(Path(argv[0]).read_text())
    if threads := threads_from_env():
        import torch

        torch.set_num_threads(threads)
    from aibench.harness.session import run_session

    result = run_session(cfg, emit)
    emit({"type": "done", "status": result["status"]})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
