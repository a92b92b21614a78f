"""The state table's DynamoDB endpoint is dead (connection refused) or hangs (accepts
TCP, never answers) while the decoder ships: the documents are delivered, the
checkpoint write fails, the invocation must fail before its deadline, and the
Lambda-style retry must add nothing twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.payloads import make_events, subscription_payload
from devstack.silent_server import SilentServer, dead_endpoint
from logstream import clients
from logstream.state_table import checkpoint_key
from tests.faults.matrix import CaseRow, invoke_within
from tests.integration.conftest import Deployment

START_MS = 1_764_100_000_000
GROUP = "/fault/state-table"
#: The decoder's Timeout in template.yaml: a watermark write needs time for two
#: bounded DynamoDB calls, so a much shorter budget skips it by design.
DECODER_TIMEOUT_S = 120.0


@pytest.fixture
def silent_server() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


@pytest.mark.parametrize("failure", ["dead", "hanging"])
def test_a_state_table_endpoint_that_is(
    deployment: Deployment,
    silent_server: SilentServer,
    monkeypatch: pytest.MonkeyPatch,
    fault_case: CaseRow,
    failure: str,
) -> None:
    endpoint = dead_endpoint() if failure == "dead" else silent_server.url
    fault_case.faults = (
        "DynamoDB endpoint refuses connections"
        if failure == "dead"
        else "DynamoDB endpoint accepts TCP and never answers"
    ) + "; then healed"
    events = make_events(500, START_MS, step_ms=23)
    payload = subscription_payload(GROUP, "s", events)
    fault_case.send(e["id"] for e in events)

    with monkeypatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        clients.reset()
        first = fault_case.timed(
            invoke_within("DecoderFunction", payload, DECODER_TIMEOUT_S, label=failure)
        )
        assert first.finished, first.describe()
        assert first.before_deadline, first.describe()
        # Visible: the call fails, or its report says no watermark moved (and the
        # CheckpointsSkipped metric counts it).
        assert first.error is not None or first.result["checkpoints_advanced"] == 0, first.result
    clients.reset()

    retry = fault_case.timed(
        invoke_within("DecoderFunction", payload, DECODER_TIMEOUT_S, label="Lambda retry")
    )
    retry.raise_error()
    fault_case.count(deployment.search, deployment.settings.index_prefix)
    assert (fault_case.lost, fault_case.duplicated) == (0, 0)
    assert retry.result["duplicates"] == len(events)  # the first call had delivered them
    item = deployment.dynamodb.get_item(
        TableName=deployment.settings.state_table or "",
        Key=checkpoint_key(GROUP, "s"),
        ConsistentRead=True,
    )["Item"]
    assert int(item["watermark"]["N"]) == events[-1]["timestamp"]
    assert fault_case.all_before_deadline, fault_case.invocations
