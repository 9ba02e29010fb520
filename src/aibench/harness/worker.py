"""Child-process entry point: `python -m aibench.harness.worker SESSION_CONFIG.json`.

stdout carries JSON-lines events to the parent; anything else the process prints is moved to stderr,
which the parent saves as the session's stderr.log.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from aibench.harness.config import SessionConfig, threads_from_env
from aibench.harness.parent_watch import stop_with_parent


def _stop_with_parent() -> None:
    """SIGTERM this process when its parent (`aibench run`, or torchrun) dies, even by SIGKILL, so no session
    is orphaned; and treat SIGTERM like Ctrl-C, so the session records `aborted` and closes its log."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, handler)
    parent = os.environ.get("AIBENCH_PARENT_PID")
    under_torchrun = "TORCHELASTIC_RUN_ID" in os.environ  # then the parent is torchrun, which watches aibench
    stop_with_parent(int(parent) if parent and not under_torchrun else None)


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
        except BrokenPipeError:  # the parent stopped reading: the session goes on and writes its result
            parent_gone = True

    cfg = SessionConfig.from_json(Path(argv[0]).read_text())
    if threads := threads_from_env():
        import torch

        torch.set_num_threads(threads)
    from aibench.harness.session import ENDED_TOGETHER, run_session

    result = run_session(cfg, emit)
    emit({"type": "done", "status": result["status"]})
    # Under torchrun a rank whose session ended alone must exit non-zero: torchrun then ends the other ranks,
    # which would otherwise wait for it in a collective.
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    code = 3 if distributed and result["status"] not in ENDED_TOGETHER else 0
    if distributed and code == 0:
        # The session ended together and every file is written and closed. Leave without running C++ static
        # destructors: now and then (about 1 exit in 10 here) a torch.distributed thread is still joinable when
        # they run, and std::terminate aborts the rank ("terminate called without an active exception"), which
        # torchrun reports as a crash of a session that succeeded. A rank that failed exits normally: its slower
        # exit lets torchrun see first the rank whose failure caused it (a killed peer), the root cause it names.
        for stream in (events, sys.stderr, sys.__stderr__):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
