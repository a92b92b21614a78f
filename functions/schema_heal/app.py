"""Schema healer: resolve field type drift and put every parked document back.

Invoked hourly by an EventBridge schedule (every known group) and by hand
(``{"log_groups": [...]}``, ``{"report_only": true}``). Running it again
changes nothing once a group is healed. See docs/schema-healing.md.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from logstream.clients import deadline_for, schema_healer
from logstream.observability import logger, metrics, tracer
from logstream.schema.request import handle_event


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_event(schema_healer(), event, deadline_for(context))
