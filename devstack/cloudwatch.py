"""Play CloudWatch Logs' part against moto: write events, read them back, and
deliver them as a subscription filter would.

moto stores the events and assigns their ids; what the decoder receives is
built from events read back with FilterLogEvents, batched per stream the way
CloudWatch batches a subscription delivery.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from devstack.payloads import subscription_payload

if TYPE_CHECKING:
    from mypy_boto3_logs.client import CloudWatchLogsClient
    from mypy_boto3_logs.type_defs import InputLogEventTypeDef

#: PutLogEvents limits: 10,000 events and 1 MiB (with 26 bytes overhead each) per call.
_PUT_MAX_EVENTS = 10_000
_PUT_MAX_BYTES = 1_048_576


def ensure_log_group(logs: CloudWatchLogsClient, log_group: str) -> None:
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=log_group)


def put_events(
    logs: CloudWatchLogsClient, log_group: str, log_stream: str, events: Sequence[dict[str, Any]]
) -> None:
    """Write ``events`` (``timestamp``, ``message``) in time order, within PutLogEvents limits."""
    ensure_log_group(logs, log_group)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=log_group, logStreamName=log_stream)
    ordered = sorted(events, key=lambda e: e["timestamp"])
    batch: list[InputLogEventTypeDef] = []
    size = 0
    for event in ordered:
        cost = len(event["message"].encode()) + 26
        if batch and (len(batch) >= _PUT_MAX_EVENTS or size + cost > _PUT_MAX_BYTES):
            logs.put_log_events(logGroupName=log_group, logStreamName=log_stream, logEvents=batch)
            batch, size = [], 0
        batch.append({"timestamp": event["timestamp"], "message": event["message"]})
        size += cost
    if batch:
        logs.put_log_events(logGroupName=log_group, logStreamName=log_stream, logEvents=batch)


def read_events(logs: CloudWatchLogsClient, log_group: str) -> list[dict[str, Any]]:
    """Every event of the group as FilterLogEvents returns it (``eventId``, ``logStreamName``)."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"logGroupName": log_group}
    while True:
        page = logs.filter_log_events(**kwargs)
        events.extend(dict(e) for e in page.get("events", []))
        token = page.get("nextToken")
        if not token:
            return events
        kwargs["nextToken"] = token


def subscription_deliveries(
    log_group: str,
    events: Sequence[dict[str, Any]],
    *,
    max_events: int = 1_000,
    owner: str = "123456789012",
) -> Iterator[dict[str, Any]]:
    """Subscription events (``{"awslogs": ...}``) for FilterLogEvents-shaped ``events``."""
    by_stream: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_stream[event["logStreamName"]].append(
            {"id": event["eventId"], "timestamp": event["timestamp"], "message": event["message"]}
        )
    for stream, stream_events in by_stream.items():
        for start in range(0, len(stream_events), max_events):
            yield subscription_payload(
                log_group, stream, stream_events[start : start + max_events], owner=owner
            )
