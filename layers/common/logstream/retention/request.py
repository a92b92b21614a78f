"""The retention function's event: an EventBridge schedule, or a request by hand.

Scheduled: delete expired daily indices, then publish the shard budget. By
hand: ``{}`` does the same, ``{"dry_run": true}`` lists what would be deleted
and deletes nothing. Bad input is answered ``{"ok": false, "error": ...}``; a
cluster failure raises, so the invocation fails (the next run retries).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from logstream.cluster.port import Cluster
from logstream.errors import InputError, answer_manual
from logstream.retention.janitor import RetentionJanitor
from logstream.retention.shards import publish_shard_budget, shard_budget_dict
from logstream.retry import Deadline

#: The shard-budget calls may take at most this long (seconds).
_SHARD_BUDGET_TIMEOUT = 10.0


def is_scheduled(event: object) -> bool:
    return isinstance(event, Mapping) and (
        event.get("source") == "aws.events" or event.get("detail-type") == "Scheduled Event"
    )


def parse_dry_run(event: object) -> bool:
    """``dry_run`` of a manual event; :class:`InputError` says what is wrong with it."""
    if not isinstance(event, Mapping):
        raise InputError('the event must be a JSON object, e.g. {"dry_run": true}')
    unknown = set(event) - {"dry_run"}
    if unknown:
        raise InputError(f"unknown fields {sorted(unknown)}; the only field is dry_run")
    dry_run = event.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise InputError("dry_run must be true or false")
    return dry_run


def run(
    janitor: RetentionJanitor, cluster: Cluster, deadline: Deadline, *, dry_run: bool
) -> dict[str, Any]:
    """Expire (or list) indices, then read and publish the shard budget."""
    retention = janitor.run(deadline, dry_run=dry_run).as_dict()
    timeout = max(1.0, min(_SHARD_BUDGET_TIMEOUT, deadline.remaining()))
    usage = publish_shard_budget(cluster, timeout=timeout)
    return {"retention": retention, "shard_budget": shard_budget_dict(usage)}


def handle_event(
    janitor: RetentionJanitor, cluster: Cluster, event: object, deadline: Deadline
) -> dict[str, Any]:
    if is_scheduled(event):
        return {"ok": True, **run(janitor, cluster, deadline, dry_run=False)}
    return answer_manual(lambda: run(janitor, cluster, deadline, dry_run=parse_dry_run(event)))
