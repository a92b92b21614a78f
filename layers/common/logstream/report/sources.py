"""Where the completeness report reads from: the reconciler's stored reports in the
state table, and the quarantine's counts by group and reason through the cluster seam."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final

import orjson

from logstream.cluster.port import Cluster
from logstream.operations.quarantine import QuarantineView
from logstream.report.ledger import Ledger, build_ledger, day_start_ms
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
    """Parked records per log group and reason, as the operator command counts them
    (:meth:`~logstream.operations.quarantine.QuarantineView.counts_by_reason`: the
    diagnosis of a refused document, else the record's kind); records of no group
    under :data:`NO_GROUP`."""
    counts = QuarantineView(cluster, quarantine_index).counts_by_reason()
    return {group or NO_GROUP: reasons for group, reasons in counts.items()}


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
