"""The reconcile function's events: what each asks for and how it is answered.

- An EventBridge scheduled event: the configured groups from their watermarks,
  walked fairly (:mod:`~logstream.reconcile.fair`: the groups after the stored
  cursor, as many as the run has time for). Its answer is the run's report
  with its ``progress``; a scheduled run with no groups configured raises, so
  the Errors alarm sees the misconfiguration.
- A manual ``{"log_groups": [...], "start": ..., "end": ...}``: answered
  ``{"ok": true, ...report}``, or ``{"ok": false, "error": ...}`` for input
  that cannot be run as given (never retried: retrying cannot fix it).

Either way, a group that failed for an infrastructure reason raises
:class:`~logstream.reconcile.report.ReconcileFailed` after every group was
tried and reported, so Lambda counts the invocation as failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from logstream.errors import InputError, answer_manual
from logstream.reconcile.report import ReconcileFailed, RunReport
from logstream.reconcile.service import Reconciler
from logstream.retry import Deadline
from logstream.times import iso, parse_time

_MANUAL_KEYS = frozenset({"log_groups", "start", "end"})


@dataclass(frozen=True, slots=True)
class ReconcileRequest:
    log_groups: tuple[str, ...]
    start_ms: int | None = None
    end_ms: int | None = None


def is_scheduled(event: object) -> bool:
    return isinstance(event, dict) and (
        event.get("source") == "aws.events" or event.get("detail-type") == "Scheduled Event"
    )


def parse_request(event: object, configured: Sequence[str]) -> ReconcileRequest:
    """An EventBridge scheduled event (every configured group, from its watermark)
    or a manual ``{"log_groups": [...], "start": ..., "end": ...}``; :class:`InputError`
    says what is wrong with anything else."""
    if not isinstance(event, dict):
        raise InputError(f"reconcile event must be a JSON object, not {type(event).__name__}")
    if is_scheduled(event):
        groups: tuple[str, ...] = tuple(configured)
        start = end = None
    else:
        unknown = set(event) - _MANUAL_KEYS
        if unknown:
            raise InputError(
                f"unknown reconcile event keys {sorted(unknown)}: expected an EventBridge "
                'scheduled event or {"log_groups": [...], "start": ..., "end": ...}'
            )
        raw_groups = event.get("log_groups") or list(configured)
        if not isinstance(raw_groups, list) or not all(
            isinstance(g, str) and g for g in raw_groups
        ):
            raise InputError("log_groups must be a list of log group names (or prefix*)")
        groups = tuple(raw_groups)
        start = _time(event, "start")
        end = _time(event, "end")
        if start is not None and end is not None and end <= start:
            raise InputError(f"end {iso(end)} is not after start {iso(start)}")
    if not groups:
        raise InputError(
            "no log groups: set LOG_GROUPS (or LOG_GROUP_PREFIXES with LOG_GROUP_SELECTION) "
            "or pass log_groups"
        )
    return ReconcileRequest(groups, start, end)


def _time(event: dict[str, Any], name: str) -> int | None:
    if event.get(name) is None:
        return None
    try:
        return parse_time(event[name], name)
    except ValueError as error:
        raise InputError(str(error)) from None


def handle_event(
    reconciler: Reconciler,
    event: object,
    deadline: Deadline,
    configured: Sequence[str],
    scheduled: Callable[[Deadline], RunReport] | None = None,
) -> dict[str, Any]:
    """Run the reconciliation an event asks for (see the module doc for the answers).

    ``scheduled`` runs a scheduled event (the fair walk); without it, every
    configured group is checked in one run.
    """
    if is_scheduled(event):
        request = parse_request(event, configured)
        if scheduled is None:
            return _run(reconciler, request, deadline)
        return _answer(scheduled(deadline))
    return answer_manual(lambda: _run(reconciler, parse_request(event, configured), deadline))


def _run(reconciler: Reconciler, request: ReconcileRequest, deadline: Deadline) -> dict[str, Any]:
    return _answer(
        reconciler.run(
            request.log_groups, deadline, start_ms=request.start_ms, end_ms=request.end_ms
        )
    )


def _answer(report: RunReport) -> dict[str, Any]:
    if report.failed:
        raise ReconcileFailed(report)
    return report.as_dict()
