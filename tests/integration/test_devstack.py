"""Smoke test of the local stack itself: if this fails, other integration
failures are about the stack, not about logstream."""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests

from devstack.fault_proxy import REJECTED_EXECUTION, FaultProxy

pytestmark = pytest.mark.integration

NDJSON = "application/x-ndjson"


@pytest.fixture(scope="session")
def _layer_is_the_built_one() -> None:
    """Overrides the directory's autouse check for this module only: nothing here
    imports logstream, so the stack can be smoke-tested before ``sam build``."""


def _bulk_body(index: str, ids: list[str]) -> bytes:
    lines: list[str] = []
    for doc_id in ids:
        lines.append(json.dumps({"create": {"_index": index, "_id": doc_id}}))
        lines.append(
            json.dumps({"message": f"event {doc_id}", "@timestamp": "2026-11-24T00:00:00Z"})
        )
    return ("\n".join(lines) + "\n").encode()


def _post_gzip_bulk(proxy: FaultProxy, body: bytes) -> requests.Response:
    return requests.post(
        f"{proxy.url}/_bulk",
        params={"refresh": "true"},
        data=gzip.compress(body),
        headers={
            "Content-Type": NDJSON,
            "Content-Encoding": "gzip",
            "Accept-Encoding": "gzip",
        },
        timeout=60,
    )


def _count(opensearch_url: str, index: str) -> int:
    resp = requests.get(f"{opensearch_url}/{index}/_count", timeout=30)
    resp.raise_for_status()
    count: int = resp.json()["count"]
    return count


def _statuses(result: dict[str, Any]) -> list[int]:
    return [next(iter(item.values()))["status"] for item in result["items"]]


@pytest.fixture
def index(opensearch_url: str) -> Iterator[str]:
    name = f"devstack-smoke-{uuid.uuid4().hex[:12]}"
    yield name
    requests.delete(f"{opensearch_url}/{name}", timeout=30)


def test_opensearch_is_the_real_2_19(opensearch_url: str) -> None:
    info = requests.get(opensearch_url, timeout=30).json()
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"].startswith("2.19.")


def test_gzip_bulk_passes_through_the_proxy(
    fault_proxy: FaultProxy, opensearch_url: str, index: str
) -> None:
    resp = _post_gzip_bulk(fault_proxy, _bulk_body(index, ["a", "b", "c"]))

    assert resp.status_code == 200
    result = resp.json()
    assert result["errors"] is False
    assert _statuses(result) == [201, 201, 201]
    assert _count(opensearch_url, index) == 3
    stats = fault_proxy.stats
    assert (stats.bulk_requests_seen, stats.faults_injected) == (1, 0)


def test_reject_requests_answers_429_then_recovers(
    fault_proxy: FaultProxy, opensearch_url: str, index: str
) -> None:
    body = _bulk_body(index, ["x", "y"])
    fault_proxy.reject_requests(2)

    first, second, third = (_post_gzip_bulk(fault_proxy, body) for _ in range(3))

    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert first.json()["error"]["type"] == REJECTED_EXECUTION
    assert first.json()["status"] == 429
    assert _statuses(third.json()) == [201, 201]
    # The rejected attempts never reached OpenSearch.
    assert _count(opensearch_url, index) == 2
    assert fault_proxy.stats.requests_rejected == 2


def test_reject_items_fails_every_item_but_the_writes_happened(
    fault_proxy: FaultProxy, opensearch_url: str, index: str
) -> None:
    body = _bulk_body(index, ["p", "q", "r"])
    fault_proxy.reject_items(1)

    rejected = _post_gzip_bulk(fault_proxy, body)

    assert rejected.status_code == 200
    # The proxy re-compressed its rewritten answer because the client accepts gzip.
    assert rejected.headers.get("Content-Encoding") == "gzip"
    result = rejected.json()
    assert result["errors"] is True
    assert _statuses(result) == [429, 429, 429]
    assert {item["create"]["error"]["type"] for item in result["items"]} == {REJECTED_EXECUTION}
    assert fault_proxy.stats.items_rejected == 3

    # Only the response was faked: a create-op retry now meets the real documents.
    retry = _post_gzip_bulk(fault_proxy, body).json()
    assert _statuses(retry) == [409, 409, 409]
    assert _count(opensearch_url, index) == 3


def test_moto_cloudwatch_logs_round_trip_over_http(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in aws_env.items():
        monkeypatch.setenv(name, value)
    # No endpoint_url argument: boto3 must find moto through AWS_ENDPOINT_URL.
    logs = boto3.client("logs")
    assert logs.meta.endpoint_url == aws_env["AWS_ENDPOINT_URL"]
    group = f"/devstack/smoke-{uuid.uuid4().hex[:8]}"
    now = int(time.time() * 1000)

    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        logEvents=[{"timestamp": now + i, "message": f"line {i}"} for i in range(3)],
    )
    events = logs.filter_log_events(logGroupName=group)["events"]

    assert [e.get("message") for e in events] == ["line 0", "line 1", "line 2"]
    assert {e.get("logStreamName") for e in events} == {"s1"}
