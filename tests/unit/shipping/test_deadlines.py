"""Deadlines around shipping: nothing may hold an invocation past its time.

The hanging endpoint is a real loopback TCP server that accepts and never
answers; the timeouts are injected and small, and nothing asserts on wall time.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError

from logstream.cluster.opensearch import OPENSEARCH
from logstream.cluster.port import DEFAULT_TIMEOUT, ClusterError
from logstream.observability import metrics
from logstream.retry import Deadline
from logstream.schema.templates import ensure_templates
from logstream.settings import Settings
from logstream.shipping.checkpoints import DynamoCheckpointStore, LiveCheckpoints, StreamKey
from logstream.shipping.delivery import DeliveryReport
from logstream.shipping.documents import Document, EventOrigin
from logstream.shipping.parking import Parking
from logstream.shipping.service import Shipper


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A loopback server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for connection in held:
        connection.close()
    server.close()


def _dynamodb(endpoint: str, config: Config) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=config,
    )


def test_a_dynamodb_endpoint_that_never_answers_fails_the_call(silent_endpoint: str) -> None:
    config = Config(
        connect_timeout=0.2, read_timeout=0.2, retries={"mode": "standard", "total_max_attempts": 1}
    )
    store = DynamoCheckpointStore(_dynamodb(silent_endpoint, config), "t", call_bound_secs=0.5)
    with pytest.raises(BotoCoreError):
        store.settle("batch", {("g", "s"): 1}, {}, Deadline(lambda: 60_000))


def test_the_composition_roots_boto_config_bounds_every_call() -> None:
    from logstream import clients  # noqa: PLC0415

    config: Any = clients._BOTO_CONFIG  # the one config every client uses
    assert config.read_timeout is not None
    assert config.connect_timeout is not None
    assert config.retries is not None
    attempts = config.retries["total_max_attempts"]
    bound = attempts * (config.read_timeout + config.connect_timeout)
    assert bound < clients.BOTO_CALL_BOUND_SECS < 30


class RecordingDynamo:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def update_item(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        return {}

    def get_item(self, **request: Any) -> dict[str, Any]:
        return {}  # no item yet


def test_a_checkpoint_write_without_time_left_is_skipped_and_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)  # metrics are read below
    client = RecordingDynamo()
    store = DynamoCheckpointStore(client, "t", call_bound_secs=10)  # type: ignore[arg-type]
    metrics.clear_metrics()
    # A watermark takes a read and a write: 2 call bounds of time.
    moved = store.settle("b", {("g", "a"): 5, ("g", "b"): 6}, {}, Deadline(lambda: 19_000))
    assert moved == 0
    assert client.calls == []
    assert metrics.metric_set["CheckpointsSkipped"]["Value"] == [2]
    assert store.settle("b", {("g", "a"): 5}, {}, Deadline(lambda: 21_000)) == 1
    assert len(client.calls) == 1


class RecordingTemplates:
    capabilities = OPENSEARCH

    def __init__(self) -> None:
        self.timeouts: list[float] = []

    def index_templates(self, name: str, *, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        self.timeouts.append(timeout)
        return {}

    def put_index_template(
        self, name: str, body: Mapping[str, Any], *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.timeouts.append(timeout)


def test_template_installation_spends_only_the_time_left() -> None:
    settings = Settings.from_env({"AWS_REGION": "us-east-1", "HTTP_TIMEOUT_SECS": "30"})
    cluster = RecordingTemplates()
    ensure_templates(cluster, settings, Deadline(lambda: 4_000))  # type: ignore[arg-type]
    assert cluster.timeouts
    assert all(0 < t <= 4 for t in cluster.timeouts)
    with pytest.raises(ClusterError, match="no time left"):
        ensure_templates(RecordingTemplates(), settings, Deadline(lambda: 0))  # type: ignore[arg-type]


class DeliverAll:
    def deliver(self, documents: Sequence[Document], deadline: Deadline) -> DeliveryReport:
        return DeliveryReport(delivered=list(documents), requests=1)

    def stream_part_size(self, total: int) -> int:
        return max(1, total)

    def deliver_stream(
        self, parts: Iterable[Sequence[Document]], deadline: Deadline
    ) -> DeliveryReport:
        return self.deliver([d for part in parts for d in part], deadline)


class BrokenCheckpoints:
    def settle(
        self,
        batch: str,
        marks: Mapping[StreamKey, int],
        floors: Mapping[StreamKey, int],
        deadline: Deadline,
    ) -> int:
        raise RuntimeError("state table unreachable")

    def get(self, log_group: str, log_stream: str) -> int | None:
        return None


def test_a_failed_checkpoint_write_after_delivery_still_emits_the_metrics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)  # metrics are read below
    sink = DeliverAll()
    shipper = Shipper(sink, Parking(sink, "q", rescue=None), index_prefix="logs", region="r")
    events = [{"id": f"e{i}", "timestamp": 1_700_000_000_000 + i, "message": "m"} for i in range(3)]
    origin = EventOrigin(log_group="g", log_stream="s", owner="1", region="r")
    metrics.clear_metrics()
    with pytest.raises(RuntimeError, match="unreachable"):
        shipper.ship_events(
            events,
            origin,
            Deadline(lambda: 60_000),
            checkpoints=LiveCheckpoints(BrokenCheckpoints(), "batch"),
        )
    assert metrics.metric_set["DocumentsDelivered"]["Value"] == [3]
    assert metrics.metric_set["EventsReceived"]["Value"] == [3]
