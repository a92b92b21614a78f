"""Bulk lines for an engine that refuses client-chosen ``_id`` (Capabilities.client_ids).

Exactly-once delivery rests on ``create`` under ``_id`` = the CloudWatch event
id: a replay answers 409 and is counted as a duplicate. AWS documents that
OpenSearch Serverless time-series collections refuse a client-chosen ``_id``;
there every document is sent without one, the engine names it, and a replay
(a Lambda retry, a backfill rerun, a reconciliation reship) writes it again.
The guarantee becomes **at-least-once**; ``event_id`` in every source still
names the event, so duplicates can be found and counted by it.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from logstream.shipping.documents import Document


def line_without_id(line: bytes) -> bytes:
    """``line`` (action + source) with the ``_id`` dropped from its action."""
    action, _, rest = line.partition(b"\n")
    parsed = orjson.loads(action)
    ((op, meta),) = parsed.items()
    kept = {key: value for key, value in meta.items() if key != "_id"}
    return orjson.dumps({op: kept}) + b"\n" + rest


def encode_without_ids(documents: Sequence[Document]) -> bytes:
    """NDJSON for ``_bulk`` as :func:`~logstream.shipping.bulk.encode_bulk_body`, minus ids."""
    return b"".join([line_without_id(d.line) for d in documents])
