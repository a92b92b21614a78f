"""Every request size keeps the bulk promises, on a real cluster that refuses big requests.

A node of its own (OpenSearch, then Elasticsearch), started with a small
``http.max_content_length``, answers HTTP 413 to any request over it. At each
BATCH_SIZE, from one document a request to all of them in one, the same
documents are streamed as the decoder streams them: each must end in exactly
its bucket (created, already there, refused with the cluster's reason),
requests over the limit are halved until they fit, and a document over the
limit on its own is refused, not lost.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
import pytest

from devstack.elasticsearch_server import ElasticsearchServer
from devstack.opensearch_server import OpenSearchServer
from logstream.cluster import elasticsearch, opensearch
from logstream.cluster.port import Cluster
from logstream.retry import Backoff, Deadline
from logstream.shipping.bulk import ClusterBulkSink
from logstream.shipping.delivery import DeliveryReport
from logstream.shipping.documents import Document, EventOrigin, build_documents

#: The node refuses any request whose (inflated) body is larger than this.
LIMIT_BYTES = 256 * 1024
ORIGIN = EventOrigin(log_group="/app/sizes", log_stream="s", owner="123456789012", region="r")
T0 = 1_764_000_000_000
FRESH = 300  # about 1.7 KB each: the whole set is twice the limit
EXISTING = 10


@pytest.fixture(scope="module", params=["opensearch", "elasticsearch"])
def small_requests_cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    settings = {"http.max_content_length": f"{LIMIT_BYTES}b"}
    options: dict[str, Any] = {
        "http_auth": None,
        "verify_certs": False,
        "ca_certs": None,
        "timeout": 30,
        "pool_size": 2,
    }
    if request.param == "opensearch":
        with OpenSearchServer(settings=settings) as server:
            yield opensearch.connect(server.url, serverless=False, **options)
    else:
        with ElasticsearchServer(settings=settings) as server:
            yield elasticsearch.connect(server.url, **options)


def _event(number: int, message: str) -> dict[str, Any]:
    return {"id": f"{T0 + number:020d}{number:036d}", "timestamp": T0 + number, "message": message}


def _json_message(number: int) -> str:
    return orjson.dumps({"n": number, "text": "x" * 1500}).decode()


def _sink(cluster: Cluster, batch_size: int) -> ClusterBulkSink:
    return ClusterBulkSink(
        cluster,
        batch_size=batch_size,
        batch_max_bytes=64 * 1024 * 1024,  # only the cluster's limit binds here
        max_in_flight=2,
        gzip_level=1,
        http_timeout_secs=30,
        backoff=Backoff(10, 100, rng=random.Random(1)),
    )


def _ids(documents: Iterable[Document]) -> list[str]:
    return sorted(d.doc_id for d in documents)


def _stream(sink: ClusterBulkSink, documents: list[Document]) -> DeliveryReport:
    part = sink.stream_part_size(len(documents))
    parts = [documents[i : i + part] for i in range(0, len(documents), part)]
    return sink.deliver_stream(parts, Deadline.after_seconds(120))


@pytest.mark.parametrize("batch_size", [1, 7, 100, 5_000])
def test_every_document_ends_in_its_bucket_at_every_request_size(
    small_requests_cluster: Cluster, batch_size: int
) -> None:
    cluster = small_requests_cluster
    prefix = f"sizes-{uuid.uuid4().hex[:8]}"
    sink = _sink(cluster, batch_size)

    # Already in the index before the delivery: EXISTING documents, and one that
    # maps json.n as a number.
    events = [_event(n, _json_message(n)) for n in range(FRESH + EXISTING)]
    built = build_documents(events, ORIGIN, prefix).documents
    fresh, existing = built[:FRESH], built[FRESH:]
    seeded = _stream(sink, existing)
    assert len(seeded.delivered) == EXISTING, seeded.undelivered

    conflict = build_documents(
        [_event(FRESH + EXISTING, orjson.dumps({"n": "not a number"}).decode())], ORIGIN, prefix
    ).documents[0]
    too_large = build_documents(
        [_event(FRESH + EXISTING + 1, "y" * (LIMIT_BYTES + 1024))], ORIGIN, prefix
    ).documents[0]
    documents = fresh[:150] + existing + [conflict] + fresh[150:] + [too_large]

    report = _stream(sink, documents)

    assert _ids(report.delivered) == _ids(fresh)
    assert _ids(report.duplicates) == _ids(existing)
    assert not report.undelivered, report.undelivered[:3]
    refused = {r.document.doc_id: r for r in report.rejected}
    assert sorted(refused) == sorted([conflict.doc_id, too_large.doc_id])
    assert refused[conflict.doc_id].status == 400
    # mapper_parsing_exception (OpenSearch), document_parsing_exception (Elasticsearch 8)
    assert "parsing_exception" in refused[conflict.doc_id].error_type
    assert refused[too_large.doc_id].status == 413
    assert "http.max_content_length" in refused[too_large.doc_id].reason
    # One bucket each: nothing counted twice, nothing missing.
    buckets = (
        _ids(report.delivered)
        + _ids(report.duplicates)
        + sorted(refused)
        + _ids(u.document for u in report.undelivered)
    )
    assert sorted(buckets) == _ids(documents)
    # The request holding the document over the limit was halved down to it (a
    # request of one document never is); at 5,000 the whole set, twice the
    # limit without it, went as one request first.
    assert (report.splits > 0) == (batch_size > 1)
    assert sum(len(d.line) for d in fresh) > 2 * LIMIT_BYTES

    cluster.refresh(f"{prefix}-*")
    counted = cluster.count(f"{prefix}-*")
    assert counted == FRESH + EXISTING
