"""The fault injectors themselves: a case that passes because its fault never fired
would prove nothing, so each injector is checked against the real cluster."""

from __future__ import annotations

import gzip
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from opensearchpy import OpenSearch

from devstack.fault_proxy import FaultProxy, bulk_ids
from devstack.silent_server import SilentServer, dead_endpoint


def _statuses(answer: Any) -> list[int]:
    return [int(next(iter(item.values()))["status"]) for item in answer["items"]]


def _bulk(proxy: FaultProxy, index: str, ids: list[str], timeout: float = 10.0) -> Any:
    lines = []
    for doc_id in ids:
        lines.append(json.dumps({"create": {"_index": index, "_id": doc_id}}))
        lines.append(json.dumps({"n": doc_id}))
    body = gzip.compress(("\n".join(lines) + "\n").encode())
    request = urllib.request.Request(
        f"{proxy.url}/_bulk",
        data=body,
        headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


def test_bulk_ids_reads_every_action_in_order() -> None:
    body = b'{"create":{"_id":"a"}}\n{"x":1}\n{"delete":{"_id":"b"}}\n{"index":{"_id":"c"}}\n{}\n'
    assert bulk_ids(gzip.compress(body), "gzip") == ["a", "b", "c"]


@pytest.fixture
def scratch_index(opensearch_url: str) -> Iterator[str]:
    index = f"faulttools-{time.time_ns()}"
    yield index
    OpenSearch(hosts=[opensearch_url]).indices.delete(index=index, ignore_unavailable=True)


def test_fail_items_fails_the_named_ids_for_the_given_number_of_tries(
    fault_proxy: FaultProxy, scratch_index: str
) -> None:
    index = scratch_index
    fault_proxy.fail_items(status=503, ids={"b"}, times=1)
    first = _bulk(fault_proxy, index, ["a", "b", "c"])
    assert _statuses(first) == [201, 503, 201]
    second = _bulk(fault_proxy, index, ["b"])
    # Written the first time despite the injected 503: now a harmless 409.
    assert _statuses(second) == [409]
    assert fault_proxy.stats.items_rejected == 1


def test_hang_holds_a_request_until_cleared(fault_proxy: FaultProxy, scratch_index: str) -> None:
    fault_proxy.hang(1)
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        _bulk(fault_proxy, scratch_index, ["a"], timeout=1.0)
    fault_proxy.clear_faults()
    assert fault_proxy.stats.requests_hung == 1


def test_a_silent_server_accepts_and_never_answers_and_a_dead_endpoint_refuses() -> None:
    with SilentServer() as server:
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=2) as connection:
            connection.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            connection.settimeout(0.5)
            with pytest.raises(TimeoutError):
                connection.recv(1)
    host, port = dead_endpoint().removeprefix("http://").split(":")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host, int(port)), timeout=2).close()
