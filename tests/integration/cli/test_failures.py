"""``failures replay``: the on-failure queue's batches re-shipped, each message deleted only after
its batch landed; what fails again stays in the queue. Counted by ``_id``."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from devstack.payloads import make_events, subscription_payload
from logstream import clients
from logstream.cli import main
from logstream.naming import document_id
from tests.integration.cli.conftest import create_stack, forget_local_settings
from tests.integration.conftest import Deployment

GROUP = "/aws/lambda/cli-failures"
TS = 1764000000000


def _on_failure_record(subscription_event: dict[str, Any]) -> str:
    """What Lambda sends to an on-failure destination after the retries of an async invoke."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2026-11-24T16:00:00.000Z",
            "requestContext": {
                "requestId": "0f3f6a3e-1d2b-4c5d-9e8f-0a1b2c3d4e5f",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:decoder:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": subscription_event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
            "responsePayload": {"errorMessage": "3 of 100 documents undelivered"},
        }
    )


def _queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _index_ids(deployment: Deployment) -> set[str]:
    deployment.refresh()
    hits = deployment.search.search(
        index=deployment.settings.alias,
        body={"size": 10_000, "query": {"match_all": {}}, "_source": False},
    )["hits"]["hits"]
    return {hit["_id"] for hit in hits}


def test_replay_ships_every_failed_batch_and_keeps_what_fails_again(
    deployment_behind_proxy: Deployment,
    fault_proxy: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deployment = deployment_behind_proxy
    stack = create_stack(deployment)
    sqs = boto3.client("sqs", region_name=deployment.settings.aws_region)
    events = make_events(300, TS, step_ms=100)
    expected = {document_id(e["id"]) for e in events}
    # Three batches the decoder gave up on; one of them had partly landed before.
    batches = [events[i : i + 100] for i in range(0, 300, 100)]
    deployment.decode(subscription_payload(GROUP, "s", batches[1][:40]))
    forget_local_settings(monkeypatch)  # from here on, the stack names everything
    for batch in batches:
        sqs.send_message(
            QueueUrl=stack.queue_url,
            MessageBody=_on_failure_record(subscription_payload(GROUP, "s", batch)),
        )
    sqs.send_message(QueueUrl=stack.queue_url, MessageBody='{"not": "a failure record"}')
    replay = ["--stack-name", stack.name, "--json", "failures", "replay", "--seconds", "120"]

    # The cluster refuses (403) while replaying: every message stays in the queue.
    fault_proxy.reject_requests(10_000, status=403)
    assert main(replay) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["messages"], report["failed"], report["unreadable"]) == (4, 3, 1)
    assert report["replayed"] == 0
    assert _queue_depth(sqs, stack.queue_url) == 4
    fault_proxy.clear_faults()
    clients.reset()

    # The cluster is back: every batch lands, and only then is its message deleted.
    assert main(replay) == 1  # the message that is not a failure record stays
    report = json.loads(capsys.readouterr().out)
    assert (report["messages"], report["replayed"], report["unreadable"]) == (4, 3, 1)
    assert (report["events"], report["delivered"], report["duplicates"]) == (300, 260, 40)
    assert _index_ids(deployment) == expected
    assert _queue_depth(sqs, stack.queue_url) == 1
    assert deployment.quarantine() == []


def test_replay_needs_a_queue(deployment: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["failures", "replay"]) == 2
    assert "no on-failure queue" in capsys.readouterr().err
