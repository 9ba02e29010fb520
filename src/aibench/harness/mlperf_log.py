"""MLPerf-style `:::MLLOG` lines for one session, written with MLCommons' mlperf_logging.mllog."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from mlperf_logging.mllog import constants as C
from mlperf_logging.mllog import mllog

# Statuses a session's log can end with; the generated compliance rulesets accept exactly these. (A session
# process that dies is `crashed` in its result; the parent closes its log with `error`.)
RUN_STATUSES = ("success", "target_not_reached", "completed", "diverged", "timeout", "aborted", "error")


class SessionLog:
    """Owns one log file. mllog's shared default logger prints to stdout, which the harness reserves for
    progress events, so every session gets a private file-only logger."""

    def __init__(self, path: Path, mode: str = "w") -> None:
        self._logger = logging.getLogger(f"aibench.mllog.{path}")
        self._logger.propagate = False
        self._logger.setLevel(logging.INFO)
        self._handler = logging.FileHandler(path, mode=mode, encoding="utf-8")
        self._logger.addHandler(self._handler)
        self._ml = mllog.MLLogger(logger=self._logger, default_stack_offset=2)

    def event(self, key: str, value: Any = None, **metadata: Any) -> None:
        self._ml.event(key=key, value=value, metadata=metadata or None)
        self._handler.flush()

    def start(self, key: str, value: Any = None, **metadata: Any) -> None:
        self._ml.start(key=key, value=value, metadata=metadata or None)
        self._handler.flush()

    def end(self, key: str, value: Any = None, **metadata: Any) -> None:
        self._ml.end(key=key, value=value, metadata=metadata or None)
        self._handler.flush()

    def close(self) -> None:
        self._handler.close()
        self._logger.removeHandler(self._handler)


__all__ = ["SessionLog", "RUN_STATUSES", "C"]
