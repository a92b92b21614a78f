"""What the CLI builds beyond the functions' composition root (:mod:`logstream.clients`).

The operator-only services (status, quarantine views, redrive, failure replay,
tail) and the clients only the CLI uses (CloudFormation, SQS), all from the
same settings and cached clients as the functions.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import boto3

from logstream import clients
from logstream.errors import InputError
from logstream.operations.quarantine import QuarantineView
from logstream.settings import SettingsError, load_settings

if TYPE_CHECKING:
    from logstream.operations.failures import FailureReplay
    from logstream.operations.status import StatusReader
    from logstream.operations.tail import Tail
    from logstream.schema.parked import ParkedDocuments
    from logstream.shipping.redrive import Redrive


def state_table() -> str:
    table = load_settings().state_table
    if table is None:
        raise SettingsError({"STATE_TABLE": "is not set: pass --stack-name or set it"})
    return table


def quarantine_view() -> QuarantineView:
    return QuarantineView(clients.cluster(), load_settings().quarantine_index)


def parked_documents() -> ParkedDocuments:
    from logstream.schema.parked import ParkedDocuments  # noqa: PLC0415 - only redrive needs it

    return ParkedDocuments(clients.cluster(), clients.bulk_sink(), load_settings().quarantine_index)


def redrive() -> Redrive:
    from logstream.shipping.redrive import Redrive  # noqa: PLC0415 - only this command needs it

    return Redrive(parked_documents(), clients.shipper())


def status_reader() -> StatusReader:
    from logstream.operations.status import StatusReader  # noqa: PLC0415 - same

    return StatusReader(
        clients.dynamodb_client(),
        state_table(),
        clients.logs_client(),
        quarantine_view(),
        lambda: clients.backfill_service().list_jobs(),
        decoder_arn=os.environ.get("DECODER_FUNCTION_ARN") or None,
    )


def failure_replay(queue_url: str | None) -> FailureReplay:
    from logstream.operations.failures import FailureReplay  # noqa: PLC0415 - same
    from logstream.operations.kinesis_failures import KinesisRangeReader  # noqa: PLC0415

    url = queue_url or os.environ.get("FAILURE_QUEUE_URL")
    if not url:
        raise InputError(
            "no on-failure queue: pass --stack-name (output DecoderFailureQueueUrl), "
            "--queue-url or set FAILURE_QUEUE_URL"
        )
    region = load_settings().aws_region
    sqs = boto3.client("sqs", region_name=region)
    # Kinesis on-failure records name a range of the stream; it is read back from there.
    kinesis = KinesisRangeReader(boto3.client("kinesis", region_name=region))
    return FailureReplay(sqs, url, clients.live_shipper(), kinesis)


def tail(log_group: str) -> Tail:
    from logstream.operations.tail import Tail  # noqa: PLC0415 - same

    settings = load_settings()
    return Tail(clients.cluster(), settings.index_prefix, log_group, settings.index_layout)
