"""A node killed with SIGKILL in the middle of an invocation, restarted, and the
Lambda-style retry. A dedicated OpenSearch (never the shared one) behind the
FaultProxy, which only counts requests here so the kill lands mid-batch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devstack.fault_proxy import FaultProxy
from devstack.opensearch_server import OpenSearchServer
from devstack.payloads import make_events, subscription_payload
from logstream import clients
from logstream.errors import InfrastructureError
from tests.faults.matrix import CaseRow, invoke_within
from tests.integration.conftest import Deployment, _deployment


@pytest.fixture
def dedicated_node() -> Iterator[OpenSearchServer]:
    with OpenSearchServer(heap="384m") as server:
        yield server


@pytest.fixture
def killable(
    monkeypatch: pytest.MonkeyPatch,
    dedicated_node: OpenSearchServer,
    aws_env: dict[str, str],
    state_table: str,
) -> Iterator[tuple[Deployment, FaultProxy]]:
    with FaultProxy(dedicated_node.url) as proxy:
        for deployment in _deployment(
            monkeypatch,
            engine="opensearch",
            es_host=proxy.url,
            cluster_url=dedicated_node.url,
            aws_env=aws_env,
            state_table=state_table,
        ):
            yield deployment, proxy


def test_a_node_killed_and_restarted_mid_invocation(
    killable: tuple[Deployment, FaultProxy],
    dedicated_node: OpenSearchServer,
    monkeypatch: pytest.MonkeyPatch,
    fault_case: CaseRow,
) -> None:
    deployment, proxy = killable
    monkeypatch.setenv("BATCH_SIZE", "500")  # 16 requests: the kill lands among them
    clients.reset()
    events = make_events(8_000, 1_764_200_000_000, step_ms=3)
    fault_case.send(e["id"] for e in events)
    fault_case.faults = (
        "SIGKILL of the only node after 5 `_bulk` requests, restarted during the invocation; retry"
    )
    payload = subscription_payload("/fault/node-kill", "s", events)
    # Warm: templates installed and the day's index created on the fresh node, so
    # the kill lands among the batch's own requests.
    first_day = make_events(1, events[0]["timestamp"], first_sequence=99_999)
    warm = subscription_payload("/fault/node-kill", "warm", first_day)
    invoke_within("DecoderFunction", warm, 60.0).raise_error()
    baseline = proxy.stats.bulk_requests_seen
    killed: list[int] = []

    def kill_after_five_requests() -> None:
        # Runs in the test's main thread while the invocation runs in its own: the
        # node is killed and started again (it must be started from a thread that
        # lives on: it is tied to its parent thread's life) mid-invocation.
        if not killed and proxy.stats.bulk_requests_seen >= baseline + 5:
            dedicated_node.kill()
            killed.append(proxy.stats.bulk_requests_seen)
            dedicated_node.restart()

    first = fault_case.timed(
        invoke_within(
            "DecoderFunction", payload, 15.0, label="killed", on_wait=kill_after_five_requests
        )
    )
    assert killed, "the invocation finished before the node could be killed"
    assert first.finished, first.describe()
    assert first.before_deadline, first.describe()
    # Visible: the invocation fails (the node was not back in time), or it rode the
    # restart out and its report shows the retries.
    if first.error is None:
        assert first.result["retried"] > 0 and first.result["undelivered"] == 0, first.result
    else:
        assert isinstance(first.error, InfrastructureError), first.describe()
    retry = fault_case.timed(invoke_within("DecoderFunction", payload, 60.0, label="Lambda retry"))
    retry.raise_error()
    fault_case.count(deployment.search, deployment.settings.index_prefix)
    assert (fault_case.lost, fault_case.duplicated) == (0, 0), fault_case
    assert fault_case.all_before_deadline, fault_case.invocations
    # The acknowledged writes survived the crash (translog): the retry saw them as 409s.
    assert retry.result["duplicates"] > 0
