"""Watermarks never claim an earlier failed batch's events (moto's DynamoDB, conditional writes)."""

from __future__ import annotations

from typing import Any

import boto3

from logstream.retry import Deadline
from logstream.shipping.checkpoints import DynamoCheckpointStore

STREAM = ("/aws/lambda/orders", "2026/12/02/[$LATEST]ab")
TIME = Deadline(lambda: 60_000)


def _store(aws_env: dict[str, str], table: str) -> tuple[DynamoCheckpointStore, Any]:
    client = boto3.client(
        "dynamodb",
        endpoint_url=aws_env["AWS_ENDPOINT_URL"],
        region_name=aws_env["AWS_REGION"],
        aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws_env["AWS_SECRET_ACCESS_KEY"],
    )
    return DynamoCheckpointStore(client, table, call_bound_secs=1), client


def test_a_failed_batch_holds_the_watermark_until_its_retry_delivers_it(
    aws_env: dict[str, str], state_table: str
) -> None:
    store, _ = _store(aws_env, state_table)
    # Batch A delivered 100 and 101; 102.. stayed undelivered (the invocation failed).
    assert store.settle("A", {STREAM: 101}, {STREAM: 102}, TIME) == 1
    assert store.get(*STREAM) == 101
    # Batch B, later events, all delivered: the watermark must not pass A's 102.
    assert store.settle("B", {STREAM: 205}, {}, TIME) == 0
    assert store.get(*STREAM) == 101
    # Lambda retries A, and this time everything lands: A's floor is released.
    assert store.settle("A", {STREAM: 104}, {}, TIME) == 1
    assert store.get(*STREAM) == 104
    # Nothing holds the stream any more.
    assert store.settle("C", {STREAM: 300}, {}, TIME) == 1
    assert store.get(*STREAM) == 300


def test_two_failed_batches_each_hold_until_their_own_retry(
    aws_env: dict[str, str], state_table: str
) -> None:
    store, _ = _store(aws_env, state_table)
    store.settle("A", {}, {STREAM: 100}, TIME)
    store.settle("B", {STREAM: 150}, {STREAM: 200}, TIME)
    assert store.get(*STREAM) == 99  # below A's floor
    store.settle("A", {STREAM: 120}, {}, TIME)  # A delivered; B still open
    assert store.get(*STREAM) == 120
    store.settle("D", {STREAM: 500}, {}, TIME)
    assert store.get(*STREAM) == 199  # below B's floor
    store.settle("B", {STREAM: 260}, {}, TIME)
    assert store.get(*STREAM) == 260


def test_a_retry_that_fails_again_moves_its_floor_not_the_watermark(
    aws_env: dict[str, str], state_table: str
) -> None:
    store, client = _store(aws_env, state_table)
    store.settle("A", {STREAM: 10}, {STREAM: 20}, TIME)
    store.settle("A", {STREAM: 25}, {STREAM: 30}, TIME)  # more landed, 30.. still out
    assert store.get(*STREAM) == 25
    store.settle("Z", {STREAM: 99}, {}, TIME)
    assert store.get(*STREAM) == 29
    item = client.get_item(
        TableName=state_table,
        Key={"pk": {"S": f"checkpoint#{STREAM[0]}"}, "sk": {"S": f"stream#{STREAM[1]}"}},
        ConsistentRead=True,
    )["Item"]
    assert {k: v["N"] for k, v in item.items() if k.startswith("floor_")} == {"floor_A": "30"}
