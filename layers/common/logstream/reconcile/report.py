"""What a reconciliation finds and reports: gaps, unexpected documents, one range's
outcome, one group's report, one run's report, and the failure that ends a run."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Final

from botocore.exceptions import ClientError

from logstream.errors import InfrastructureError
from logstream.reconcile.window import Window
from logstream.times import iso

#: Per gap, how many event ids a report names (the count is always exact).
GAP_ID_SAMPLE: Final = 10
#: At most this many gaps are stored per report (DynamoDB items are <= 400 KB).
REPORT_MAX_GAPS: Final = 200


@dataclass(slots=True)
class Gap:
    """A run of consecutive CloudWatch events (in time order) that the index lacked."""

    start_ms: int  # timestamp of the first missing event
    end_ms: int  # timestamp of the last missing event + 1 (half-open)
    missing: int
    event_ids: list[str] = field(default_factory=list)  # the first GAP_ID_SAMPLE ids
    still_missing: int = 0  # not in the index after repair (parked ones included)
    # Internal: whether the run touched the fetched range's first / last event,
    # so runs split by a range boundary can be joined into one gap.
    open_left: bool = False
    open_right: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": iso(self.start_ms),
            "end": iso(self.end_ms),
            "start_ms": self.start_ms,
            "end_ms": self.end_ms,
            "missing": self.missing,
            "still_missing": self.still_missing,
            "event_ids": self.event_ids,
        }


@dataclass(slots=True)
class Unexpected:
    """Documents of the group in the index for which CloudWatch holds no event."""

    window: Window
    count: int
    doc_ids: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": iso(self.window.start),
            "end": iso(self.window.end),
            "count": self.count,
            "doc_ids": self.doc_ids,
        }


@dataclass(slots=True)
class RangeOutcome:
    """What :class:`~logstream.reconcile.range_check.RangeCheck` established about
    one range of one group."""

    span: Window
    #: Everything in ``[span.start, proven_through)`` is proven in the index.
    proven_through: int
    windows_checked: int = 0
    count_queries: int = 0  # source-side count requests (chunks + refinements)
    refinements: int = 0
    ranges_fetched: int = 0
    events_fetched: int = 0
    events_in_source: int = 0  # per the top-level counts
    events_in_index: int = 0
    stale_counts: int = 0  # fetched ranges where the counts disagreed but nothing was missing
    gaps: list[Gap] = field(default_factory=list)
    events_missing: int = 0
    events_reshipped: int = 0
    events_duplicate: int = 0
    events_parked: int = 0
    events_still_missing: int = 0
    unexpected: list[Unexpected] = field(default_factory=list)
    unexpected_documents: int = 0
    stopped: str | None = None  # why the check ended before the span did
    repair_errors: list[str] = field(default_factory=list)


class Status(StrEnum):
    CLEAN = "clean"  # checked, nothing missing
    REPAIRED = "repaired"  # gaps found, all of them closed
    GAPS_OPEN = "gaps_open"  # events still missing after repair (alarm)
    INCOMPLETE = "incomplete"  # the deadline came first; the next run continues
    UP_TO_DATE = "up_to_date"  # nothing old enough to check yet
    GROUP_MISSING = "group_missing"  # the log group does not exist (any more)
    FAILED = "failed"  # infrastructure: OpenSearch, CloudWatch throttling, DynamoDB


#: Statuses caused by infrastructure: the invocation fails so the Errors alarm fires.
INFRASTRUCTURE_FAILURES: Final = frozenset({Status.FAILED})

#: RangeOutcome counters a GroupReport copies as they are.
_COPIED: Final = (
    "windows_checked",
    "count_queries",
    "refinements",
    "ranges_fetched",
    "events_fetched",
    "events_in_source",
    "events_in_index",
    "stale_counts",
    "events_missing",
    "events_reshipped",
    "events_duplicate",
    "events_parked",
    "events_still_missing",
    "unexpected_documents",
)


def status_of(outcome: RangeOutcome) -> Status:
    """The status of a group whose range check ran to its end (no exception)."""
    if outcome.events_still_missing:
        return Status.GAPS_OPEN
    if outcome.stopped:
        return Status.INCOMPLETE
    return Status.REPAIRED if outcome.events_missing else Status.CLEAN


def describe_error(error: BaseException) -> str:
    """An error as a report names it (AWS errors by code and message)."""
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        return f"{detail.get('Code', 'ClientError')}: {detail.get('Message', '')}"
    return f"{type(error).__name__}: {error}"


@dataclass(slots=True)
class GroupReport:
    """What one reconciliation of one log group did (stored, printed, returned)."""

    log_group: str
    run_started: str
    status: Status
    start_ms: int | None = None
    end_ms: int | None = None
    watermark_before: int | None = None
    watermark_after: int | None = None
    proven_through: int | None = None
    manual: bool = False
    windows_checked: int = 0
    count_queries: int = 0
    refinements: int = 0
    ranges_fetched: int = 0
    events_fetched: int = 0
    events_in_source: int = 0
    events_in_index: int = 0
    stale_counts: int = 0
    insights_fallbacks: int = 0
    api_calls: dict[str, int] = field(default_factory=dict)
    gaps_found: int = 0
    gaps: list[dict[str, Any]] = field(default_factory=list)
    events_missing: int = 0
    events_reshipped: int = 0
    events_duplicate: int = 0
    events_parked: int = 0
    events_still_missing: int = 0
    unexpected_documents: int = 0
    unexpected: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def cloudwatch_calls(self) -> int:
        """CloudWatch API calls made, throttled retries included (``*.throttled`` are not extra)."""
        return sum(n for kind, n in self.api_calls.items() if not kind.endswith(".throttled"))

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["cloudwatch_calls"] = self.cloudwatch_calls
        for name in ("start_ms", "end_ms", "watermark_before", "watermark_after", "proven_through"):
            value = data[name]
            data[name.removesuffix("_ms") + "_iso"] = iso(value) if value is not None else None
        return data

    def absorb(self, outcome: RangeOutcome) -> None:
        self.proven_through = outcome.proven_through
        for name in _COPIED:
            setattr(self, name, getattr(outcome, name))
        self.gaps_found = len(outcome.gaps)
        self.gaps = [gap.as_dict() for gap in outcome.gaps[:REPORT_MAX_GAPS]]
        if len(outcome.gaps) > REPORT_MAX_GAPS:
            self.notes.append(f"{len(outcome.gaps) - REPORT_MAX_GAPS} more gaps not listed")
        self.unexpected = [u.as_dict() for u in outcome.unexpected[:REPORT_MAX_GAPS]]
        self.notes += [f"repair: {e}" for e in outcome.repair_errors[:5]]


@dataclass(slots=True)
class RunReport:
    """One invocation (or CLI run): a report per group."""

    run_started: str
    groups: list[GroupReport] = field(default_factory=list)
    #: A scheduled run's place in the fair walk (see reconcile/fair.py); None for manual runs.
    progress: dict[str, Any] | None = None

    @property
    def failed(self) -> list[GroupReport]:
        return [g for g in self.groups if g.status in INFRASTRUCTURE_FAILURES]

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_started": self.run_started,
            "groups": [g.as_dict() for g in self.groups],
            "failed_groups": [g.log_group for g in self.failed],
            "events_reshipped": sum(g.events_reshipped for g in self.groups),
            "events_still_missing": sum(g.events_still_missing for g in self.groups),
            "cloudwatch_calls": sum(g.cloudwatch_calls for g in self.groups),
            **({"progress": self.progress} if self.progress is not None else {}),
        }


class ReconcileFailed(InfrastructureError):
    """Some groups could not be reconciled for an infrastructure reason (after all were tried)."""

    def __init__(self, report: RunReport) -> None:
        self.report = report
        details = "; ".join(f"{g.log_group}: {g.error}" for g in report.failed)
        super().__init__(
            f"reconciliation failed for {len(report.failed)} of {len(report.groups)} "
            f"log groups, watermarks left unchanged ({details})"
        )
