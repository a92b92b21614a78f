"""Backfill: plan history into resumable chunks, and work them off.

Invoked by hand (``{"action": "start", "log_groups": [...], "days": 3}``,
``status``, ``cancel``, ``list``) and by an EventBridge schedule that keeps
working open jobs. See logstream.backfill for the guarantees.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from logstream.backfill.actions import handle_event
from logstream.clients import backfill_service, deadline_for
from logstream.observability import logger, metrics, tracer


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_event(backfill_service(), event, deadline_for(context))
