"""Reconciliation: prove that the index holds every CloudWatch event, and re-ship what it lacks.

The argument rests on two facts of the shipping path: every document's ``_id``
is its CloudWatch event id, and every write is a ``create``. So, per log group
and time window, the index can never hold more of CloudWatch's events than
CloudWatch does, and **equal counts prove the window complete**. Counting is
cheap on both sides (Logs Insights ``stats count(*) by bin()``; an OpenSearch
``date_histogram`` filtered on ``log_group``), so only windows whose counts
differ are looked at more closely.

The algorithm (:class:`RangeCheck`), a pure function of four small protocols:

1. Cut the range into chunks of at most one day. Per chunk, one count query
   on each side, bucketed by the coarsest step (5 minutes).
2. A bucket whose counts differ is *refined*: its children at the next step
   (10 s, then 1 s) are counted with one query per side, and only the children
   that differ are followed. A window becomes a *leaf* when CloudWatch holds
   at most ``leaf_events`` events in it, when at least half of it is missing
   (refining cannot halve the work any more), or at the finest step.
3. Adjacent leaves are merged (up to ``merge_events``) and each merged range is
   fetched with FilterLogEvents, the source of truth. Its event ids are
   compared with the ids the index holds for the group in that range;
   exactly the missing events are re-shipped (``create``; a 409 is fine), then
   the range is counted again. Documents in the index that CloudWatch does not
   hold are reported and never deleted.
4. The range is proven up to the start of the first window that could not be
   proven (a gap still open, a deadline); the caller advances the group's
   watermark only that far.

Cost (see docs/reconciliation.md): a clean chunk costs one count query per
side, whatever the number of events; each gap (maximal run of consecutive
missing events) adds at most ``2 (L - 1)`` refinement queries for ``L``
levels, and one FilterLogEvents range fetch shared by adjacent gaps.

:class:`Reconciler` adds what the algorithm leaves out: which log groups, from
where to where (the watermark and settle lag), re-shipping through the one
:class:`~logstream.shipping.Shipper`, reports, metrics and failure handling.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Protocol

import orjson
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from logstream.aws.cloudwatch import (
    CloudWatchSource,
    LogGroupInfo,
    LogGroupNotFound,
    SourceThrottled,
)
from logstream.observability import Metric, count, logger, record
from logstream.retry import Deadline
from logstream.shipping.documents import EventOrigin
from logstream.shipping.service import DeliveryIncomplete, Shipper
from logstream.times import iso, parse_time

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

SECOND_MS: Final = 1_000
DAY_MS: Final = 86_400_000
#: Bucket steps, coarsest first: 5 min at the top, then 10 s, then 1 s (Insights'
#: ``bin()`` is second-granular, so 1 s is the finest step both sides can count).
DEFAULT_STEPS_MS: Final = (300_000, 10_000, 1_000)
#: Reports live 30 days (DynamoDB TTL on ``expires_at``).
REPORT_TTL_SECS: Final = 30 * 86_400
#: Per gap, how many event ids a report names (the count is always exact).
GAP_ID_SAMPLE: Final = 10
#: At most this many gaps are stored per report (DynamoDB items are <= 400 KB).
REPORT_MAX_GAPS: Final = 200


# --------------------------------------------------------------------------
# Windows and the protocols the algorithm runs over
# --------------------------------------------------------------------------


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

    def ids(self, log_group: str, window: Window) -> set[str]: ...

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


class IndexUnavailable(RuntimeError):
    """The cluster could not be queried; the watermark must stay where it is."""


class CountsUnavailable(RuntimeError):
    """A source counter could not answer (Insights failed or timed out)."""


# --------------------------------------------------------------------------
# What a check finds
# --------------------------------------------------------------------------


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
    """What :class:`RangeCheck` established about one range of one group."""

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


class _OutOfTime(Exception):
    pass


@dataclass(slots=True)
class _Leaf:
    window: Window
    source_count: int
    #: No CloudWatch event lies between the previous leaf and this one, so one
    #: fetch can cover both (a gap's leaves then make one range).
    joinable: bool = False


class RangeCheck:
    """The comparison and repair of one aligned range of one group (pure over its protocols)."""

    def __init__(
        self,
        log_group: str,
        *,
        source: SourceCounter,
        fetcher: EventFetcher,
        index: IndexCounter,
        repairer: Repairer,
        tuning: Tuning = Tuning(),
    ) -> None:
        self._group = log_group
        self._source = source
        self._fetcher = fetcher
        self._index = index
        self._repairer = repairer
        self._tuning = tuning
        self.outcome: RangeOutcome | None = None
        self._clear = False  # no CloudWatch event seen since the last leaf

    def _leaf(self, window: Window, source_count: int, *, joinable: bool) -> _Leaf:
        self._clear = True
        return _Leaf(window, source_count, joinable)

    def _seen(self, source_count: int) -> None:
        if source_count:
            self._clear = False

    def run(self, span: Window, deadline: Deadline) -> RangeOutcome:
        """Check ``span`` (aligned to the coarsest step).

        Exceptions from the protocols propagate; ``self.outcome.proven_through``
        then still tells how far the range was proven before the failure. After
        a window that cannot be proven, the rest of the range is still checked
        and repaired (for the report), but ``proven_through`` stops moving.
        """
        steps = self._tuning.steps_ms
        if span.start % steps[0] or span.end % steps[0]:
            raise ValueError(f"{span.describe()} is not aligned to {steps[0]} ms")
        outcome = self.outcome = RangeOutcome(span=span, proven_through=span.start)
        proven_so_far = True
        for chunk_start in range(span.start, span.end, self._tuning.chunk_ms):
            chunk = Window(chunk_start, min(chunk_start + self._tuning.chunk_ms, span.end))
            proven = self._check_chunk(chunk, outcome, deadline)
            if proven_so_far:
                outcome.proven_through = proven
                proven_so_far = proven == chunk.end
            if outcome.stopped:
                break
        return outcome

    # -- counting ---------------------------------------------------------

    def _room(self, deadline: Deadline) -> None:
        if deadline.remaining() < self._tuning.reserve_secs:
            raise _OutOfTime

    def _counts(
        self, window: Window, step_ms: int, deadline: Deadline, outcome: RangeOutcome
    ) -> tuple[dict[int, int], dict[int, int]]:
        self._room(deadline)
        outcome.count_queries += 1
        source = self._source.counts(self._group, window, step_ms, deadline)
        index = self._index.counts(self._group, window, step_ms)
        return source, index

    def _check_chunk(self, chunk: Window, outcome: RangeOutcome, deadline: Deadline) -> int:
        """Check one chunk; returns how far into it everything is proven."""
        top = self._tuning.steps_ms[0]
        try:
            source, index = self._counts(chunk, top, deadline, outcome)
        except _OutOfTime:
            outcome.stopped = "deadline"
            return chunk.start
        leaves: list[_Leaf] = []
        first_mismatch: int | None = None
        self._clear = False
        try:
            for bucket in chunk.split(top):
                cs, ci = source.get(bucket.start, 0), index.get(bucket.start, 0)
                outcome.windows_checked += 1
                outcome.events_in_source += cs
                outcome.events_in_index += ci
                if cs == ci:
                    self._seen(cs)
                else:
                    if first_mismatch is None:
                        first_mismatch = bucket.start
                    leaves += self._explore(bucket, 0, (cs, ci), deadline=deadline, outcome=outcome)
        except _OutOfTime:
            outcome.stopped = "deadline"
            return first_mismatch if first_mismatch is not None else chunk.start
        proven = chunk.end
        previous_gap: Gap | None = None
        previous_end: int | None = None
        for fetch_range in self._merge(leaves):
            if deadline.remaining() < self._tuning.reserve_secs:
                outcome.stopped = "deadline"
                return min(proven, fetch_range.window.start)
            closed, previous_gap = self._settle(
                fetch_range.window,
                outcome,
                deadline,
                previous_gap if previous_end == fetch_range.window.start else None,
            )
            previous_end = fetch_range.window.end
            if not closed:
                proven = min(proven, fetch_range.window.start)
        return proven

    def _explore(
        self,
        window: Window,
        level: int,
        counts: tuple[int, int],
        *,
        deadline: Deadline,
        outcome: RangeOutcome,
    ) -> list[_Leaf]:
        """The leaves under a window whose (source, index) counts differ."""
        source_count, index_count = counts
        steps = self._tuning.steps_ms
        missing = source_count - index_count
        joinable = self._clear
        if (
            level + 1 >= len(steps)
            or source_count <= self._tuning.leaf_events
            or 2 * missing >= source_count
        ):
            return [self._leaf(window, source_count, joinable=joinable)]
        step = steps[level + 1]
        source, index = self._counts(window, step, deadline, outcome)
        outcome.refinements += 1
        leaves: list[_Leaf] = []
        for child in window.split(step):
            cs, ci = source.get(child.start, 0), index.get(child.start, 0)
            outcome.windows_checked += 1
            if cs == ci:
                self._seen(cs)
            else:
                leaves += self._explore(
                    child, level + 1, (cs, ci), deadline=deadline, outcome=outcome
                )
        if not leaves:
            # The parent's counts differed but every child's agree: the two
            # counts were taken at different moments (Insights is eventually
            # consistent). Settle the whole window with FilterLogEvents.
            self._clear = joinable
            return [self._leaf(window, source_count, joinable=joinable)]
        return leaves

    def _merge(self, leaves: list[_Leaf]) -> list[_Leaf]:
        merged: list[_Leaf] = []
        for leaf in leaves:
            last = merged[-1] if merged else None
            if (
                last is not None
                and (leaf.joinable or last.window.end == leaf.window.start)
                and last.source_count + leaf.source_count <= self._tuning.merge_events
            ):
                merged[-1] = _Leaf(
                    Window(last.window.start, leaf.window.end),
                    last.source_count + leaf.source_count,
                )
            else:
                merged.append(leaf)
        return merged

    # -- settling a fetched range -----------------------------------------

    def _settle(
        self,
        window: Window,
        outcome: RangeOutcome,
        deadline: Deadline,
        joinable: Gap | None,
    ) -> tuple[bool, Gap | None]:
        """Fetch, compare and repair one range; True when it is proven complete.

        Also returns the range's last gap if it ran to the range's end, so the
        next adjacent range can continue it.
        """
        events = sorted(
            self._fetcher.events(self._group, window, deadline),
            key=lambda e: (e["timestamp"], e["id"]),
        )
        outcome.ranges_fetched += 1
        outcome.events_fetched += len(events)
        in_index = self._index.ids(self._group, window)
        source_ids = {e["id"] for e in events}
        extra = in_index - source_ids
        if extra:
            outcome.unexpected_documents += len(extra)
            outcome.unexpected.append(Unexpected(window, len(extra), sorted(extra)[:GAP_ID_SAMPLE]))
        missing = [e for e in events if e["id"] not in in_index]
        if not missing:
            if not extra:
                outcome.stale_counts += 1
            return True, None
        runs = _runs(events, in_index)
        outcome.events_missing += len(missing)
        result = self._repairer.reship(self._group, missing, deadline)
        outcome.events_reshipped += result.delivered
        outcome.events_duplicate += result.duplicates
        outcome.events_parked += result.parked
        if result.error:
            outcome.repair_errors.append(result.error)
        self._index.refresh(self._group)
        after = self._index.ids(self._group, window)
        still = {e["id"] for e in missing if e["id"] not in after}
        for gap, run_ids in runs:
            gap.still_missing = sum(1 for i in run_ids if i in still)
        still_open = max(0, len(still) - result.parked)
        outcome.events_still_missing += still_open
        tail = self._record_gaps([gap for gap, _ in runs], outcome, joinable)
        return still_open == 0, tail

    @staticmethod
    def _record_gaps(gaps: list[Gap], outcome: RangeOutcome, joinable: Gap | None) -> Gap | None:
        for index, gap in enumerate(gaps):
            if index == 0 and joinable is not None and joinable.open_right and gap.open_left:
                joinable.end_ms = gap.end_ms
                joinable.missing += gap.missing
                joinable.still_missing += gap.still_missing
                room = GAP_ID_SAMPLE - len(joinable.event_ids)
                joinable.event_ids += gap.event_ids[: max(0, room)]
                joinable.open_right = gap.open_right
                continue
            outcome.gaps.append(gap)
        last = outcome.gaps[-1] if outcome.gaps else None
        return last if last is not None and last.open_right else None


def _runs(events: list[dict[str, Any]], present: set[str]) -> list[tuple[Gap, list[str]]]:
    """Maximal runs of consecutive events (time order) whose ids are not in ``present``,
    each with all its event ids."""
    runs: list[tuple[Gap, list[str]]] = []
    current: tuple[Gap, list[str]] | None = None
    for position, event in enumerate(events):
        if event["id"] in present:
            current = None
            continue
        if current is None:
            current = (
                Gap(
                    start_ms=event["timestamp"],
                    end_ms=event["timestamp"] + 1,
                    missing=0,
                    open_left=position == 0,
                ),
                [],
            )
            runs.append(current)
        gap, ids = current
        gap.end_ms = event["timestamp"] + 1
        gap.missing += 1
        ids.append(event["id"])
        if len(gap.event_ids) < GAP_ID_SAMPLE:
            gap.event_ids.append(event["id"])
    if current is not None:
        current[0].open_right = True
    return runs


# --------------------------------------------------------------------------
# The service: groups, ranges, watermarks, re-shipping, reports
# --------------------------------------------------------------------------


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
        for name in (
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
        ):
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
        }


class ReconcileFailed(RuntimeError):
    """Some groups could not be reconciled for an infrastructure reason (after all were tried)."""

    def __init__(self, report: RunReport) -> None:
        self.report = report
        details = "; ".join(f"{g.log_group}: {g.error}" for g in report.failed)
        super().__init__(
            f"reconciliation failed for {len(report.failed)} of {len(report.groups)} "
            f"log groups, watermarks left unchanged ({details})"
        )


# -- state ------------------------------------------------------------------


class ReconcileState(Protocol):
    def watermark(self, log_group: str) -> int | None: ...

    def advance(self, log_group: str, to_ms: int, *, from_ms: int | None = None) -> bool:
        """Move the watermark forward to ``to_ms``. With ``from_ms`` (a manual
        range), only if the watermark exists and already reaches ``from_ms``."""
        ...

    def save_report(self, report: GroupReport) -> None: ...


def _watermark_key(log_group: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"reconciled#{log_group}"}, "sk": {"S": "watermark"}}


class DynamoReconcileState:
    """Watermarks (``pk=reconciled#<group>``, ``sk=watermark``) and reports
    (``pk=reconcile-report#<group>``, ``sk=<run start>``, 30-day TTL)."""

    def __init__(self, client: DynamoDBClient, table: str, clock: Callable[[], float] = time.time):
        self._client = client
        self._table = table
        self._clock = clock

    def watermark(self, log_group: str) -> int | None:
        item = self._client.get_item(
            TableName=self._table, Key=_watermark_key(log_group), ConsistentRead=True
        ).get("Item")
        if not item or "watermark" not in item:
            return None
        return int(item["watermark"]["N"])

    def advance(self, log_group: str, to_ms: int, *, from_ms: int | None = None) -> bool:
        values: dict[str, Any] = {
            ":w": {"N": str(to_ms)},
            ":now": {"N": str(int(self._clock() * 1000))},
        }
        if from_ms is None:
            condition = "attribute_not_exists(watermark) OR watermark < :w"
        else:
            condition = "watermark >= :from AND watermark < :w"
            values[":from"] = {"N": str(from_ms)}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_watermark_key(log_group),
                UpdateExpression="SET watermark = :w, updated_at = :now",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False  # already further, or a manual range not adjoining it
            raise
        return True

    def save_report(self, report: GroupReport) -> None:
        body = orjson.dumps(report.as_dict()).decode()
        self._client.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": f"reconcile-report#{report.log_group}"},
                "sk": {"S": report.run_started},
                "status": {"S": report.status.value},
                "gaps_found": {"N": str(report.gaps_found)},
                "events_reshipped": {"N": str(report.events_reshipped)},
                "events_still_missing": {"N": str(report.events_still_missing)},
                "cloudwatch_calls": {"N": str(report.cloudwatch_calls)},
                "report": {"S": body},
                "expires_at": {"N": str(int(self._clock()) + REPORT_TTL_SECS)},
            },
        )

    def reports(self, log_group: str, limit: int = 10) -> list[dict[str, Any]]:
        """The newest stored reports of a group, newest first."""
        page = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"reconcile-report#{log_group}"}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [orjson.loads(item["report"]["S"]) for item in page.get("Items", [])]


# -- re-shipping ------------------------------------------------------------


class ShipperRepairer:
    """Re-ships through the same :class:`Shipper` as the live path (same ids, docs, quarantine)."""

    def __init__(self, shipper: Shipper, *, owner: str, region: str) -> None:
        self._shipper = shipper
        self._owner = owner
        self._region = region

    def reship(
        self, log_group: str, events: list[dict[str, Any]], deadline: Deadline
    ) -> RepairResult:
        origin = EventOrigin(
            log_group=log_group, log_stream="", owner=self._owner, region=self._region
        )
        try:
            report = self._shipper.ship_events(events, origin, deadline)
        except DeliveryIncomplete as error:
            shipped = error.report
            return RepairResult(
                shipped.delivered,
                shipped.duplicates,
                shipped.quarantined,
                shipped.undelivered,
                str(error),
            )
        return RepairResult(
            report.delivered, report.duplicates, report.quarantined, report.undelivered
        )


# -- the service ------------------------------------------------------------


class CountingSource(CloudWatchSource, Protocol):
    """A CloudWatch source that counts its API calls by kind."""

    calls: Counter[str]


@dataclass(frozen=True, slots=True)
class Timing:
    settle_ms: int
    backfill_days: int
    region: str


class Reconciler:
    """Reconciles log groups: ranges from watermarks, repair, reports, metrics."""

    def __init__(
        self,
        *,
        source: CountingSource,
        counter_for: Callable[[str], SourceCounter],
        fetcher: EventFetcher,
        index: IndexCounter,
        shipper: Shipper | None,
        state: ReconcileState | None,
        timing: Timing,
        tuning: Tuning = Tuning(),
        repairer_for: Callable[[LogGroupInfo], Repairer] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._source = source
        self._counter_for = counter_for
        self._fetcher = fetcher
        self._index = index
        self._shipper = shipper
        self._state = state
        self._timing = timing
        self._tuning = tuning
        self._repairer_for = repairer_for or self._shipper_repairer
        self._clock = clock

    def _shipper_repairer(self, info: LogGroupInfo) -> Repairer:
        if self._shipper is None:
            raise ValueError("a shipper or repairer_for is required")
        return ShipperRepairer(self._shipper, owner=info.account, region=self._timing.region)

    # -- groups -------------------------------------------------------------

    def resolve(
        self, entries: Iterable[str], deadline: Deadline, run_started: str
    ) -> tuple[list[LogGroupInfo], list[GroupReport]]:
        """Configured entries -> existing groups (``prefix*`` entries expand), and
        a report for each entry that names nothing."""
        found: dict[str, LogGroupInfo] = {}
        missing: list[GroupReport] = []
        for entry in entries:
            try:
                if entry.endswith("*"):
                    infos = self._source.groups_with_prefix(entry[:-1], deadline)
                    if not infos:
                        missing.append(
                            GroupReport(entry, run_started, Status.GROUP_MISSING, error="no match")
                        )
                    for info in infos:
                        found.setdefault(info.name, info)
                else:
                    found.setdefault(entry, self._source.describe_group(entry, deadline))
            except LogGroupNotFound as error:
                missing.append(
                    GroupReport(entry, run_started, Status.GROUP_MISSING, error=str(error))
                )
            except (SourceThrottled, ClientError, BotoCoreError) as error:
                missing.append(
                    GroupReport(entry, run_started, Status.FAILED, error=_describe_error(error))
                )
        return list(found.values()), missing

    def run(
        self,
        entries: Sequence[str],
        deadline: Deadline,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> RunReport:
        """Reconcile every group; a failing group never stops the others."""
        run = RunReport(run_started=iso(int(self._clock() * 1000)))
        infos, unresolved = self.resolve(entries, deadline, run.run_started)
        for report in unresolved:
            self._finish(report)
            run.groups.append(report)
        for position, info in enumerate(infos):
            share = _share(deadline, len(infos) - position)
            run.groups.append(
                self.run_group(info, share, run.run_started, start_ms=start_ms, end_ms=end_ms)
            )
        return run

    def run_group(
        self,
        info: LogGroupInfo,
        deadline: Deadline,
        run_started: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> GroupReport:
        started = time.perf_counter()
        report = GroupReport(info.name, run_started, Status.UP_TO_DATE)
        report.manual = start_ms is not None or end_ms is not None
        calls_before = Counter(self._source.calls)
        counter = self._counter_for(info.name)
        check: RangeCheck | None = None
        try:
            span = self._span(info, report, start_ms, end_ms)
            if span is not None:
                check = RangeCheck(
                    info.name,
                    source=counter,
                    fetcher=self._fetcher,
                    index=self._index,
                    repairer=self._repairer_for(info),
                    tuning=self._tuning,
                )
                outcome = check.run(span, deadline)
                report.absorb(outcome)
                report.status = _status_of(outcome)
                self._advance(info.name, report, outcome, manual_from=start_ms)
        except LogGroupNotFound as error:
            report.status = Status.GROUP_MISSING
            report.error = str(error)
        except (IndexUnavailable, SourceThrottled, ClientError, BotoCoreError) as error:
            report.status = Status.FAILED
            report.error = _describe_error(error)
            if check is not None and check.outcome is not None:
                report.absorb(check.outcome)
        report.insights_fallbacks = int(getattr(counter, "fallbacks", 0))
        report.api_calls = dict(Counter(self._source.calls) - calls_before)
        report.seconds = round(time.perf_counter() - started, 3)
        self._finish(report)
        return report

    def _span(
        self,
        info: LogGroupInfo,
        report: GroupReport,
        start_ms: int | None,
        end_ms: int | None,
    ) -> Window | None:
        top = self._tuning.steps_ms[0]
        now = int(self._clock() * 1000)
        settled = (now - self._timing.settle_ms) // top * top
        watermark = self._state.watermark(info.name) if self._state is not None else None
        report.watermark_before = report.watermark_after = watermark
        if start_ms is None:
            start = watermark if watermark is not None else self._initial_start(info, now)
        else:
            start = start_ms
        start = start // top * top
        end = settled
        if end_ms is not None:
            wanted = -(-end_ms // top) * top
            if wanted > settled:
                report.notes.append(
                    f"end clipped to {iso(settled)}: newer events may still be arriving "
                    f"(settle lag {self._timing.settle_ms // 1000} s)"
                )
            end = min(wanted, settled)
        report.start_ms = start
        report.end_ms = max(start, end)
        if end <= start:
            return None
        return Window(start, end)

    def _initial_start(self, info: LogGroupInfo, now: int) -> int:
        """No watermark yet: BACKFILL_DAYS back, but not before the group existed
        or before its retention (events past it are gone from CloudWatch)."""
        # Events may be up to 14 days older than their group (PutLogEvents accepts them).
        start = max(now - self._timing.backfill_days * DAY_MS, info.created_ms - 14 * DAY_MS)
        if info.retention_days is not None:
            # An hour of margin: events at the retention edge expire mid-check.
            start = max(start, now - info.retention_days * DAY_MS + 3_600_000)
        return start

    def _advance(
        self, log_group: str, report: GroupReport, outcome: RangeOutcome, manual_from: int | None
    ) -> None:
        if self._state is None or outcome.proven_through <= outcome.span.start:
            return
        before = report.watermark_before
        if manual_from is not None and before is None:
            report.notes.append("no watermark yet: a manual run does not create one")
            return
        moved = self._state.advance(
            log_group,
            outcome.proven_through,
            from_ms=outcome.span.start if manual_from is not None else None,
        )
        if moved:
            report.watermark_after = outcome.proven_through
        elif manual_from is not None:
            report.notes.append("watermark not moved: the range does not start at or before it")

    def _finish(self, report: GroupReport) -> None:
        """Store the report and emit its metrics; a report that cannot be stored fails the group."""
        _emit(report, self._clock)
        log = logger.error if report.status in {Status.FAILED, Status.GAPS_OPEN} else logger.info
        log(
            "log group reconciled",
            extra={
                "log_group": report.log_group,
                "status": report.status.value,
                "gaps_found": report.gaps_found,
                "events_missing": report.events_missing,
                "events_reshipped": report.events_reshipped,
                "events_still_missing": report.events_still_missing,
                "cloudwatch_calls": report.cloudwatch_calls,
                "error": report.error,
            },
        )
        if self._state is None:
            return
        try:
            self._state.save_report(report)
        except (ClientError, BotoCoreError) as error:
            report.status = Status.FAILED
            report.error = f"{report.error or ''} report not stored: {_describe_error(error)}"
            count(Metric.RECONCILE_GROUPS_FAILED)


def _status_of(outcome: RangeOutcome) -> Status:
    if outcome.events_still_missing:
        return Status.GAPS_OPEN
    if outcome.stopped:
        return Status.INCOMPLETE
    return Status.REPAIRED if outcome.events_missing else Status.CLEAN


def _emit(report: GroupReport, clock: Callable[[], float]) -> None:
    count(Metric.RECONCILE_WINDOWS_CHECKED, report.windows_checked)
    count(Metric.RECONCILE_GAPS_FOUND, report.gaps_found)
    count(Metric.RECONCILE_EVENTS_MISSING, report.events_missing)
    count(Metric.RECONCILE_EVENTS_RESHIPPED, report.events_reshipped)
    count(Metric.RECONCILE_UNEXPECTED_DOCUMENTS, report.unexpected_documents)
    count(Metric.RECONCILE_INSIGHTS_FALLBACKS, report.insights_fallbacks)
    count(Metric.RECONCILE_CLOUDWATCH_CALLS, report.cloudwatch_calls)
    if report.status is Status.FAILED:
        count(Metric.RECONCILE_GROUPS_FAILED)
    if report.status is Status.GROUP_MISSING:
        count(Metric.RECONCILE_GROUPS_MISSING)
    # Always emitted (zero included) so the alarm sees data, not silence.
    record(Metric.RECONCILE_GAPS_OPEN, MetricUnit.Count, report.events_still_missing)
    if report.watermark_after is not None:
        lag = max(0.0, clock() - report.watermark_after / 1000)
        record(Metric.RECONCILE_LAG, MetricUnit.Seconds, round(lag, 1))


def _share(deadline: Deadline, parts: int) -> Deadline:
    """An equal share of what is left for each of ``parts`` groups; unused time
    flows on to the next group."""
    share = deadline.remaining() / max(1, parts)
    end = time.monotonic() + share
    return Deadline(lambda: int(min(deadline.remaining(), end - time.monotonic()) * 1000))


def _describe_error(error: BaseException) -> str:
    if isinstance(error, ClientError):
        detail = error.response.get("Error", {})
        return f"{detail.get('Code', 'ClientError')}: {detail.get('Message', '')}"
    return f"{type(error).__name__}: {error}"


# -- entry points (the Lambda handler and the CLI share these) ---------------


@dataclass(frozen=True, slots=True)
class ReconcileRequest:
    log_groups: tuple[str, ...]
    start_ms: int | None = None
    end_ms: int | None = None


def parse_request(event: object, configured: Sequence[str]) -> ReconcileRequest:
    """An EventBridge scheduled event (every configured group, from its watermark)
    or a manual ``{"log_groups": [...], "start": ..., "end": ...}``."""
    if not isinstance(event, dict):
        raise TypeError(f"reconcile event must be a JSON object, not {type(event).__name__}")
    if event.get("source") == "aws.events" or event.get("detail-type") == "Scheduled Event":
        groups: tuple[str, ...] = tuple(configured)
        start = end = None
    else:
        unknown = set(event) - {"log_groups", "start", "end"}
        if unknown:
            raise TypeError(
                f"unknown reconcile event keys {sorted(unknown)}: expected an EventBridge "
                'scheduled event or {"log_groups": [...], "start": ..., "end": ...}'
            )
        raw_groups = event.get("log_groups") or list(configured)
        if not isinstance(raw_groups, list) or not all(
            isinstance(g, str) and g for g in raw_groups
        ):
            raise TypeError("log_groups must be a list of log group names (or prefix*)")
        groups = tuple(raw_groups)
        start = parse_time(event["start"], "start") if event.get("start") is not None else None
        end = parse_time(event["end"], "end") if event.get("end") is not None else None
        if start is not None and end is not None and end <= start:
            raise ValueError(f"end {iso(end)} is not after start {iso(start)}")
    if not groups:
        raise ValueError("no log groups: set LOG_GROUPS or pass log_groups")
    return ReconcileRequest(groups, start, end)


def handle_event(
    reconciler: Reconciler, event: object, deadline: Deadline, configured: Sequence[str]
) -> dict[str, Any]:
    """Run a reconciliation; raise :class:`ReconcileFailed` (after every group was
    tried and reported) when any group failed for an infrastructure reason."""
    request = parse_request(event, configured)
    report = reconciler.run(
        request.log_groups, deadline, start_ms=request.start_ms, end_ms=request.end_ms
    )
    if report.failed:
        raise ReconcileFailed(report)
    return report.as_dict()
