"""Reading the ledger's inputs: stored reports from the state table (moto, in
process), and quarantine counts by reason through the cluster seam (a stand-in
that answers the aggregation the way OpenSearch shapes it)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.moto_server import create_state_table
from logstream.reconcile.report import GroupReport, Status
from logstream.reconcile.store import DynamoReconcileState
from logstream.report.ledger import DayState
from logstream.report.sources import NO_GROUP, load_ledger, quarantine_by_reason, stored_reports
from tests.unit.report.fixtures import D20, D21, DAYS, GAPPY, HOUR, NOW, REPORTS

TABLE = "logstream-report-test"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb")
        create_state_table(client, TABLE)
        yield client


def _store(client: Any, stored: Mapping[str, list[dict[str, Any]]]) -> None:
    state = DynamoReconcileState(client, TABLE, clock=NOW.timestamp)
    for reports in stored.values():
        for data in reports:
            group = GroupReport(data["log_group"], data["run_started"], Status(data["status"]))
            for name in GroupReport.__dataclass_fields__:
                if name not in {"status", "log_group", "run_started"}:
                    setattr(group, name, data[name])
            state.save_report(group)


class QuarantineStandIn:
    """Answers the quarantine aggregation with OpenSearch's response shape."""

    def __init__(self, buckets: list[dict[str, Any]] | None) -> None:
        self.buckets = buckets
        self.bodies: list[Mapping[str, Any]] = []

    def index_exists(self, index: str, *, timeout: float = 30) -> bool:
        return self.buckets is not None

    def refresh(self, index: str, *, timeout: float = 30) -> None:
        pass

    def search(self, index: str, body: Mapping[str, Any], *, timeout: float = 30) -> dict[str, Any]:
        self.bodies.append(body)
        return {"aggregations": {"groups": {"buckets": self.buckets}}}


def _kind(key: str, count: int, classes: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "key": key,
        "doc_count": count,
        "classes": {"buckets": [{"key": k, "doc_count": n} for k, n in classes]},
    }


BUCKETS = [
    {
        "key": GAPPY,
        "doc_count": 5,
        "kinds": {
            "buckets": [
                _kind("rejected_document", 4, [("mapper_parsing_exception", 3), ("", 1)]),
                _kind("bad_event", 1, [("", 1)]),
            ]
        },
    },
    {"key": "", "doc_count": 2, "kinds": {"buckets": [_kind("bad_payload", 2, [("", 2)])]}},
]


def test_stored_reports_come_back_oldest_first_from_the_first_day_on(dynamodb: Any) -> None:
    _store(dynamodb, REPORTS)
    reports = stored_reports(dynamodb, TABLE, GAPPY, DAYS[0])
    assert [r["run_started"] for r in reports] == sorted(r["run_started"] for r in REPORTS[GAPPY])
    assert reports == REPORTS[GAPPY]
    assert stored_reports(dynamodb, TABLE, GAPPY, DAYS[2]) == []


def test_quarantine_counts_by_group_and_reason() -> None:
    counts = quarantine_by_reason(QuarantineStandIn(BUCKETS), "logs-quarantine")  # type: ignore[arg-type]
    assert counts == {
        GAPPY: {
            "mapper_parsing_exception": 3,
            "rejected_document": 1,  # refused, no diagnosis recorded
            "bad_event": 1,
        },
        NO_GROUP: {"bad_payload": 2},
    }
    assert quarantine_by_reason(QuarantineStandIn(None), "logs-quarantine") == {}  # type: ignore[arg-type]


def test_the_ledger_from_what_is_stored(dynamodb: Any) -> None:
    _store(dynamodb, REPORTS)
    ledger = load_ledger(
        dynamodb,
        TABLE,
        QuarantineStandIn(BUCKETS),  # type: ignore[arg-type]
        "logs-quarantine",
        log_groups=[GAPPY],
        days=DAYS,
        now=NOW,
    )
    assert ledger.groups == (GAPPY,)
    assert [ledger.cell(GAPPY, d).state for d in DAYS] == [
        DayState.GAP_REPAIRED,
        DayState.GAP_OPEN,
        DayState.PENDING,
    ]
    assert ledger.cell(GAPPY, DAYS[1]).proven_ms == 5 * HOUR
    assert D21 - D20 == 24 * HOUR
    assert ledger.quarantine[NO_GROUP] == {"bad_payload": 2}
