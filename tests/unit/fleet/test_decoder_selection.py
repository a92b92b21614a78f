"""The decoder in account mode ships only the groups the selection takes; exclusions hold in
every mode. A skipped batch is counted, not an error, and nothing of it reaches the cluster."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import pytest

from devstack.payloads import encode_data
from logstream.fleet.selection import Exclusions, GroupSelection
from logstream.retry import Deadline
from logstream.settings import SelectionMode
from logstream.shipping.delivery import DeliveryReport
from logstream.shipping.documents import Document
from logstream.shipping.live import LiveShipper
from logstream.shipping.parking import Parking
from logstream.shipping.service import Shipper

DEADLINE = Deadline(lambda: 60_000)


class RecordingSink:
    def __init__(self) -> None:
        self.documents: list[Document] = []

    def deliver(self, documents: Sequence[Document], deadline: Deadline) -> DeliveryReport:
        self.documents.extend(documents)
        return DeliveryReport(delivered=list(documents), requests=1)

    def stream_part_size(self, total: int) -> int:
        return max(1, total)

    def deliver_stream(
        self, parts: Iterable[Sequence[Document]], deadline: Deadline
    ) -> DeliveryReport:
        return self.deliver([d for part in parts for d in part], deadline)


def _payload(group: str, events: int) -> str:
    body = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": group,
        "logStream": "s",
        "subscriptionFilters": ["stack-logstream"],
        "logEvents": [
            {"id": str(i), "timestamp": 1_763_967_600_000 + i, "message": "m"}
            for i in range(events)
        ],
    }
    return encode_data(json.dumps(body).encode())


def _shipper(selection: GroupSelection) -> tuple[LiveShipper, RecordingSink]:
    sink = RecordingSink()
    shipper = Shipper(sink, Parking(sink, "logs-quarantine", None), index_prefix="logs", region="r")
    return LiveShipper(shipper, checkpoints=None, selection=selection), sink


@pytest.mark.parametrize(
    ("selection", "group", "shipped"),
    [
        (GroupSelection(SelectionMode.ACCOUNT, prefixes=("/app/",)), "/app/orders", True),
        (GroupSelection(SelectionMode.ACCOUNT, prefixes=("/app/",)), "/ecs/web", False),
        (GroupSelection(SelectionMode.ACCOUNT), "/ecs/web", True),
        # A hand-made filter on a group outside LOG_GROUPS is honoured in list mode...
        (GroupSelection(SelectionMode.LIST, names=frozenset({"/a"})), "/ecs/web", True),
        # ...but an excluded group is never shipped, whatever the mode.
        (
            GroupSelection(SelectionMode.LIST, excluded=Exclusions(prefixes=("/ecs/",))),
            "/ecs/web",
            False,
        ),
    ],
)
def test_which_batches_the_decoder_ships(
    selection: GroupSelection, group: str, shipped: bool
) -> None:
    live, sink = _shipper(selection)
    report = live.ship_payload(_payload(group, 3), DEADLINE)
    assert len(sink.documents) == (3 if shipped else 0)
    assert report.events == (3 if shipped else 0)
