"""Reconciliation state in the DynamoDB state table: reconciled-through watermarks
and per-run reports (keys from :mod:`logstream.state_table`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import orjson
from botocore.exceptions import ClientError

from logstream.reconcile.report import GroupReport
from logstream.state_table import condition_failed, key, n, reconcile_report_pk, reconciled_key, s

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

#: Reports live 30 days (DynamoDB TTL on ``expires_at``).
REPORT_TTL_SECS: Final = 30 * 86_400


class DynamoReconcileState:
    """Watermarks (``pk=reconciled#<group>``, ``sk=watermark``) and reports
    (``pk=reconcile-report#<group>``, ``sk=<run start>``, 30-day TTL)."""

    def __init__(self, client: DynamoDBClient, table: str, clock: Callable[[], float] = time.time):
        self._client = client
        self._table = table
        self._clock = clock

    def watermark(self, log_group: str) -> int | None:
        item = self._client.get_item(
            TableName=self._table, Key=reconciled_key(log_group), ConsistentRead=True
        ).get("Item")
        if not item or "watermark" not in item:
            return None
        return int(item["watermark"]["N"])

    def advance(self, log_group: str, to_ms: int, *, from_ms: int | None = None) -> bool:
        values: dict[str, Any] = {":w": n(to_ms), ":now": n(int(self._clock() * 1000))}
        if from_ms is None:
            condition = "attribute_not_exists(watermark) OR watermark < :w"
        else:
            condition = "watermark >= :from AND watermark < :w"
            values[":from"] = n(from_ms)
        try:
            self._client.update_item(
                TableName=self._table,
                Key=reconciled_key(log_group),
                UpdateExpression="SET watermark = :w, updated_at = :now",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if condition_failed(error):
                return False  # already further, or a manual range not adjoining it
            raise
        return True

    def save_report(self, report: GroupReport) -> None:
        body = orjson.dumps(report.as_dict()).decode()
        self._client.put_item(
            TableName=self._table,
            Item={
                **key(reconcile_report_pk(report.log_group), report.run_started),
                "status": s(report.status.value),
                "gaps_found": n(report.gaps_found),
                "events_reshipped": n(report.events_reshipped),
                "events_still_missing": n(report.events_still_missing),
                "cloudwatch_calls": n(report.cloudwatch_calls),
                "report": s(body),
                "expires_at": n(int(self._clock()) + REPORT_TTL_SECS),
            },
        )

    def reports(self, log_group: str, limit: int = 10) -> list[dict[str, Any]]:
        """The newest stored reports of a group, newest first."""
        page = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": s(reconcile_report_pk(log_group))},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [orjson.loads(item["report"]["S"]) for item in page.get("Items", [])]
