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
    BACKFILL_EVENTS = "BackfillEvents"
    BACKFILL_CHUNKS_COMPLETED = "BackfillChunksCompleted"
    BACKFILL_JOBS_PLANNED = "BackfillJobsPlanned"
    AUTO_BACKFILL_FAILURES = "AutoBackfillFailures"
    FEEDBACK_LOOP_BATCHES = "FeedbackLoopBatches"
    #: Kinesis records reported in batchItemFailures (Lambda sends them again).
    KINESIS_RECORDS_FAILED = "KinesisRecordsFailed"
    RECONCILE_WINDOWS_CHECKED = "ReconcileWindowsChecked"
    RECONCILE_GAPS_FOUND = "ReconcileGapsFound"
    RECONCILE_EVENTS_MISSING = "ReconcileEventsMissing"
    RECONCILE_EVENTS_RESHIPPED = "ReconcileEventsReshipped"
    #: Events still missing from the index after repair (the alarm watches it).
    RECONCILE_GAPS_OPEN = "ReconcileGapsOpen"
    RECONCILE_UNEXPECTED_DOCUMENTS = "ReconcileUnexpectedDocuments"
    RECONCILE_INSIGHTS_FALLBACKS = "ReconcileInsightsFallbacks"
    RECONCILE_CLOUDWATCH_CALLS = "ReconcileCloudWatchCalls"
    RECONCILE_GROUPS_FAILED = "ReconcileGroupsFailed"
    RECONCILE_GROUPS_MISSING = "ReconcileGroupsMissing"
    RECONCILE_LAG = "ReconcileLag"
    CHECKPOINTS_SKIPPED = "CheckpointsSkipped"  # watermarks not written: no time left
    # Schema drift (logstream.schema: rescue, healer)
    DRIFT_RESCUED = "DriftRescued"  # refused live, fixed by a decision or a cap, delivered
    DRIFT_CONFLICTS = "DriftConflicts"  # fields with more than one type across a group's days
    DRIFT_NEW_FIELDS = "DriftNewFields"  # fields of the newest day unknown to the older ones
    DRIFT_DECISIONS = "DriftDecisions"  # decisions written (new or updated)
    DRIFT_VALUES_MOVED = "DriftValuesMoved"  # values moved to a typed sibling or json_overflow
    DRIFT_UNRESOLVED = "DriftUnresolved"  # conflicts + unreplayable docs after a heal run
    QUARANTINE_REPLAYED = "QuarantineReplayed"  # parked documents now in their daily index
    QUARANTINE_STILL_REFUSED = "QuarantineStillRefused"  # parked documents left for a human
    INDICES_REBUILT = "IndicesRebuilt"  # daily indices recreated under decided mappings
    # Fleet (logstream.fleet): one metric per subscriber outcome, and the decoder's selection
    GROUPS_SUBSCRIBED = "GroupsSubscribed"  # logstream's filter put on a group
    GROUPS_ALREADY_SUBSCRIBED = "GroupsAlreadySubscribed"  # its filter was there, as wanted
    GROUPS_FILTER_UPDATED = "GroupsFilterUpdated"  # its filter was there, with another target
    GROUPS_REFUSED_TWO_FILTERS = "GroupsRefusedTwoFilters"  # two foreign filters: not ours
    GROUPS_UNDER_ACCOUNT_POLICY = "GroupsUnderAccountPolicy"  # account mode: recorded only
    GROUPS_OWN_SKIPPED = "GroupsOwnSkipped"  # logstream's own groups (feedback loop)
    GROUPS_EXCLUDED = "GroupsExcluded"  # EXCLUDED_LOG_GROUPS
    GROUPS_NOT_SELECTED = "GroupsNotSelected"  # listed but outside the selection
    GROUPS_GONE = "GroupsGone"  # deleted between listing and subscribing
    GROUPS_FAILED = "GroupsFailed"  # CloudWatch refused a call for this group
    LISTED_GROUPS_MISSING = "ListedGroupsMissing"  # list mode: a name no group has (yet)
    SUBSCRIPTION_FILTERS_REMOVED = "SubscriptionFiltersRemoved"  # stack deletion
    EVENTS_NOT_SELECTED = "EventsNotSelected"  # decoder: events of groups it must not ship
    # Retention and the shard budget (logstream.retention)
    RETENTION_INDICES_DELETED = "RetentionIndicesDeleted"  # expired daily indices deleted
    RETENTION_NOT_OURS = "RetentionIndicesNotOurs"  # expired by name, kept: no marker of ours
    CLUSTER_SHARDS = "ClusterShards"  # primaries + replicas in the cluster
    SHARD_BUDGET_USED = "ShardBudgetUsedPercent"  # of max_shards_per_node x data nodes


def _metrics_disabled() -> bool:
    # Powertools checks POWERTOOLS_METRICS_DISABLED only when it flushes at the end of
    # a handler, but it also flushes (prints EMF) whenever one metric holds 100 values:
    # on a terminal (the CLI, the demo) that blob lands in the middle of the output.
    return os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() in {"1", "true"}


def count(metric: Metric, value: float = 1) -> None:
    """Add ``value`` to a counter metric; zero values are not emitted."""
    if value and not _metrics_disabled():
        metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=value)


def record(metric: Metric, unit: MetricUnit, value: float) -> None:
    """Emit a metric with an explicit unit (bytes, milliseconds)."""
    if not _metrics_disabled():
        metrics.add_metric(name=metric.value, unit=unit, value=value)
