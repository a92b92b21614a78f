"""A live progress bar with rate and ETA on a terminal; plain lines anywhere else.

On a TTY the bar is redrawn in place (``\\r``); piped into a file or a CI
log, a line is printed only when the numbers change, so logs stay readable.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

_WIDTH = 30


def bar(done: int, total: int, width: int = _WIDTH) -> str:
    filled = width if total <= 0 else min(width, int(width * done / total))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes = f"{rest // 60:02d}:{rest % 60:02d}"
    return f"{hours}:{minutes}" if hours else minutes


class ProgressLine:
    """Draws ``label [####....] done/total unit, N events/s, ETA mm:ss``."""

    def __init__(
        self,
        stream: TextIO,
        *,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._tty = stream.isatty() if tty is None else tty
        self._clock = clock
        self._started = clock()
        self._first_events: int | None = None
        self._last_text = ""
        self._last_numbers: tuple[str, int, int, int] | None = None

    def update(
        self, label: str, done: int, total: int, events: int, *, eta_seconds: float | None = None
    ) -> str:
        elapsed = self._clock() - self._started
        if self._first_events is None:
            self._first_events = events
        rate = (events - self._first_events) / elapsed if elapsed > 0 else 0.0
        if eta_seconds is None and rate > 0 and 0 < done < total:
            eta_seconds = elapsed * (total - done) / done
        text = (
            f"{label} {bar(done, total)} {done}/{total} chunks, {events} events, "
            f"{rate:.0f} events/s, ETA {duration(eta_seconds)}"
        )
        if self._tty:
            self._stream.write("\r" + text.ljust(len(self._last_text)))
            self._stream.flush()
        elif (label, done, total, events) != self._last_numbers:
            self._stream.write(text + "\n")
        self._last_numbers = (label, done, total, events)
        self._last_text = text
        return text

    def finish(self) -> None:
        if self._tty and self._last_text:
            self._stream.write("\n")
            self._stream.flush()
