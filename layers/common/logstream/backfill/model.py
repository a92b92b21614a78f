"""The backfill vocabulary: errors, job and chunk statuses, and what reads report.

Plain values only; the stores build them from state-table items and the
worker fills in a :class:`WorkReport`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from logstream.errors import InputError, NotFoundError

#: How much of a rejected value an error message quotes: hostile input can be megabytes.
_QUOTED_CHARS: Final = 80


def quoted(value: object) -> str:
    """``repr(value)``, cut short enough to put in an error message."""
    text = repr(value)
    return text if len(text) <= _QUOTED_CHARS else text[: _QUOTED_CHARS - 3] + "..."


class BackfillInputError(InputError):
    """The request cannot be planned as asked; the message says why."""


class JobNotFound(NotFoundError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"backfill job {quoted(job_id)} does not exist; `list` shows the jobs")


class JobStatus(StrEnum):
    ACTIVE = "active"
    DONE = "done"
    CANCELLED = "cancelled"


class ChunkStatus(StrEnum):
    PENDING = "pending"
    LEASED = "leased"
    DONE = "done"


@dataclass(slots=True)
class Chunk:
    """One group's half-open time window of a job, as last read from the state table."""

    job_id: str
    number: int
    log_group: str
    account: str
    start_ms: int
    end_ms: int
    status: str
    next_token: str | None
    events: int


@dataclass(slots=True)
class JobView:
    """A job's progress as an operator reads it."""

    job_id: str
    status: str
    log_groups: list[str]
    start: str
    end: str
    chunks_total: int
    chunks_done: int
    events_shipped: int
    quarantined: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    eta_seconds: int | None
    warnings: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(slots=True)
class WorkReport:
    """What one worker invocation did."""

    worker: str
    chunks_completed: list[str] = field(default_factory=list)
    chunks_touched: list[str] = field(default_factory=list)
    pages: int = 0
    events: int = 0
    delivered: int = 0
    duplicates: int = 0
    quarantined: int = 0
    stopped_before_deadline: bool = False
    lost_leases: int = 0
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        result = {name: getattr(self, name) for name in self.__slots__}
        result["events_per_second"] = round(self.events_per_second, 1)
        return result
