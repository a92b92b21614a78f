"""Time budgets and backoff: pure arithmetic shared by the cluster and CloudWatch clients."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class Deadline:
    """The time an invocation may still spend, less a safety margin.

    Built from the Lambda context (``get_remaining_time_in_millis``) or from a
    plain number of seconds for scripts and tests.
    """

    def __init__(self, remaining_ms: Callable[[], int], margin_ms: int = 0) -> None:
        self._remaining_ms = remaining_ms
        self._margin_ms = margin_ms

    @classmethod
    def after_seconds(cls, seconds: float, margin_ms: int = 0) -> Deadline:
        end = time.monotonic() + seconds
        return cls(lambda: int((end - time.monotonic()) * 1000), margin_ms)

    @classmethod
    def from_lambda_context(cls, context: object, margin_ms: int) -> Deadline:
        remaining: Callable[[], int] = context.get_remaining_time_in_millis  # type: ignore[attr-defined]
        return cls(remaining, margin_ms)

    def remaining(self) -> float:
        """Seconds left before the margin is reached (never negative)."""
        return max(0.0, (self._remaining_ms() - self._margin_ms) / 1000)

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    def slice(self, seconds: float) -> Deadline:
        """A deadline ``seconds`` from now (or this one, if sooner), counted on this
        deadline's own clock: a scripted countdown scripts its slices too."""
        floor = self.remaining() - seconds
        return Deadline(lambda: int((self.remaining() - floor) * 1000))


@dataclass(slots=True)
class Backoff:
    """Exponential backoff with full jitter: sleep ~ U(0, min(max, base * 2**attempt))."""

    base_ms: int
    max_ms: int
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        ceiling = min(self.max_ms, self.base_ms * (2 ** min(attempt, 30)))
        return self.rng.uniform(0, ceiling) / 1000

    def wait(self, attempt: int, deadline: Deadline, reserve: float = 0.0) -> bool:
        """Sleep before a retry if the deadline leaves room for it and ``reserve`` seconds more.

        Returns False, without sleeping, when there is no time for another try.
        """
        pause = self.delay(attempt)
        if deadline.remaining() < pause + reserve:
            return False
        self.sleep(pause)
        return True
