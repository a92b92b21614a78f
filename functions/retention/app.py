"""Retention: delete this deployment's expired daily indices, publish the shard budget.

Invoked hourly by an EventBridge schedule, and by hand (``{"dry_run": true}``
lists what would be deleted). RETENTION_DAYS=0 keeps every index; the shard
budget is published either way. See README "Retention and the shard budget".
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from logstream.clients import cluster, deadline_for, retention_janitor
from logstream.observability import logger, metrics, tracer
from logstream.retention.request import handle_event


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_event(retention_janitor(), cluster(), event, deadline_for(context))
