"""Decoder: CloudWatch Logs deliveries, direct (Transport=lambda) or from Kinesis.

A direct subscription invokes it with one gzip batch; Transport=kinesis with
an event-source-mapping batch of records, answered with the failed records'
sequence numbers (``batchItemFailures``). Routing by shape, decoding,
parking and the per-record failure rule live in ``logstream.shipping``
(``intake``, ``kinesis``, ``live``). Undeliverable documents raise, so Lambda
retries and finally hands the batch to the on-failure queue; replays are
harmless because ``_id`` = event id.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from logstream.clients import deadline_for, decoder_intake
from logstream.observability import logger, metrics, tracer


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return decoder_intake().handle(event, deadline_for(context))
