"""An engine without client-chosen ids (Capabilities.client_ids False): no ``_id`` is sent.

Exactly-once then becomes at-least-once (README, "Guarantees by engine"):
the documents still carry ``event_id``, and every one is still accounted for.
"""

from __future__ import annotations

import gzip
import random

import orjson

from logstream.retry import Backoff, Deadline
from logstream.shipping.bulk import ClusterBulkSink, encode_bulk_body
from logstream.shipping.engine_ids import encode_without_ids, line_without_id
from tests.unit.shipping.test_bulk import ScriptedCluster, _docs


def _sink(cluster: ScriptedCluster, *, client_ids: bool) -> ClusterBulkSink:
    return ClusterBulkSink(
        cluster,
        batch_size=100,
        batch_max_bytes=1024 * 1024,
        max_in_flight=1,
        gzip_level=1,
        http_timeout_secs=5,
        backoff=Backoff(1, 4, rng=random.Random(1), sleep=lambda _: None),
        client_ids=client_ids,
    )


def test_a_line_without_id_keeps_the_op_the_index_and_the_source() -> None:
    document = _docs(1)[0]
    action, source = line_without_id(document.line).splitlines()
    assert orjson.loads(action) == {"create": {"_index": document.index}}
    assert source == document.source
    assert line_without_id(document.line).endswith(b"\n")


def test_the_sink_sends_ids_only_where_the_engine_takes_them() -> None:
    documents = _docs(4)
    with_ids, without_ids = ScriptedCluster(), ScriptedCluster()
    _sink(with_ids, client_ids=True).deliver(documents, Deadline.after_seconds(30))
    report = _sink(without_ids, client_ids=False).deliver(documents, Deadline.after_seconds(30))
    assert [a["create"]["_id"] for a in with_ids.requests[0]] == [d.doc_id for d in documents]
    assert all("_id" not in a["create"] for a in without_ids.requests[0])
    assert [a["create"]["_index"] for a in without_ids.requests[0]] == [d.index for d in documents]
    assert len(report.delivered) == 4


def test_the_body_without_ids_is_the_same_sources_in_the_same_order() -> None:
    documents = _docs(3)
    plain = encode_bulk_body(documents).splitlines()[1::2]
    anonymous = encode_without_ids(documents).splitlines()[1::2]
    assert plain == anonymous
    assert gzip.decompress(gzip.compress(encode_without_ids(documents))).count(b"_id") == 0
