"""The one Logger, Metrics and Tracer every function shares.

Service name and metrics namespace come from the standard Powertools
variables (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE) set in
template.yaml; the defaults keep local runs and tests working without them.
Never log whole payloads: log counts, ids and reasons.
"""

from __future__ import annotations

import os
from enum import StrEnum

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "logstream")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Logstream"))
tracer = Tracer(service=SERVICE)


class Metric(StrEnum):
    """Every EMF metric name in one place, so dashboards and alarms can rely on them."""

    EVENTS_RECEIVED = "EventsReceived"
    DOCUMENTS_DELIVERED = "DocumentsDelivered"
    DOCUMENTS_DUPLICATE = "DocumentsDuplicate"
    DOCUMENTS_RETRIED = "DocumentsRetried"
    DOCUMENTS_QUARANTINED = "DocumentsQuarantined"
    DOCUMENTS_UNDELIVERED = "DocumentsUndelivered"
    BULK_REQUESTS = "BulkRequests"
    BULK_SPLITS = "BulkSplits"
    BYTES_SENT = "BytesSent"
    BATCH_LATENCY = "BatchLatency"
    CONTROL_MESSAGES = "ControlMessages"
    BAD_PAYLOADS = "BadPayloads"
    BAD_EVENTS = "BadEvents"
    EMPTY_MESSAGES = "EmptyMessages"
    OVERSIZE_MESSAGES = "OversizeMessages"
    INVALID_UTF8 = "InvalidUtf8Payloads"
    SANITIZED_GROUP_NAMES = "SanitizedGroupNames"


def count(metric: Metric, value: float = 1) -> None:
    """Add ``value`` to a counter metric; zero values are not emitted."""
    if value:
        metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=value)


def record(metric: Metric, unit: MetricUnit, value: float) -> None:
    """Emit a metric with an explicit unit (bytes, milliseconds)."""
    metrics.add_metric(name=metric.value, unit=unit, value=value)
