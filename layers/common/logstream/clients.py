"""The composition root: the one place that builds clients and services.

Everything is built lazily on first use and cached for the life of the
container, never at import time: cold starts stay small and tests point the
same code at the local stack through the environment (``AWS_ENDPOINT_URL`` is
honoured by boto3 itself, ``ES_HOST`` by the settings).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from logstream.backfill.auto import auto_backfill_hook
from logstream.cluster.factory import connect
from logstream.cluster.port import Cluster
from logstream.fleet.selection import GroupSelection
from logstream.observability import logger
from logstream.own_groups import OwnGroups
from logstream.retry import Backoff, Deadline
from logstream.schema.templates import ensure_templates
from logstream.settings import SettingsError, load_settings
from logstream.shipping.bulk import ClusterBulkSink
from logstream.shipping.checkpoints import CheckpointStore, DynamoCheckpointStore
from logstream.shipping.intake import DecoderIntake
from logstream.shipping.kinesis import KinesisBatchShipper
from logstream.shipping.live import LiveShipper
from logstream.shipping.parking import Parking
from logstream.shipping.service import Shipper

# Backfill, reconciliation and healing are imported where they are built, not
# here: the decoder's cold start pays only for the live path (measured in
# benchmarks/bench_cold_start.py). logstream.backfill.auto is the exception: a
# small hook that imports the rest of backfill when a new group shows up.
if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_logs.client import CloudWatchLogsClient
    from mypy_boto3_secretsmanager.client import SecretsManagerClient

    from logstream.aws.cloudwatch import BotoCloudWatchSource
    from logstream.backfill.service import BackfillService
    from logstream.fleet.registry import SubscriptionRegistry
    from logstream.fleet.service import FleetService
    from logstream.reconcile.fair import FairReconciliation
    from logstream.reconcile.service import Reconciler
    from logstream.retention.janitor import RetentionJanitor
    from logstream.schema.decisions import DecisionStore
    from logstream.schema.healer import SchemaHealer
    from logstream.schema.rescue import DriftRescue
    from logstream.shipping.delivery import DeliveryReport, Rejection

# Bounded so an endpoint that accepts TCP and never answers cannot hold an
# invocation: each attempt waits at most connect + read, and there are two.
_BOTO_CONNECT_TIMEOUT_SECS = 2.0
_BOTO_READ_TIMEOUT_SECS = 5.0
_BOTO_ATTEMPTS = 2
#: The longest one boto call can take (the checkpoint write's deadline check uses it).
BOTO_CALL_BOUND_SECS = _BOTO_ATTEMPTS * (_BOTO_CONNECT_TIMEOUT_SECS + _BOTO_READ_TIMEOUT_SECS) + 1
_BOTO_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": _BOTO_ATTEMPTS},
    connect_timeout=_BOTO_CONNECT_TIMEOUT_SECS,
    read_timeout=_BOTO_READ_TIMEOUT_SECS,
)


@cache
def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb", region_name=load_settings().aws_region, config=_BOTO_CONFIG)


@cache
def logs_client() -> CloudWatchLogsClient:
    return boto3.client("logs", region_name=load_settings().aws_region, config=_BOTO_CONFIG)


@cache
def secrets_client() -> SecretsManagerClient:
    return boto3.client(
        "secretsmanager", region_name=load_settings().aws_region, config=_BOTO_CONFIG
    )


@cache
def cluster() -> Cluster:
    return connect(load_settings(), secrets_client)


@cache
def bulk_sink() -> ClusterBulkSink:
    settings = load_settings()
    return ClusterBulkSink(
        cluster(),
        batch_size=settings.batch_size,
        batch_max_bytes=settings.batch_max_bytes,
        max_in_flight=settings.max_in_flight,
        gzip_level=settings.gzip_level,
        http_timeout_secs=settings.http_timeout_secs,
        backoff=Backoff(settings.backoff_base_ms, settings.backoff_max_ms),
        client_ids=cluster().capabilities.client_ids,
    )


@cache
def checkpoint_store() -> CheckpointStore:
    settings = load_settings()
    if settings.state_table is None:
        raise SettingsError({"STATE_TABLE": "is required to keep checkpoints but not set"})
    return DynamoCheckpointStore(
        dynamodb_client(), settings.state_table, call_bound_secs=BOTO_CALL_BOUND_SECS
    )


@cache
def shipper() -> Shipper:
    """The shipping service every path uses; templates are installed on first use."""
    settings = load_settings()
    return Shipper(
        bulk_sink(),
        Parking(bulk_sink(), settings.quarantine_index, rescue=_rescue_on_demand),
        index_prefix=settings.index_prefix,
        region=settings.aws_region,
        layout=settings.index_layout,
        prepare=lambda deadline: ensure_templates(cluster(), settings, deadline),
    )


@cache
def live_shipper() -> LiveShipper:
    """The decoder's service: subscription payloads, with watermarks and auto-backfill."""
    settings = load_settings()
    if settings.state_table is None:
        logger.warning("STATE_TABLE is not set: watermarks will not be recorded")
    return LiveShipper(
        shipper(),
        checkpoints=checkpoint_store() if settings.state_table else None,
        on_live_batch=auto_backfill_hook(settings, backfill_service),
        own_log_groups=own_groups(),
        selection=group_selection(),
    )


@cache
def decoder_intake() -> DecoderIntake:
    """The decoder's entry: direct subscription deliveries and Kinesis batches."""
    return DecoderIntake(
        live_shipper(), KinesisBatchShipper(live_shipper()), load_settings().transport
    )


def _rescue_on_demand(rejected: Sequence[Rejection], deadline: Deadline) -> DeliveryReport:
    """The drift rescue, built (and its module imported) at the first refusal only."""
    return drift_rescue()(rejected, deadline)


def own_groups() -> OwnGroups:
    """logstream's own log groups, which are never shipped nor planned."""
    return OwnGroups.of_this_function(load_settings().own_log_group_prefixes)


def group_selection() -> GroupSelection:
    """Which log groups are shipped (LOG_GROUP_SELECTION and its lists; logstream.fleet)."""
    return GroupSelection.from_settings(load_settings(), own_groups())


@cache
def subscription_registry() -> SubscriptionRegistry:
    """Each group the subscriber handled, and its status (``fleet-groups`` items)."""
    from logstream.fleet.registry import SubscriptionRegistry  # noqa: PLC0415 - see module imports

    settings = load_settings()
    if settings.state_table is None:
        raise SettingsError({"STATE_TABLE": "is required to record subscriptions but not set"})
    return SubscriptionRegistry(dynamodb_client(), settings.state_table)


@cache
def fleet_service() -> FleetService:
    """The subscriber function's service: filters, registry, sweep cursor, backfill plans."""
    from logstream.backfill.auto import AutoBackfill  # noqa: PLC0415 - see module imports
    from logstream.fleet.cursor import SweepCursorStore  # noqa: PLC0415
    from logstream.fleet.filters import SubscriptionFilters  # noqa: PLC0415
    from logstream.fleet.service import FleetService  # noqa: PLC0415
    from logstream.fleet.subscriber import FilterTarget, Subscriber  # noqa: PLC0415
    from logstream.fleet.sweep import Sweeper  # noqa: PLC0415
    from logstream.settings import SelectionMode  # noqa: PLC0415

    settings = load_settings()
    if settings.state_table is None:
        raise SettingsError({"STATE_TABLE": "is required to record subscriptions but not set"})
    target = None
    if settings.log_group_selection is not SelectionMode.ACCOUNT:
        if settings.subscription_destination_arn is None:
            raise SettingsError(
                {"SUBSCRIPTION_DESTINATION_ARN": "is required unless LOG_GROUP_SELECTION=account"}
            )
        target = FilterTarget(
            name=settings.subscription_filter_name,
            destination_arn=settings.subscription_destination_arn,
            filter_pattern=settings.filter_pattern or "",
            role_arn=settings.subscription_role_arn,
        )
    backfill = auto_backfill_hook(settings, backfill_service)
    subscriber = Subscriber(
        filters=SubscriptionFilters(
            logs_client(), Backoff(settings.backoff_base_ms, settings.backoff_max_ms)
        ),
        registry=subscription_registry(),
        selection=group_selection(),
        target=target,
        plan_backfill=backfill.plan_once if isinstance(backfill, AutoBackfill) else None,
    )
    # One group is a few calls, each bounded by BOTO_CALL_BOUND_SECS.
    reserve = 2 * BOTO_CALL_BOUND_SECS
    cursor = SweepCursorStore(dynamodb_client(), settings.state_table)
    return FleetService(subscriber, Sweeper(subscriber, cursor, reserve_secs=reserve), reserve)


@cache
def cloudwatch_source() -> BotoCloudWatchSource:
    from logstream.aws.cloudwatch import BotoCloudWatchSource  # noqa: PLC0415 - see module imports

    settings = load_settings()
    return BotoCloudWatchSource(
        logs_client(), Backoff(settings.backoff_base_ms, settings.backoff_max_ms)
    )


@cache
def backfill_service() -> BackfillService:
    from logstream.backfill.chunk_store import ChunkStore  # noqa: PLC0415 - see module imports
    from logstream.backfill.claims import GroupClaims  # noqa: PLC0415
    from logstream.backfill.job_store import JobStore  # noqa: PLC0415
    from logstream.backfill.service import BackfillService  # noqa: PLC0415
    from logstream.backfill.tokens import ClientTokens  # noqa: PLC0415

    settings = load_settings()
    if settings.state_table is None:
        raise SettingsError({"STATE_TABLE": "is required for backfill jobs but not set"})
    jobs = JobStore(dynamodb_client(), settings.state_table)
    return BackfillService(
        jobs=jobs,
        chunks=ChunkStore(dynamodb_client(), settings.state_table, jobs),
        claims=GroupClaims(dynamodb_client(), settings.state_table),
        source=cloudwatch_source(),
        shipper=shipper(),
        region=settings.aws_region,
        default_groups=group_selection().entries(),
        default_days=settings.backfill_days or 30,
        max_days=settings.backfill_max_days,
        target_chunk_events=settings.backfill_chunk_events,
        lease_ms=settings.backfill_lease_secs * 1000,
        tokens=ClientTokens(dynamodb_client(), settings.state_table),
        own_groups=own_groups(),
    )


@cache
def reconciler() -> Reconciler:
    """Reconciliation: source counters per the settings (see ``counter_policy``),
    the index via the alias, the watermarks and reports in the state table."""
    from logstream.reconcile.group_run import Timing  # noqa: PLC0415
    from logstream.reconcile.index_counts import ClusterIndexCounter  # noqa: PLC0415
    from logstream.reconcile.service import Reconciler  # noqa: PLC0415
    from logstream.reconcile.source_counts import (  # noqa: PLC0415
        FilterLogEventsFetcher,
        counter_policy,
    )
    from logstream.reconcile.store import DynamoReconcileState  # noqa: PLC0415

    settings = load_settings()
    source = cloudwatch_source()
    backoff = Backoff(settings.backoff_base_ms, settings.backoff_max_ms)
    return Reconciler(
        source=source,
        counter_for=counter_policy(settings, logs_client(), source),
        fetcher=FilterLogEventsFetcher(source, filter_pattern=settings.filter_pattern),
        index=ClusterIndexCounter(
            cluster(),
            alias=settings.alias,
            index_prefix=settings.index_prefix,
            layout=settings.index_layout,
            backoff=backoff,
            timeout_secs=settings.http_timeout_secs,
        ),
        shipper=shipper(),
        state=(
            DynamoReconcileState(dynamodb_client(), settings.state_table)
            if settings.state_table
            else None
        ),
        timing=Timing(
            settle_ms=settings.reconcile_settle_secs * 1000,
            backfill_days=settings.backfill_days,
            region=settings.aws_region,
        ),
    )


@cache
def fair_reconciliation() -> FairReconciliation:
    """Scheduled reconciliation: the configured groups walked with a stored cursor."""
    from logstream.reconcile.cursor_store import (  # noqa: PLC0415 - see module imports
        DynamoCursorStore,
        MemoryCursorStore,
    )
    from logstream.reconcile.directory import ConfiguredGroups  # noqa: PLC0415
    from logstream.reconcile.fair import FairReconciliation  # noqa: PLC0415

    settings = load_settings()
    selection = group_selection()
    return FairReconciliation(
        reconciler(),
        ConfiguredGroups(selection.entries(), cloudwatch_source(), keep=selection.selects),
        (
            DynamoCursorStore(dynamodb_client(), settings.state_table)
            if settings.state_table
            else MemoryCursorStore()
        ),
    )


def deadline_for(context: object) -> Deadline:
    """The invocation's time budget, less DEADLINE_MARGIN_MS for settling up."""
    return Deadline.from_lambda_context(context, load_settings().deadline_margin_ms)


@cache
def drift_decisions() -> DecisionStore:
    """Schema-drift decisions: the state table, or memory only when STATE_TABLE is unset."""
    from logstream.schema.decision_store import DynamoDecisionStore  # noqa: PLC0415
    from logstream.schema.decisions import MemoryDecisionStore  # noqa: PLC0415

    settings = load_settings()
    if settings.state_table is None:
        return MemoryDecisionStore()
    return DynamoDecisionStore(dynamodb_client(), settings.state_table)


@cache
def drift_rescue() -> DriftRescue:
    """Applies decided resolutions and the field caps to documents the cluster refused."""
    from logstream.schema.mappings import MappingSource  # noqa: PLC0415
    from logstream.schema.rescue import DriftRescue  # noqa: PLC0415

    return DriftRescue(
        bulk_sink(),
        drift_decisions(),
        MappingSource(cluster()),
        depth_limit=load_settings().mapping_depth_limit,
        layout=load_settings().index_layout,
    )


@cache
def schema_healer() -> SchemaHealer:
    from logstream.schema.healer import SchemaHealer  # noqa: PLC0415

    settings = load_settings()
    if settings.state_table is None:
        raise SettingsError({"STATE_TABLE": "is required to record drift decisions but not set"})
    client = cluster()
    ensure_templates(client, settings)
    return SchemaHealer(client, bulk_sink(), drift_decisions(), settings)


@cache
def retention_janitor() -> RetentionJanitor:
    """Deletes this deployment's daily indices older than RETENTION_DAYS (0: none)."""
    from logstream.retention.janitor import RetentionJanitor, ownership_of  # noqa: PLC0415

    settings = load_settings()
    client = cluster()
    if 0 < settings.retention_days <= settings.backfill_days:
        logger.warning(
            "RETENTION_DAYS is not above BACKFILL_DAYS: backfill and a first reconciliation "
            "write days that retention deletes again",
            extra={
                "retention_days": settings.retention_days,
                "backfill_days": settings.backfill_days,
            },
        )
    return RetentionJanitor(
        client,
        ownership_of(settings),
        settings.retention_days,
        prepare=lambda deadline: ensure_templates(client, settings, deadline),
    )


def reset() -> None:
    """Forget every cached client (tests that change the environment call this)."""
    for cached in (
        load_settings,
        dynamodb_client,
        logs_client,
        secrets_client,
        cluster,
        bulk_sink,
        checkpoint_store,
        shipper,
        live_shipper,
        decoder_intake,
        cloudwatch_source,
        backfill_service,
        subscription_registry,
        fleet_service,
        reconciler,
        fair_reconciliation,
        drift_decisions,
        drift_rescue,
        schema_healer,
        retention_janitor,
    ):
        cached.cache_clear()
