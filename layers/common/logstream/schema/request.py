"""The schema-heal function's event: an EventBridge schedule, or a request by hand.

Scheduled (EventBridge): every known group is healed. By hand:
``{"log_groups": ["/aws/lambda/app"]}`` heals those groups,
``{"report_only": true}`` scans and reports without changing anything;
without ``log_groups`` every known group is healed (LOG_GROUPS, groups with
parked documents, groups with decisions). Bad input is answered
``{"ok": false, "error": ...}``; an infrastructure failure raises, so the
invocation fails and is retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from logstream.errors import InputError, answer_manual
from logstream.retry import Deadline
from logstream.schema.healer import SchemaHealer


@dataclass(frozen=True, slots=True)
class HealRequest:
    """What a manual invocation asks for. No ``log_groups``: every known group."""

    log_groups: tuple[str, ...] = ()
    report_only: bool = False


def is_scheduled(event: object) -> bool:
    return isinstance(event, Mapping) and (
        event.get("source") == "aws.events" or event.get("detail-type") == "Scheduled Event"
    )


def parse_request(event: object) -> HealRequest:
    """The request in a manual event; :class:`InputError` says what is wrong with it."""
    if not isinstance(event, Mapping):
        raise InputError('the event must be a JSON object, e.g. {"log_groups": ["/aws/x"]}')
    groups = event.get("log_groups")
    if groups is not None and (
        not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups)
    ):
        raise InputError("log_groups must be a list of log group names")
    report_only = event.get("report_only", False)
    if not isinstance(report_only, bool):
        raise InputError("report_only must be true or false")
    return HealRequest(tuple(groups or ()), report_only)


def run(healer: SchemaHealer, request: HealRequest, deadline: Deadline) -> dict[str, Any]:
    """Heal (or only scan and report) the requested groups."""
    chosen = list(request.log_groups) or healer.groups_to_heal()
    if request.report_only:
        return {
            "scans": [healer.scan(scope).as_dict() for scope in healer.scopes(chosen)],
            "quarantined": healer.quarantine_counts(),
            "report": healer.report_rows(chosen),
        }
    return healer.heal(chosen, deadline).as_dict()


def handle_event(healer: SchemaHealer, event: object, deadline: Deadline) -> dict[str, Any]:
    """A scheduled run heals every known group; a manual one answers ``ok`` true or false."""
    if is_scheduled(event):
        return {"ok": True, **run(healer, HealRequest(), deadline)}
    return answer_manual(lambda: run(healer, parse_request(event), deadline))
