"""Child-process entry point: `python -m aibench.harness.worker SESSION_CONFIG.json`.

stdout carries JSON-lines events to the parent; anything else the process prints is moved to stderr,
which the parent saves as the session's stderr.log.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from aibench.harness.config import SessionConfig, threads_from_env


def main(argv: list[str]) -> int:
    events = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # stray prints from libraries must not corrupt the event stream
    sys.stdout = sys.stderr

    def emit(event: dict[str, Any]) -> None:
        events.write(json.dumps(event, default=str) + "\n")

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
