"""Where the completeness report reads from: the reconciler's stored reports in the
state table, and the quarantine's counts by group and reason through the cluster seam."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

import orjson

from logstream.cluster.port import Cluster
from logstream.report.ledger import Ledger, build_ledger, day_start_ms
from logstream.shipping.quarantine import QuarantineKind
from logstream.state_table import reconcile_report_pk, s
from logstream.times import iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

#: The quarantine row of records that belong to no group (undecodable payloads).
NO_GROUP: Final = "(no group)"


def stored_reports(
    client: DynamoDBClient, table: str, log_group: str, since: date
) -> list[dict[str, Any]]:
    """Every stored report of ``log_group`` whose run started on or after ``since``
    (a run only checks ranges before its start), oldest first. Reports live 30 days."""
    reports: list[dict[str, Any]] = []
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk AND sk >= :since",
        "ExpressionAttributeValues": {
            ":pk": s(reconcile_report_pk(log_group)),
            ":since": s(iso(day_start_ms(since))),
        },
    }
    while True:
        page = client.query(**request)
        reports += [orjson.loads(item["report"]["S"]) for item in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            return reports
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def quarantine_by_reason(cluster: Cluster, quarantine_index: str) -> dict[str, dict[str, int]]:
    """Parked records per log group and reason: the record's kind, and for documents
    the cluster refused, why (``rejected_document: mapper_parsing_exception``)."""
    if not cluster.index_exists(quarantine_index):
        return {}
    cluster.refresh(quarantine_index)
    response = cluster.search(
        quarantine_index,
        body={
            "size": 0,
            "aggs": {
                "groups": {
                    "terms": {"field": "log_group", "size": 10_000, "missing": ""},
                    "aggs": {
                        "kinds": {
                            "terms": {"field": "kind", "size": 100},
                            "aggs": {
                                "classes": {
                                    "terms": {"field": "error_class", "size": 100, "missing": ""}
                                }
                            },
                        }
                    },
                }
            },
        },
    )
    counts: dict[str, dict[str, int]] = {}
    for group in response.get("aggregations", {}).get("groups", {}).get("buckets", []):
        by_reason = counts.setdefault(str(group["key"]) or NO_GROUP, {})
        for kind in group["kinds"]["buckets"]:
            if kind["key"] != QuarantineKind.REJECTED_DOCUMENT.value:
                by_reason[str(kind["key"])] = int(kind["doc_count"])
                continue
            for cls in kind["classes"]["buckets"]:
                reason = f"{kind['key']}: {cls['key'] or 'unknown'}"
                by_reason[reason] = by_reason.get(reason, 0) + int(cls["doc_count"])
    return counts


def load_ledger(
    dynamodb: DynamoDBClient,
    table: str,
    cluster: Cluster,
    quarantine_index: str,
    *,
    log_groups: Sequence[str],
    days: Sequence[date],
    now: datetime,
) -> Ledger:
    """The ledger of ``log_groups`` over ``days``, as stored right now."""
    reports = {group: stored_reports(dynamodb, table, group, days[0]) for group in log_groups}
    quarantine = quarantine_by_reason(cluster, quarantine_index)
    return build_ledger(reports, quarantine, days, now)
