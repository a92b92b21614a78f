"""Time windows and the tuning of the narrowing: what "a window" and "a step" mean."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from logstream.times import iso

SECOND_MS: Final = 1_000
DAY_MS: Final = 86_400_000
#: Bucket steps, coarsest first: 5 min at the top, then 10 s, then 1 s (Insights'
#: ``bin()`` is second-granular, so 1 s is the finest step both sides can count).
DEFAULT_STEPS_MS: Final = (300_000, 10_000, 1_000)


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """A half-open time window ``[start, end)`` in epoch milliseconds."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"empty window [{self.start}, {self.end})")

    def split(self, step_ms: int) -> list[Window]:
        """The window cut at multiples of ``step_ms`` (epoch-aligned, like ``bin()``)."""
        cuts = range((self.start // step_ms + 1) * step_ms, self.end, step_ms)
        edges = [self.start, *cuts, self.end]
        return [Window(a, b) for a, b in itertools.pairwise(edges)]

    def contains(self, timestamp_ms: int) -> bool:
        return self.start <= timestamp_ms < self.end

    def describe(self) -> str:
        return f"[{iso(self.start)}, {iso(self.end)})"


@dataclass(frozen=True, slots=True)
class Tuning:
    steps_ms: Sequence[int] = DEFAULT_STEPS_MS
    chunk_ms: int = DAY_MS
    #: A mismatched window with at most this many CloudWatch events is fetched, not refined.
    leaf_events: int = 5_000
    #: Adjacent leaves are fetched together up to this many events.
    merge_events: int = 50_000
    #: Seconds of deadline kept back before starting another query or fetch.
    reserve_secs: float = 5.0

    def __post_init__(self) -> None:
        steps = list(self.steps_ms)
        if not steps or any(s % SECOND_MS or s <= 0 for s in steps):
            raise ValueError("steps must be positive whole seconds")
        if any(a % b for a, b in itertools.pairwise(steps)) or steps != sorted(steps, reverse=True):
            raise ValueError("each step must divide the one before it")
        if self.chunk_ms % steps[0]:
            raise ValueError("chunk_ms must be a multiple of the coarsest step")

    def align(self, span: Window) -> Window | None:
        """``span`` shrunk to whole coarsest steps (start rounded up, end down)."""
        top = self.steps_ms[0]
        start = -(-span.start // top) * top
        end = span.end // top * top
        return Window(start, end) if end > start else None


#: The tuning every run uses unless a test or an operator chooses another.
DEFAULT_TUNING: Final = Tuning()
