"""``quarantine list|show|redrive`` on the local stack: nothing leaves the quarantine unless it
landed in its index, counted by ``_id``."""

from __future__ import annotations

import json

import pytest

from devstack.payloads import make_events, subscription_payload
from logstream import clients
from logstream.cli import main
from logstream.naming import daily_index, document_id
from logstream.retry import Deadline
from tests.integration.conftest import Deployment

GROUP = "/app/cli-redrive"
TS = 1764000000000


def _index_ids(deployment: Deployment, index: str) -> set[str]:
    deployment.refresh()
    hits = deployment.search.search(
        index=index, body={"size": 10_000, "query": {"match_all": {}}, "_source": False}
    )["hits"]["hits"]
    return {hit["_id"] for hit in hits}


def test_redrive_lands_every_parked_document_once_its_cause_is_fixed(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = deployment.settings.index_prefix
    index = daily_index(prefix, GROUP, TS)
    events = make_events(200, TS, step_ms=10)
    expected = {document_id(e["id"]) for e in events}
    # The cause: the group's daily index is closed, so the cluster refuses every document.
    # The templates, as the first delivery installs them.
    clients.shipper().ensure_prepared(Deadline.after_seconds(60))
    deployment.search.indices.create(index=index)
    deployment.search.indices.close(index=index)
    for start in range(0, 200, 50):
        deployment.decode(subscription_payload(GROUP, "s", events[start : start + 50]))
    parked = deployment.quarantine()
    assert {p["doc_id"] for p in parked} == expected

    assert main(["--json", "quarantine", "list", "--group", GROUP, "--limit", "500"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert len(listed) == 200
    assert {r["reason"] for r in listed} == {"other"}
    record_id = listed[0]["record_id"]
    assert main(["quarantine", "show", record_id]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["record_id"] == record_id
    assert shown["error_type"] == "index_closed_exception"
    assert json.loads(shown["document"])["log_group"] == GROUP
    assert main(["quarantine", "show", "no-such-record"]) == 2
    assert "no quarantine record" in capsys.readouterr().err

    # Redriven before the fix: refused again, parked again, nothing deleted.
    assert main(["--json", "quarantine", "redrive", "--group", GROUP]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["records"], report["refused_again"], report["unparked"]) == (200, 200, 0)
    assert {p["doc_id"] for p in deployment.quarantine()} == expected

    # Fixed: every document lands in its own index under its own _id; the records go.
    deployment.search.indices.open(index=index)
    assert main(["quarantine", "redrive"]) == 0
    out = capsys.readouterr().out
    assert "delivered (record deleted)" in out
    assert _index_ids(deployment, index) == expected
    assert deployment.quarantine() == []
    # Once more: nothing left to do.
    assert main(["--json", "quarantine", "redrive", "--group", GROUP]) == 0
    assert json.loads(capsys.readouterr().out)["records"] == 0


def test_a_record_whose_document_is_already_indexed_is_deleted_and_others_stay(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    group = "/app/cli-redrive-mixed"
    good = [{"id": "g1", "timestamp": TS, "message": '{"code": 1}'}]
    bad = [{"id": "b1", "timestamp": TS + 1, "message": '{"code": "x"}'}]
    deployment.decode(subscription_payload(group, "s", good))
    deployment.decode(subscription_payload(group, "s", bad))
    assert [p["doc_id"] for p in deployment.quarantine()] == [document_id("b1")]
    # The cause is not fixed: the record stays, with its reason, under the same id.
    assert main(["--json", "quarantine", "redrive", "--reason", "mapper_parsing_exception"]) == 1
    assert json.loads(capsys.readouterr().out)["refused_again"] == 1
    assert [p["doc_id"] for p in deployment.quarantine()] == [document_id("b1")]
    assert main(["--json", "quarantine", "list", "--reason", "mapper_parsing_exception"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert main(["--json", "quarantine", "list", "--reason", "bad_payload"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert sum(deployment.counts_by_index().values()) == 1
