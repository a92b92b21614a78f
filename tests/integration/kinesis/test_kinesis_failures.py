"""``logstream failures replay`` with Transport=kinesis: an on-failure record names a range of
the stream (no data); the replay reads that range back and ships it, then deletes the message."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import boto3
import pytest

from devstack.payloads import make_events, subscription_payload
from logstream.cli import main
from tests.integration.conftest import Deployment

GROUP = "/aws/lambda/kinesis-failures"
TS = 1764000000000


def _kinesis_failure(stream_arn: str, shard: str, first: str, last: str, size: int) -> str:
    """What an event source mapping sends its on-failure destination for a Kinesis batch."""
    return json.dumps(
        {
            "requestContext": {
                "requestId": "c9b8a7d6-1234-4e5f-8a9b-0c1d2e3f4a5b",
                "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:decoder",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": 4,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
            "version": "1.0",
            "timestamp": "2026-12-02T20:00:00.000Z",
            "KinesisBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": first,
                "endSequenceNumber": last,
                "approximateArrivalOfFirstRecord": "2026-12-02T19:59:58.000Z",
                "approximateArrivalOfLastRecord": "2026-12-02T19:59:59.000Z",
                "batchSize": size,
                "streamArn": stream_arn,
            },
        }
    )


def _ids(deployment: Deployment) -> set[str]:
    deployment.refresh()
    if not deployment.search.indices.exists_alias(name=deployment.settings.alias):
        return set()
    hits = deployment.search.search(
        index=deployment.settings.alias,
        body={"size": 10_000, "query": {"match_all": {}}, "_source": False},
    )["hits"]["hits"]
    return {hit["_id"] for hit in hits}


def _depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_a_kinesis_failure_is_read_back_from_the_stream_and_replayed(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    region = deployment.settings.aws_region
    kinesis = boto3.client("kinesis", region_name=region)
    sqs = boto3.client("sqs", region_name=region)
    name = f"logstream-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    stream_arn = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamARN"
    ]
    queue_url = sqs.create_queue(QueueName=f"failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]

    # Four deliveries, as CloudWatch writes them; the middle two failed in the decoder.
    deliveries = [make_events(25, TS + i * 10_000, first_sequence=i * 25) for i in range(4)]
    written = []
    for events in deliveries:
        data = base64.b64decode(subscription_payload(GROUP, "s", events)["awslogs"]["data"])
        written.append(kinesis.put_record(StreamARN=stream_arn, Data=data, PartitionKey="k"))
    shard = written[1]["ShardId"]
    first, last = written[1]["SequenceNumber"], written[2]["SequenceNumber"]
    sqs.send_message(
        QueueUrl=queue_url, MessageBody=_kinesis_failure(stream_arn, shard, first, last, 2)
    )
    # A range the stream no longer holds all of (past the retention): kept and reported.
    gone = _kinesis_failure(stream_arn, shard, written[3]["SequenceNumber"], "99999999", 5)
    sqs.send_message(QueueUrl=queue_url, MessageBody=gone)

    command = ["--json", "failures", "replay", "--queue-url", queue_url, "--seconds", "60"]
    assert main(command) == 1  # the incomplete range stays
    report = json.loads(capsys.readouterr().out)
    assert (report["messages"], report["replayed"], report["unreadable"]) == (2, 1, 1)
    assert (report["events"], report["delivered"]) == (50, 50)
    assert "1 of 5 records" in " ".join(report["errors"])
    expected = {event["id"] for events in deliveries[1:3] for event in events}
    assert _ids(deployment) == expected  # exactly the failed range, nothing around it
    assert _depth(sqs, queue_url) == 1
