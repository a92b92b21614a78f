"""The shard budget: the cluster's shards against the limit that refuses new indices.

OpenSearch and Elasticsearch refuse to create an index (so a day's first
document for a group) once the cluster holds ``cluster.max_shards_per_node`` x
data nodes shards, replicas and unassigned ones included. Published on every
scheduled retention run; the ShardBudgetAlarm fires at 80%. Serverless has no
shard limit to read, so nothing is published there.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from logstream.cluster.port import Cluster, Engine, ShardUsage
from logstream.observability import Metric, logger, record


def publish_shard_budget(cluster: Cluster, *, timeout: float) -> ShardUsage | None:
    """Read the cluster's shard usage and publish it; None on Serverless."""
    if cluster.capabilities.engine is Engine.OPENSEARCH_SERVERLESS:
        return None
    usage = cluster.shard_usage(timeout=timeout)
    record(Metric.CLUSTER_SHARDS, MetricUnit.Count, usage.shards)
    record(Metric.SHARD_BUDGET_USED, MetricUnit.Percent, usage.used_percent)
    logger.info(
        "shard budget",
        extra={"shards": usage.shards, "limit": usage.limit, "used_percent": usage.used_percent},
    )
    return usage


def shard_budget_dict(usage: ShardUsage | None) -> dict[str, object] | None:
    """``usage`` for a function's answer."""
    if usage is None:
        return None
    return {
        "shards": usage.shards,
        "max_shards_per_node": usage.max_shards_per_node,
        "data_nodes": usage.data_nodes,
        "limit": usage.limit,
        "used_percent": round(usage.used_percent, 2),
    }
