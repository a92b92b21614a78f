"""Reconcile: prove every CloudWatch event of each log group is in the index.

Invoked by an EventBridge schedule (every RECONCILE_INTERVAL_SECS; the groups
after the stored cursor, as many as fit, each from its reconciled-through
watermark up to now minus RECONCILE_SETTLE_SECS) or
by hand with ``{"log_groups": [...], "start": "...", "end": "..."}`` (bad input
answers ``{"ok": false, "error": ...}``). Missing events are re-shipped; a group
that failed for an infrastructure reason fails the invocation after every other
group was done. See logstream.reconcile.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from logstream.clients import deadline_for, fair_reconciliation, group_selection, reconciler
from logstream.observability import logger, metrics, tracer
from logstream.reconcile.request import handle_event


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_event(
        reconciler(),
        event,
        deadline_for(context),
        group_selection().entries(),
        scheduled=fair_reconciliation().run,
    )
