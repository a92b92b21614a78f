"""Decoder: a CloudWatch Logs subscription filter invokes this with one gzip batch.

An event that is no subscription delivery, or a payload that cannot be
decoded, is parked whole in quarantine (retries could never fix it).
Undeliverable documents raise, so Lambda retries the batch and finally hands
it to the on-failure queue; replays are harmless because ``_id`` = event id.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from logstream.clients import deadline_for, live_shipper
from logstream.observability import logger, metrics, tracer


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@event_source(data_class=CloudWatchLogsEvent)
def lambda_handler(event: CloudWatchLogsEvent, context: LambdaContext) -> dict[str, Any]:
    report = live_shipper().ship_event(event.raw_event, deadline_for(context))
    return report.as_dict()
