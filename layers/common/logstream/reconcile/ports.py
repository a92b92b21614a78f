"""The ports reconciliation runs over: the two sides it counts, the fetcher, the
repairer, the state store, and the errors they raise.

The narrowing (:mod:`logstream.reconcile.range_check`) is pure over these
protocols; the real adapters are :mod:`~logstream.reconcile.source_counts`,
:mod:`~logstream.reconcile.index_counts`, :mod:`~logstream.reconcile.repair`
and :mod:`~logstream.reconcile.store`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from logstream.aws.cloudwatch import CloudWatchSource
from logstream.errors import InfrastructureError
from logstream.retry import Deadline

if TYPE_CHECKING:
    from logstream.reconcile.report import GroupReport
    from logstream.reconcile.window import Window


class SourceCounter(Protocol):
    """Counts CloudWatch events per ``step_ms`` bucket of a window."""

    def counts(
        self, log_group: str, window: Window, step_ms: int, deadline: Deadline
    ) -> dict[int, int]:
        """Bucket start (a multiple of ``step_ms``, clipped to the window) -> events."""
        ...


class EventFetcher(Protocol):
    """Reads every CloudWatch event of a window (FilterLogEvents: the source of truth)."""

    def events(self, log_group: str, window: Window, deadline: Deadline) -> list[dict[str, Any]]:
        """Events in the shape the document builder takes (``id``, ``timestamp``...)."""
        ...


class IndexCounter(Protocol):
    """The index side, always filtered on the exact ``log_group`` field."""

    def counts(self, log_group: str, window: Window, step_ms: int) -> dict[int, int]: ...

    def ids(self, log_group: str, window: Window) -> set[str]:
        """The ``_id`` of every document of the group in the window."""
        ...

    def refresh(self, log_group: str) -> None:
        """Make documents written so far visible to :meth:`counts` and :meth:`ids`."""
        ...


@dataclass(slots=True)
class RepairResult:
    delivered: int = 0
    duplicates: int = 0
    parked: int = 0  # refused by the cluster and parked in quarantine
    undelivered: int = 0
    error: str | None = None


class Repairer(Protocol):
    def reship(
        self, log_group: str, events: list[dict[str, Any]], deadline: Deadline
    ) -> RepairResult: ...


class ReconcileState(Protocol):
    """Reconciled-through watermarks and stored reports."""

    def watermark(self, log_group: str) -> int | None: ...

    def advance(self, log_group: str, to_ms: int, *, from_ms: int | None = None) -> bool:
        """Move the watermark forward to ``to_ms``. With ``from_ms`` (a manual
        range), only if the watermark exists and already reaches ``from_ms``."""
        ...

    def save_report(self, report: GroupReport) -> None: ...


class CountingSource(CloudWatchSource, Protocol):
    """A CloudWatch source that counts its API calls by kind."""

    calls: Counter[str]


class IndexUnavailable(InfrastructureError):
    """The cluster could not be queried; the watermark must stay where it is."""


class CountsUnavailable(InfrastructureError):
    """A source counter could not answer (Insights failed or timed out)."""


class CountingOutOfTime(Exception):
    """A source counter stopped between pages: the deadline's reserve was reached.

    Not a failure: the narrowing turns it into its "out of time" stop, and the
    run keeps what it proved so far.
    """
