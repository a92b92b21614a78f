"""The subscriber function's events, told apart and answered.

- EventBridge "AWS API Call via CloudTrail", ``logs`` ``CreateLogGroup``: the
  new group (``detail.requestParameters.logGroupName``) is subscribed;
  a call that failed (``detail.errorCode``) created nothing and is ignored;
- EventBridge "Scheduled Event", or ``{"action": "sweep"}`` by hand: one sweep run;
- a CloudFormation custom-resource request: Create and Update sweep, Delete
  removes logstream's filters; always answered (fleet/custom_resource.py).

Anything else is an InputError, answered ``{"ok": false, "error": ...}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from logstream.errors import InputError, answer_manual
from logstream.fleet.custom_resource import answer, is_custom_resource_event
from logstream.fleet.service import FleetService
from logstream.retry import Deadline

CLOUDTRAIL_DETAIL_TYPE = "AWS API Call via CloudTrail"
SCHEDULED_DETAIL_TYPE = "Scheduled Event"


def handle_event(
    event: Any, deadline: Deadline, service: Callable[[], FleetService]
) -> dict[str, Any]:
    """Route one event; ``service`` is built only once the event is known to need it."""
    if is_custom_resource_event(event):
        return answer(event, lambda request_type: _stack_request(request_type, deadline, service))
    if isinstance(event, dict) and event.get("detail-type") == CLOUDTRAIL_DETAIL_TYPE:
        return _created(event.get("detail") or {}, deadline, service)
    if isinstance(event, dict) and (
        event.get("detail-type") == SCHEDULED_DETAIL_TYPE or event.get("action") == "sweep"
    ):
        return {"ok": True, **service().sweep(deadline).as_dict()}
    return answer_manual(_unknown)


def _unknown() -> Mapping[str, Any]:
    raise InputError(
        "not an event the subscriber takes: a CloudTrail CreateLogGroup event, a scheduled "
        'event, {"action": "sweep"} or a CloudFormation custom-resource request'
    )


def _created(
    detail: Mapping[str, Any], deadline: Deadline, service: Callable[[], FleetService]
) -> dict[str, Any]:
    if detail.get("eventName") != "CreateLogGroup" or detail.get("errorCode"):
        return {"ok": True, "ignored": detail.get("eventName"), "error": detail.get("errorCode")}
    group = (detail.get("requestParameters") or {}).get("logGroupName")
    if not isinstance(group, str) or not group:
        return answer_manual(_no_group)
    return {"ok": True, "log_group": group, "outcome": service().subscribe_new(group, deadline)}


def _no_group() -> Mapping[str, Any]:
    raise InputError("CreateLogGroup event without detail.requestParameters.logGroupName")


def _stack_request(
    request_type: str, deadline: Deadline, service: Callable[[], FleetService]
) -> tuple[bool, str, Mapping[str, Any]]:
    if request_type == "Delete":
        removal = service().remove_all(deadline)
        if not removal.complete:
            return (
                False,
                f"removed {removal.removed} filters before the time ran out; delete the "
                "stack again to remove the rest",
                removal.as_dict(),
            )
        return True, f"removed {removal.removed} subscription filters", removal.as_dict()
    report = service().sweep(deadline)
    return True, f"swept {report.groups} groups (complete: {report.complete})", report.as_dict()
