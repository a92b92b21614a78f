"""Transport=kinesis end to end: two accounts' log groups -> Kinesis -> the built decoder.

moto plays CloudWatch Logs and Kinesis; the test plays the two parts moto
5.2 cannot:

- **The CloudWatch Logs destination.** moto accepts ``PutDestination`` but
  refuses a subscription filter that points at one (it looks the ARN up as a
  log group). So the source account's group subscribes to a stream in its own
  account (moto delivers real DATA_MESSAGE records there), and the test
  forwards those records' bytes into the central stream, as the destination
  would. The central account's group subscribes to the central stream
  directly, as template.yaml lets it.
- **The event source mapping.** The test reads the central stream with
  GetRecords and hands the built handler the records in Lambda's Kinesis
  event shape, then does what Lambda does with ``batchItemFailures``.

One moto quirk is corrected: moto writes each event's ``id`` as a JSON number
(its global counter); CloudWatch sends a string. :func:`_as_cloudwatch_sends`
turns it into the same string FilterLogEvents reports (``eventId``) and keeps
everything else.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from devstack.cloudwatch import put_events
from devstack.fault_proxy import FaultProxy
from devstack.kinesis_events import esm_event, from_get_records, read_stream
from devstack.payloads import make_events
from tests.integration.conftest import Deployment
from tests.support.lambda_harness import invoke

CENTRAL_ACCOUNT = "123456789012"  # moto's default account: the deployment's own clients
SOURCE_ACCOUNT = "222222222222"
REGION = "us-east-1"
#: Events per PutLogEvents call (each call becomes one Kinesis record) and calls per stream.
EVENTS_PER_PUT = 40
PUTS_PER_STREAM = 2


@dataclass
class Account:
    """One moto account's Logs and Kinesis clients."""

    account_id: str
    logs: Any
    kinesis: Any


def _account(aws_env: dict[str, str], account_id: str) -> Account:
    """Clients of ``account_id``: moto maps the credentials of an assumed role to its account."""
    endpoint, region = aws_env["AWS_ENDPOINT_URL"], REGION
    sts = boto3.client(
        "sts",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/logstream-test", RoleSessionName="kinesis-test"
    )["Credentials"]
    session = boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )
    identity = session.client("sts", endpoint_url=endpoint).get_caller_identity()
    assert identity["Account"] == account_id
    return Account(
        account_id,
        session.client("logs", endpoint_url=endpoint),
        session.client("kinesis", endpoint_url=endpoint),
    )


def _stream(account: Account, name: str, *, shards: int | None = None) -> str:
    """An on-demand stream, or one of ``shards`` provisioned shards."""
    if shards is None:
        account.kinesis.create_stream(
            StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"}
        )
    else:
        account.kinesis.create_stream(StreamName=name, ShardCount=shards)
    summary = account.kinesis.describe_stream_summary(StreamName=name)
    arn: str = summary["StreamDescriptionSummary"]["StreamARN"]
    return arn


def _subscribe(account: Account, group: str, stream_arn: str) -> None:
    account.logs.create_log_group(logGroupName=group)
    account.logs.put_subscription_filter(
        logGroupName=group,
        filterName="logstream-logstream",
        filterPattern="",
        destinationArn=stream_arn,
        roleArn=f"arn:aws:iam::{account.account_id}:role/logstream-LogsToKinesisRole",
    )


def _write(account: Account, group: str, seed: int) -> None:
    """PUTS_PER_STREAM deliveries on each of two streams, minutes before now."""
    start = int(time.time() * 1000) - 10 * 60_000
    for stream in range(2):
        for put in range(PUTS_PER_STREAM):
            events = make_events(
                EVENTS_PER_PUT,
                start + (stream * PUTS_PER_STREAM + put) * EVENTS_PER_PUT * 100,
                step_ms=100,
                seed=seed + stream * 10 + put,
            )
            put_events(account.logs, group, f"2026/12/02/[$LATEST]{stream}", events)


def _as_cloudwatch_sends(data: bytes) -> bytes:
    """The record with each event id as the string CloudWatch sends (see the module docstring)."""
    payload = json.loads(gzip.decompress(data))
    for event in payload.get("logEvents", []):
        event["id"] = str(event["id"])
    return gzip.compress(json.dumps(payload).encode())


def _events_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = json.loads(gzip.decompress(record["Data"]))["logEvents"]
    return events


@dataclass
class TwoAccounts:
    central: Account
    source: Account
    stream_arn: str
    central_group: str
    source_group: str


@pytest.fixture
def make_two_accounts(aws_env: dict[str, str]) -> Iterator[Callable[[], TwoAccounts]]:
    """Builds both accounts, subscribed, every delivery already in the central stream.

    A factory, called after the deployment fixture: that one starts by deleting
    the central account's log groups.
    """
    cleanups: list[Callable[[], object]] = []

    def make() -> TwoAccounts:
        suffix = uuid.uuid4().hex[:8]
        central = _account(aws_env, CENTRAL_ACCOUNT)
        source = _account(aws_env, SOURCE_ACCOUNT)
        # One shard: Lambda's batches come from one shard each, and moto numbers
        # records per shard (the same sequence number shows up on every shard).
        stream_arn = _stream(central, f"logstream-{suffix}", shards=1)
        relay_arn = _stream(source, f"destination-stand-in-{suffix}")
        setup = TwoAccounts(
            central, source, stream_arn, f"/aws/lambda/orders-{suffix}", f"/ecs/payments-{suffix}"
        )
        cleanups.extend(
            [
                lambda: source.logs.delete_log_group(logGroupName=setup.source_group),
                lambda: source.kinesis.delete_stream(StreamARN=relay_arn),
                lambda: central.kinesis.delete_stream(StreamARN=stream_arn),
            ]
        )
        _subscribe(central, setup.central_group, stream_arn)
        _subscribe(source, setup.source_group, relay_arn)
        _write(central, setup.central_group, seed=1)
        _write(source, setup.source_group, seed=2)
        # The destination's part: the source account's records, bytes unchanged, into the stream.
        for record in read_stream(source.kinesis, relay_arn):
            central.kinesis.put_record(
                StreamARN=stream_arn, Data=record["Data"], PartitionKey=record["PartitionKey"]
            )
        return setup

    yield make
    for cleanup in cleanups:
        cleanup()


def _records(setup: TwoAccounts) -> list[dict[str, Any]]:
    """The central stream's records, with moto's ids as CloudWatch's strings."""
    records = read_stream(setup.central.kinesis, setup.stream_arn)
    return [{**record, "Data": _as_cloudwatch_sends(record["Data"])} for record in records]


def _documents(deployment: Deployment) -> list[dict[str, Any]]:
    deployment.refresh()
    if not deployment.search.indices.exists_alias(name=deployment.settings.alias):
        return []
    hits = deployment.search.search(
        index=deployment.settings.alias,
        body={"size": 10_000, "query": {"match_all": {}}, "_source": ["log_group", "owner"]},
    )["hits"]["hits"]
    return [{"_id": hit["_id"], **hit["_source"]} for hit in hits]


def _decode(event: dict[str, Any], timeout_seconds: float = 120.0) -> dict[str, Any]:
    response: dict[str, Any] = invoke("DecoderFunction", event, timeout_seconds=timeout_seconds)
    return response


def _batches(event: dict[str, Any], size: int) -> list[dict[str, Any]]:
    records = event["Records"]
    return [esm_event(records[i : i + size]) for i in range(0, len(records), size)]


def test_two_accounts_land_exactly_once_with_their_account(
    deployment: Deployment, make_two_accounts: Callable[[], TwoAccounts]
) -> None:
    setup = make_two_accounts()
    records = _records(setup)
    deliveries = 2 * PUTS_PER_STREAM * 2  # two groups, two streams each
    assert len(records) == deliveries  # one record per PutLogEvents call, none lost by moto
    expected = {
        event["id"]: json.loads(gzip.decompress(record["Data"]))["logGroup"]
        for record in records
        for event in _events_of(record)
    }
    assert len(expected) == deliveries * EVENTS_PER_PUT

    event = from_get_records(records, stream_arn=setup.stream_arn, region=REGION)
    for batch in _batches(event, 3):
        assert _decode(batch) == {"batchItemFailures": []}

    documents = _documents(deployment)
    assert len(documents) == len(expected)  # exactly once: no duplicate, none missing
    assert {doc["_id"]: doc["log_group"] for doc in documents} == expected
    owners = {doc["log_group"]: doc["owner"] for doc in documents}
    assert owners == {setup.central_group: CENTRAL_ACCOUNT, setup.source_group: SOURCE_ACCOUNT}

    # Lambda sends a batch again after a timeout or a bisect: nothing changes.
    for batch in _batches(event, 5):
        assert _decode(batch) == {"batchItemFailures": []}
    assert sorted(d["_id"] for d in _documents(deployment)) == sorted(expected)


def _poisoned(setup: TwoAccounts) -> tuple[dict[str, Any], str]:
    """The stream's records with a corrupt one written between them; its sequence number."""
    middle = setup.central.kinesis.put_record(
        StreamARN=setup.stream_arn, Data=b"\x1f\x8b\x08 not a gzip stream", PartitionKey="poison"
    )["SequenceNumber"]
    records = _records_keeping_poison(setup)
    assert len({record["SequenceNumber"] for record in records}) == len(records)
    # Place the poisoned record in the middle of the batch, as if written there.
    good = [r for r in records if r["SequenceNumber"] != middle]
    (poison,) = [r for r in records if r["SequenceNumber"] == middle]
    half = len(good) // 2
    ordered = [*good[:half], poison, *good[half:]]
    return from_get_records(ordered, stream_arn=setup.stream_arn, region=REGION), middle


def _records_keeping_poison(setup: TwoAccounts) -> list[dict[str, Any]]:
    records = read_stream(setup.central.kinesis, setup.stream_arn)
    fixed = []
    for record in records:
        try:
            data = _as_cloudwatch_sends(record["Data"])
        except (OSError, EOFError, zlib.error):  # the poisoned record: passed on as written
            data = record["Data"]
        fixed.append({**record, "Data": data})
    return fixed


def test_a_poisoned_record_is_parked_alone_and_a_resend_changes_nothing(
    deployment: Deployment, make_two_accounts: Callable[[], TwoAccounts]
) -> None:
    event, poisoned_sequence = _poisoned(make_two_accounts())
    assert _decode(event) == {"batchItemFailures": []}  # parked, not failed: see kinesis.py

    documents = _documents(deployment)
    expected = 2 * 2 * PUTS_PER_STREAM * EVENTS_PER_PUT
    assert len(documents) == expected
    parked = deployment.quarantine()
    assert len(parked) == 1
    (record,) = parked
    assert record["kind"] == "bad_payload"
    assert record["error_type"] == "corrupt_gzip"
    assert poisoned_sequence in record["reason"]

    assert _decode(event) == {"batchItemFailures": []}
    assert len(_documents(deployment)) == expected
    assert len(deployment.quarantine()) == 1  # the same record id: not parked twice


def test_an_undeliverable_record_alone_is_reported_and_lands_when_sent_again(
    deployment_behind_proxy: Deployment,
    fault_proxy: FaultProxy,
    make_two_accounts: Callable[[], TwoAccounts],
) -> None:
    deployment = deployment_behind_proxy
    setup = make_two_accounts()
    records = _records(setup)
    event = from_get_records(records[:4], stream_arn=setup.stream_arn, region=REGION)
    refused = records[1]
    refused_ids = [event_["id"] for event_ in _events_of(refused)]
    # The cluster refuses that record's documents on every try (item-level 503s).
    fault_proxy.fail_items(status=503, ids=refused_ids)

    # 40 s for 4 records: the refused one may use at most its share, then gives up.
    response = _decode(event, timeout_seconds=40)
    assert response == {"batchItemFailures": [{"itemIdentifier": refused["SequenceNumber"]}]}
    landed = {doc["_id"] for doc in _documents(deployment)}
    others = {
        e["id"] for record in records[:4] if record is not refused for e in _events_of(record)
    }
    # Its neighbours landed in this same invocation. (The proxy forwards the refused
    # documents before answering 503 for them, so they may be in the index too:
    # an answer lost on the way back, which only the resend can settle.)
    assert others <= landed
    assert landed <= others | set(refused_ids)

    # Lambda resumes the shard at the failed record: it and the ones after it come again.
    fault_proxy.clear_faults()
    resent = esm_event(event["Records"][1:])
    assert _decode(resent) == {"batchItemFailures": []}
    documents = _documents(deployment)
    assert sorted(doc["_id"] for doc in documents) == sorted(others | set(refused_ids))
    assert Counter(doc["_id"] for doc in documents).most_common(1)[0][1] == 1


def test_a_hung_record_uses_only_its_share_of_the_time(
    deployment_behind_proxy: Deployment,
    fault_proxy: FaultProxy,
    make_two_accounts: Callable[[], TwoAccounts],
) -> None:
    deployment = deployment_behind_proxy
    setup = make_two_accounts()
    records = _records(setup)[:4]
    event = from_get_records(records, stream_arn=setup.stream_arn, region=REGION)
    # The cluster never answers the first record's request. With 40 s for 4
    # records, it gives up at the end of its share (about a quarter) and is
    # reported; the rest ship in the time left. (Without shares it would wait
    # out HTTP_TIMEOUT_SECS and retry, and a longer hang would take the whole
    # invocation: checked by hand, that variant answers no failure here.)
    fault_proxy.hang(1)
    response = _decode(event, timeout_seconds=40)
    fault_proxy.clear_faults()
    assert response == {"batchItemFailures": [{"itemIdentifier": records[0]["SequenceNumber"]}]}
    others = {event_["id"] for record in records[1:] for event_ in _events_of(record)}
    assert others <= {doc["_id"] for doc in _documents(deployment)}
