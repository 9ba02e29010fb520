"""Live progress of sessions: a rich display on a terminal, plain lines otherwise (logs, CI, pipes)."""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Any, Protocol

from rich.console import Console
from rich.live import Live
from rich.text import Text

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe_text(value: object) -> str:
    """Text from a result file or a benchmark, fit to print: ANSI escapes and control characters removed.
    (Consoles are made with markup off, so `[blink red]` is printed as written, not interpreted.)"""
    return _CONTROL.sub("", _ANSI.sub("", str(value)))


def make_console(width: int | None = None, **kwargs: Any) -> Console:
    """A console that never interprets rich markup or highlights: what it prints comes from results."""
    if width is None and not sys.stdout.isatty():
        # off a terminal rich would wrap tables to 80 columns; a wide table stays readable
        width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else 180
    return Console(width=width, markup=False, highlight=False, emoji=False, **kwargs)


class Display(Protocol):
    def message(self, text: str) -> None: ...
    def session_started(self, label: str) -> None: ...
    def event(self, event: dict[str, Any]) -> None: ...
    def session_finished(self, result: dict[str, Any]) -> None: ...
    def close(self) -> None: ...


def _fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    return (
        f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
    )


def describe_progress(event: dict[str, Any], metric: str | None) -> str:
    """One line: phase, epoch and step, loss, last quality, elapsed and an upper-bound ETA."""
    phase, epoch, max_epochs = event.get("phase"), event.get("epoch", 0), event.get("max_epochs", 0)
    parts = []
    if phase == "prelude":
        parts.append(f"prelude step {event.get('step')}")
    else:
        steps = event.get("steps")
        step = f" step {event['step']}/{steps}" if steps else (f" step {event['step']}" if event.get("step") else "")
        parts.append(f"{'eval ' if phase == 'eval' else ''}epoch {epoch}/{max_epochs}{step}")
    losses = event.get("losses") or {}
    if len(losses) == 1:
        parts.append(f"loss {next(iter(losses.values())):.4g}")
    elif losses:
        parts.append(" ".join(f"{name} {value:.4g}" for name, value in losses.items()))
    if event.get("quality") is not None:
        parts.append(f"{metric or 'quality'} {event['quality']:.4g}")
    elapsed = event.get("elapsed_s")
    parts.append(f"elapsed {_fmt_s(elapsed)}")
    steps = event.get("steps")
    if phase == "train" and epoch and max_epochs and elapsed:
        done = (epoch - 1) + (event.get("step", 0) / steps if steps else 0)
        if done > 0:  # remaining epochs at the pace so far, if the target is never reached
            parts.append(f"ETA <= {_fmt_s(elapsed / done * (max_epochs - done))}")
    return " | ".join(parts)


class PlainDisplay:
    """Line-per-update output, throttled so a log file stays readable."""

    def __init__(self, stream: Any = None, interval_s: float = 15.0) -> None:
        self.stream = stream or sys.stdout
        self.interval_s = interval_s
        self.label = ""
        self.metric: str | None = None
        self._last = 0.0

    def _print(self, text: str) -> None:
        print(safe_text(text), file=self.stream, flush=True)

    def message(self, text: str) -> None:
        self._print(text)

    def session_started(self, label: str) -> None:
        self.label, self._last = label, 0.0
        self._print(f"[{label}] started")

    def event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "eval":
            self.metric = event.get("metric")
            self._print(
                f"[{self.label}] epoch {event['epoch']}: {self.metric} = {event['value']:.4f} "
                f"(elapsed {_fmt_s(event['elapsed_s'])})"
            )
        elif event.get("type") == "progress" and time.monotonic() - self._last >= self.interval_s:
            self._last = time.monotonic()
            self._print(f"[{self.label}] {describe_progress(event, self.metric)}")

    def session_finished(self, result: dict[str, Any]) -> None:
        m = result["metrics"]
        ttq = f", time to quality {m['time_to_quality_s']:.1f} s" if m.get("time_to_quality_s") else ""
        self._print(
            f"[{self.label}] {result['status']}{ttq}"
            + (f": {result['error'].splitlines()[0]}" if result.get("error") else "")
        )

    def close(self) -> None:
        pass


class RichDisplay(PlainDisplay):
    """A live status line under the finished sessions' lines."""

    def __init__(self, console: Console | None = None) -> None:
        super().__init__(interval_s=0)
        self.console = console or make_console()
        self.live = Live(Text(""), console=self.console, refresh_per_second=4, transient=True)
        self.live.start()

    def _print(self, text: str) -> None:
        self.console.print(safe_text(text))

    def event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "eval":
            super().event(event)
        elif event.get("type") == "progress":
            self.live.update(Text(safe_text(f"[{self.label}] {describe_progress(event, self.metric)}"), style="cyan"))

    def session_finished(self, result: dict[str, Any]) -> None:
        self.live.update(Text(""))
        super().session_finished(result)

    def close(self) -> None:
        self.live.stop()


def make_display() -> Display:
    return RichDisplay() if sys.stdout.isatty() else PlainDisplay()
