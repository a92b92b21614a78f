"""Index templates: an explicit mapping for the envelope, one primary shard by default.

Two composable templates are installed idempotently:

- ``${INDEX_PREFIX}-logs`` for ``${INDEX_PREFIX}-*``: the daily group indices,
  each added to the alias ``${INDEX_PREFIX}-all``;
- ``${INDEX_PREFIX}-quarantine`` for exactly ``${INDEX_PREFIX}-quarantine``, at a
  higher priority, outside the alias. A group index always ends in a date, so
  it can never be the quarantine index.

A template is rewritten only when its body differs from what is installed
(compared through a content hash in ``_meta``), so cold starts cost one GET.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

import orjson
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from logstream.settings import Settings

_DATE: Final = {"type": "date", "format": "epoch_millis||strict_date_optional_time"}
_KEYWORD: Final = {"type": "keyword", "ignore_above": 1024}
_STORED_ONLY: Final = {"type": "object", "enabled": False}


def logs_template(settings: Settings) -> dict[str, Any]:
    """The body of the template for daily group indices."""
    return {
        "index_patterns": [f"{settings.index_prefix}-*"],
        "priority": 100,
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": settings.index_shards,
                    "number_of_replicas": settings.index_replicas,
                }
            },
            "aliases": {settings.alias: {}},
            "mappings": {
                "dynamic": False,  # the envelope is closed; app fields live under `json`
                "properties": {
                    "@timestamp": _DATE,
                    "ingestion_time": _DATE,
                    "event_id": {"type": "keyword"},
                    "message": {"type": "text"},
                    "message_truncated": {"type": "boolean"},
                    "message_bytes": {"type": "long"},
                    "encoding_repaired": {"type": "boolean"},
                    "log_group": {"type": "keyword"},
                    "log_stream": {"type": "keyword"},
                    "owner": {"type": "keyword"},
                    "region": {"type": "keyword"},
                    "lambda": {
                        "properties": {
                            "type": {"type": "keyword"},
                            "request_id": {"type": "keyword"},
                            "version": {"type": "keyword"},
                            "status": {"type": "keyword"},
                            "error_type": {"type": "keyword"},
                            "duration_ms": {"type": "double"},
                            "billed_duration_ms": {"type": "double"},
                            "init_duration_ms": {"type": "double"},
                            "restore_duration_ms": {"type": "double"},
                            "billed_restore_duration_ms": {"type": "double"},
                            "memory_size_mb": {"type": "long"},
                            "max_memory_used_mb": {"type": "long"},
                        }
                    },
                    "json": {"type": "object", "dynamic": True},
                },
            },
        },
    }


def quarantine_template(settings: Settings) -> dict[str, Any]:
    """The body of the template for the quarantine index."""
    return {
        "index_patterns": [settings.quarantine_index],
        "priority": 200,
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": 1,
                    "number_of_replicas": settings.index_replicas,
                }
            },
            "mappings": {
                "dynamic": False,
                "properties": {
                    "@timestamp": _DATE,
                    "event_timestamp": _DATE,
                    "kind": {"type": "keyword"},
                    "log_group": {"type": "keyword"},
                    "log_stream": {"type": "keyword"},
                    "target_index": {"type": "keyword"},
                    "doc_id": {"type": "keyword"},
                    "status": {"type": "integer"},
                    "error_type": {"type": "keyword"},
                    "cause_type": {"type": "keyword"},
                    "reason": {"type": "text", "fields": {"keyword": _KEYWORD}},
                    "cause_reason": {"type": "text"},
                    # Stored verbatim, never indexed: a quarantine record cannot conflict.
                    "document": {"type": "keyword", "index": False, "doc_values": False},
                    "raw": {"type": "keyword", "index": False, "doc_values": False},
                },
            },
        },
    }


def _with_hash(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    return {**body, "_meta": {"managed_by": "logstream", "content_hash": digest}}, digest


def ensure_templates(client: OpenSearch, settings: Settings) -> list[str]:
    """Install or update both templates; returns the names that were (re)written."""
    written = []
    for name, body in (
        (f"{settings.index_prefix}-logs", logs_template(settings)),
        (f"{settings.index_prefix}-quarantine", quarantine_template(settings)),
    ):
        if ensure_template(client, name, body):
            written.append(name)
    return written


def ensure_template(client: OpenSearch, name: str, body: dict[str, Any]) -> bool:
    """PUT ``body`` as composable template ``name`` unless the same body is installed."""
    stamped, digest = _with_hash(body)
    try:
        current = client.indices.get_index_template(name=name)
        installed = current["index_templates"][0]["index_template"].get("_meta", {})
        if installed.get("content_hash") == digest:
            return False
    except NotFoundError:
        pass
    client.indices.put_index_template(name=name, body=stamped)
    return True
