"""Client CPU per ``_bulk`` request on the HTTP path alone: the lean transport, opensearch-py, raw.

The same small gzip ``_bulk`` body is posted, one request at a time, to a real
OpenSearch on loopback by three clients, in one process:

- **raw**: a plain keep-alive ``http.client`` connection (the ceiling: nothing
  but the request, the answer and a check for ``"errors":false``);
- **lean**: ``logstream.cluster.bulk_transport.BulkTransport.post`` (what the
  shipper uses now; the answer is parsed);
- **opensearch-py**: ``transport.perform_request`` through requests, as the
  shipper posted before the lean transport.

Each round times ``--requests`` posts of each client (this process's CPU
time), in a rotating order; the table gives medians with ranges, and each
client's ratio to raw, per round. Building documents and gzip are not part of
it: ``bench_transport`` measures whole invocations. Nothing is asserted.

    PYTHONPATH=layers/common:. python -m benchmarks.bench_http_path --opensearch-url URL
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from opensearchpy import OpenSearch, RequestsHttpConnection

from benchmarks._common import RESULTS_DIR, Spread, machine_header, table, write_result
from logstream.cluster.bulk_transport import BULK_RESPONSE_FILTER, BulkTransport

MODULE = "benchmarks.bench_http_path"
HEADERS = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}


def _body(index: str) -> bytes:
    lines = b"".join(
        b'{"create":{"_index":"%s","_id":"%d"}}\n{"message":"m"}\n' % (index.encode(), i)
        for i in range(5)
    )
    return gzip.compress(lines)


def _raw(url: str) -> Callable[[bytes], object]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80)
    path = "/_bulk?filter_path=" + BULK_RESPONSE_FILTER

    def post(body: bytes) -> object:
        connection.request("POST", path, body=body, headers=HEADERS)
        return b'"errors":false' in connection.getresponse().read()

    return post


def _lean(url: str) -> Callable[[bytes], object]:
    transport = BulkTransport(
        url, http_auth=None, verify_certs=True, ca_certs=None, pool_size=2, engine="OpenSearch"
    )
    return lambda body: transport.post(body, 30.0)


def _opensearch_py(url: str) -> Callable[[bytes], object]:
    client = OpenSearch(hosts=[url], connection_class=RequestsHttpConnection, max_retries=0)

    def post(body: bytes) -> object:
        return client.transport.perform_request(
            "POST",
            "/_bulk",
            headers=HEADERS,
            params={"filter_path": BULK_RESPONSE_FILTER, "request_timeout": 30.0},
            body=body,
        )

    return post


def _cpu_per_request(post: Callable[[bytes], object], body: bytes, requests: int) -> float:
    started = time.process_time()
    for _ in range(requests):
        post(body)
    return (time.process_time() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--opensearch-url", required=True)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--output", default=str(RESULTS_DIR / "http_path.md"))
    args = parser.parse_args()

    index = f"benchhttp-{uuid.uuid4().hex[:8]}"
    body = _body(index)
    clients = {
        "raw": _raw(args.opensearch_url),
        "lean": _lean(args.opensearch_url),
        "opensearch-py": _opensearch_py(args.opensearch_url),
    }
    for post in clients.values():  # connect, warm up
        for _ in range(50):
            post(body)
    samples: dict[str, list[float]] = {name: [] for name in clients}
    ratios: dict[str, list[float]] = {name: [] for name in clients}
    names = list(clients)
    for round_number in range(args.rounds):
        order = names[round_number % 3 :] + names[: round_number % 3]
        measured = {name: _cpu_per_request(clients[name], body, args.requests) for name in order}
        for name, seconds in measured.items():
            samples[name].append(seconds)
            ratios[name].append(seconds / measured["raw"])
    OpenSearch(hosts=[args.opensearch_url]).indices.delete(index=index, ignore_unavailable=True)

    rows = [
        [
            name,
            Spread.of(samples[name]).scaled(1e6).text(",.0f"),
            Spread.of(samples[name]).scaled(1e3).text(".3f"),
            Spread.of(ratios[name]).text(".2f"),
        ]
        for name in names
    ]
    text = "\n\n".join(
        [
            machine_header("HTTP path: client CPU per _bulk request", MODULE, ["opensearch-py"]),
            f"{args.rounds} rounds x {args.requests} requests per client, one request at a "
            "time, a 5-document gzip body; this process's CPU time; medians (min..max).",
            table(
                ["client", "CPU µs / request", "CPU s / 1,000 requests", "÷ raw"],
                rows,
            ),
        ]
    )
    print(text)
    write_result(Path(args.output), text + "\n")


if __name__ == "__main__":
    main()
