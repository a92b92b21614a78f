"""Subscriber: puts logstream's subscription filter on every selected log group.

Invoked by an EventBridge rule on CloudTrail's CreateLogGroup (the new group
is subscribed and its backfill planned at once), by a schedule that sweeps
for groups it missed (resumable across runs), by hand with
``{"action": "sweep"}``, and by the stack's custom resource (Create/Update:
sweep; Delete: remove logstream's filters, no others). See logstream.fleet.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from logstream.clients import deadline_for, fleet_service
from logstream.fleet.events import handle_event
from logstream.observability import logger, metrics, tracer


# Not the event: a custom resource's carries a presigned ResponseURL, which must not reach logs.
@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_event(event, deadline_for(context), fleet_service)
