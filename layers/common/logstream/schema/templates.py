"""Index templates: an explicit mapping for the envelope, one primary shard by default.

Two composable templates are installed idempotently:

- ``${INDEX_PREFIX}-logs`` for ``${INDEX_PREFIX}-*``: the daily group indices,
  each added to the alias ``${INDEX_PREFIX}-all``;
- ``${INDEX_PREFIX}-quarantine`` for exactly ``${INDEX_PREFIX}-quarantine``, at a
  higher priority, outside the alias. A group index always ends in a date, so
  it can never be the quarantine index.

The schema healer adds a third kind, ``${INDEX_PREFIX}-drift-{group}``: the logs
template plus the field types it decided for one group (see
:func:`drift_template`), at a priority above the logs template. Composable
templates do not merge, so it carries the whole body; when the logs template
changes, :func:`ensure_templates` rebuilds every drift template from the
decisions kept in its ``_meta``.

A drift template must match its own group's daily indices and no other
group's. ``{prefix}-orders-*`` would also match ``orders-api``'s and
``orders-2026-01-01``'s indices, and patterns take only ``*``. So it lists one
pattern per year, ``{prefix}-{part}-{YYYY}.*``: a group part never contains
``.`` (see :mod:`logstream.naming`), so the first ``.`` after the prefix is
always the one after the year, and ``{part}-{YYYY}.`` pins the part exactly.
The years are :data:`DRIFT_YEARS`; an index of a day outside them gets the
logs template only. The group part is the one the daily indices use (the
index-name budget, not a fixed cut), and a name that would pass
:data:`MAX_TEMPLATE_NAME_BYTES` is cut and suffixed with a hash of the part.

In the ``shared-daily`` layout the decisions belong to the one scope every
group shares (:data:`~logstream.naming.SHARED_SCOPE`), its group part is
empty, and its template ``${INDEX_PREFIX}-drift_shared`` matches
``{prefix}-{YYYY}.*``: the shared daily indices, and no group-daily name
(``{part}-`` always comes before the year there). ``_`` after ``drift``
keeps that name apart from every ``{prefix}-drift-{part}``.

App JSON under ``json`` is mapped by dynamic templates (docs/schema-healing.md
says why): strings as ``keyword`` (ignore_above 1024; full text stays
searchable through ``message``), every number as ``double`` (an integer field
that later sees 1.5 is the most common drift), no date or numeric detection
(a string that looks like a date today and does not tomorrow must not lock the
field). Field count and depth are capped per index; what exceeds a cap is
moved into ``json_overflow``, never rejected: a field of the engine's
flattened type (``flat_object`` on OpenSearch, ``flattened`` on Elasticsearch,
read from :class:`~logstream.cluster.port.Capabilities`), or a stored-only
object on an engine without one.

Every index created from these templates carries logstream's ownership
marker in its mapping ``_meta`` (:func:`owner_marker`); the retention janitor
deletes nothing without it. Replicas are INDEX_REPLICAS in every template.

A template is rewritten only when its body differs from what is installed
(compared through a content hash in ``_meta``), so cold starts cost one GET.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Final

import orjson

from logstream.cluster.port import DEFAULT_TIMEOUT, Cluster, ClusterError
from logstream.naming import SHARED_SCOPE, index_prefix_for_group
from logstream.observability import logger
from logstream.retry import Deadline
from logstream.settings import Settings

_DATE: Final = {"type": "date", "format": "epoch_millis||strict_date_optional_time"}
_KEYWORD: Final = {"type": "keyword", "ignore_above": 1024}
_STORED_ONLY: Final = {"type": "object", "enabled": False}
#: Priority of a group's drift template: above the logs template (100), and
#: distinct per group-part length, so two overlapping patterns never tie.
DRIFT_TEMPLATE_PRIORITY: Final = 1000
#: Above every logs template (100 + a prefix of at most 255 bytes), below the drift ones.
QUARANTINE_TEMPLATE_PRIORITY: Final = 600


def logs_template_priority(index_prefix: str) -> int:
    """100 plus the prefix's length. Two deployments on one cluster whose prefixes
    extend each other (``logs`` and ``logs-prod``) have overlapping patterns, and
    both engines refuse a second overlapping template of the same priority; the
    longer, more specific prefix wins its own indices."""
    return 100 + len(index_prefix.encode())


#: The years of the days a drift template covers (one index pattern each).
DRIFT_YEARS: Final = range(2000, 2100)
#: Longest drift template name; a longer one is cut and gets a hash (as index names do).
MAX_TEMPLATE_NAME_BYTES: Final = 255
_NAME_HASH_HEX: Final = 10
#: The group part of the shared scope's drift template (shared-daily indices have none).
SHARED_PART: Final = ""

#: Mapping of a field whose type the healer decided, by type name.
_DECIDED_MAPPINGS: Final[dict[str, dict[str, Any]]] = {
    "keyword": _KEYWORD,
    "text": {"type": "text"},
    "object": {"type": "object"},
    "date": {"type": "date"},
}

_JSON_DYNAMIC_TEMPLATES: Final = [
    {
        "json_strings": {
            "path_match": "json.*",
            "match_mapping_type": "string",
            "mapping": _KEYWORD,
        }
    },
    {
        "json_integers": {
            "path_match": "json.*",
            "match_mapping_type": "long",
            "mapping": {"type": "double"},
        }
    },
    {
        "json_decimals": {
            "path_match": "json.*",
            "match_mapping_type": "double",
            "mapping": {"type": "double"},
        }
    },
]


#: The key of logstream's marker in an index's mapping ``_meta``.
OWNER_META_KEY: Final = "logstream"


def owner_marker(settings: Settings) -> dict[str, Any]:
    """The mapping ``_meta`` every index created from logstream's templates carries.

    The retention janitor deletes an index only with this marker naming this
    deployment; a drift template is the logs template plus fields, so an index
    the healer rebuilds from it keeps the marker too.
    """
    return {OWNER_META_KEY: {"owner": settings.index_owner}}


def index_owner(meta: dict[str, Any]) -> str | None:
    """The owner an index's mapping ``_meta`` names, or None when it has no marker."""
    marker = meta.get(OWNER_META_KEY)
    owner = marker.get("owner") if isinstance(marker, dict) else None
    return owner if isinstance(owner, str) else None


def overflow_mapping(flattened_type: str | None) -> dict[str, Any]:
    """``json_overflow``'s mapping: searchable by path where the engine can flatten."""
    return {"type": flattened_type} if flattened_type else dict(_STORED_ONLY)


def logs_template(settings: Settings, flattened_type: str | None = "flat_object") -> dict[str, Any]:
    """The body of the template for daily group indices."""
    return {
        "index_patterns": [f"{settings.index_prefix}-*"],
        "priority": logs_template_priority(settings.index_prefix),
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": settings.index_shards,
                    "number_of_replicas": settings.index_replicas,
                    "mapping": {
                        "total_fields": {"limit": settings.mapping_total_fields_limit},
                        "depth": {"limit": settings.mapping_depth_limit},
                    },
                }
            },
            "aliases": {settings.alias: {}},
            "mappings": {
                "_meta": owner_marker(settings),
                "dynamic": False,  # the envelope is closed; app fields live under `json`
                "date_detection": False,
                "numeric_detection": False,
                "dynamic_templates": _JSON_DYNAMIC_TEMPLATES,
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
                    # Whatever exceeds the field-count or depth cap: searchable by path.
                    "json_overflow": overflow_mapping(flattened_type),
                },
            },
        },
    }


def quarantine_template(settings: Settings) -> dict[str, Any]:
    """The body of the template for the quarantine index."""
    return {
        "index_patterns": [settings.quarantine_index],
        "priority": QUARANTINE_TEMPLATE_PRIORITY,
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": 1,
                    "number_of_replicas": settings.index_replicas,
                }
            },
            "mappings": {
                "_meta": owner_marker(settings),
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
                    # Parsed by logstream.drift.diagnose: what the schema healer acts on.
                    "error_class": {"type": "keyword"},
                    "field": {"type": "keyword"},
                    "established_type": {"type": "keyword"},
                    "seen_type": {"type": "keyword"},
                    # Stored verbatim, never indexed: a quarantine record cannot conflict.
                    "document": {"type": "keyword", "index": False, "doc_values": False},
                    "raw": {"type": "keyword", "index": False, "doc_values": False},
                },
            },
        },
    }


def _with_hash(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    meta = {**body.get("_meta", {}), "managed_by": "logstream", "content_hash": digest}
    return {**body, "_meta": meta}, digest


def drift_template_name(settings: Settings, group_part: str) -> str:
    """``{prefix}-drift-{part}``, cut and hash-suffixed past :data:`MAX_TEMPLATE_NAME_BYTES`."""
    if group_part == SHARED_PART:
        return f"{settings.index_prefix}-drift_shared"
    name = f"{settings.index_prefix}-drift-{group_part}"
    if len(name.encode()) <= MAX_TEMPLATE_NAME_BYTES or group_part == "*":
        return name
    digest = hashlib.sha256(group_part.encode()).hexdigest()[:_NAME_HASH_HEX]
    return f"{name[: MAX_TEMPLATE_NAME_BYTES - 1 - _NAME_HASH_HEX]}_{digest}"


def drift_group_part(settings: Settings, group: str) -> str:
    """The part ``group``'s daily indices carry: ``{prefix}-{part}-{YYYY.MM.DD}``.

    ``group`` is a schema scope (:func:`logstream.naming.schema_scope`): the
    shared scope's part is :data:`SHARED_PART`.
    """
    if group == SHARED_SCOPE:
        return SHARED_PART
    return index_prefix_for_group(settings.index_prefix, group)[len(settings.index_prefix) + 1 : -1]


def drift_index_patterns(settings: Settings, group_part: str) -> list[str]:
    """Patterns that match the group's daily indices and no other group's (module doc)."""
    head = f"{settings.index_prefix}-{group_part}-" if group_part else f"{settings.index_prefix}-"
    return [f"{head}{year}.*" for year in DRIFT_YEARS]


def drift_template(
    settings: Settings,
    group_part: str,
    decided: dict[str, str],
    flattened_type: str | None = "flat_object",
) -> dict[str, Any]:
    """The logs template for one group's indices, with the field types the healer decided.

    ``decided`` maps full field paths (``json.http.status``) to a type name.
    The decisions are also kept in ``_meta`` so the template can be rebuilt
    when the logs template changes (see :func:`refresh_drift_templates`).
    """
    body = logs_template(settings, flattened_type)
    body["index_patterns"] = drift_index_patterns(settings, group_part)
    body["priority"] = DRIFT_TEMPLATE_PRIORITY + len(group_part)
    root = body["template"]["mappings"]["properties"]
    for path in sorted(decided, key=lambda p: p.count(".")):
        parts = path.split(".")
        node = root
        for parent in parts[:-1]:
            slot = node.setdefault(parent, {"type": "object"})
            node = slot.setdefault("properties", {})
        field_type = decided[path]
        node[parts[-1]] = dict(_DECIDED_MAPPINGS.get(field_type, {"type": field_type}))
    body["_meta"] = {"drift_group_part": group_part, "drift_fields": dict(sorted(decided.items()))}
    return body


def ensure_drift_template(
    cluster: Cluster, settings: Settings, group: str, decided: dict[str, str]
) -> bool:
    """Install ``group``'s drift template for ``decided`` (nothing to do without decisions)."""
    if not decided:
        return False
    part = drift_group_part(settings, group)
    name = drift_template_name(settings, part)
    current = cluster.index_templates(name).get(name)
    if current is not None and (current.get("_meta") or {}).get("drift_group_part") != part:
        # Another deployment's template (prefix ``{prefix}-drift``): never overwritten.
        logger.error("template name taken by another template", extra={"template": name})
        return False
    flattened = cluster.capabilities.flattened_type
    return ensure_template(cluster, name, drift_template(settings, part, decided, flattened))


def ensure_templates(
    cluster: Cluster, settings: Settings, deadline: Deadline | None = None
) -> list[str]:
    """Install or update both templates; returns the names that were (re)written.

    When the logs template changed, every drift template of this prefix is
    rebuilt on it too, so a group with decisions never keeps an old envelope.
    With a ``deadline`` each call may spend only the time left (at a cold start
    this runs inside the first invocation's budget).
    """
    timeout = _timeouts(settings, deadline)
    written = []
    for name, body in (
        (
            f"{settings.index_prefix}-logs",
            logs_template(settings, cluster.capabilities.flattened_type),
        ),
        (f"{settings.index_prefix}-quarantine", quarantine_template(settings)),
    ):
        if ensure_template(cluster, name, body, timeout=timeout):
            written.append(name)
    if f"{settings.index_prefix}-logs" in written:
        written += refresh_drift_templates(cluster, settings, timeout=timeout)
    return written


def _timeouts(settings: Settings, deadline: Deadline | None) -> Callable[[], float]:
    """Each call's timeout: HTTP_TIMEOUT_SECS, or less when the deadline leaves less."""

    def timeout() -> float:
        if deadline is None:
            return float(settings.http_timeout_secs)
        left = deadline.remaining()
        if left <= 0:
            raise ClusterError(None, "no time left to install templates", retryable=True)
        return min(float(settings.http_timeout_secs), left)

    return timeout


def refresh_drift_templates(
    cluster: Cluster, settings: Settings, *, timeout: Callable[[], float] | None = None
) -> list[str]:
    """Rebuild every drift template of this prefix from the decisions in its ``_meta``."""
    timeout = timeout or _timeouts(settings, None)
    found = cluster.index_templates(drift_template_name(settings, "*"), timeout=timeout())
    shared = drift_template_name(settings, SHARED_PART)
    found |= cluster.index_templates(shared, timeout=timeout())
    written = []
    for name, template in sorted(found.items()):
        meta = template.get("_meta") or {}
        part, fields = meta.get("drift_group_part"), meta.get("drift_fields")
        if meta.get("managed_by") != "logstream" or not isinstance(part, str):
            continue
        if name != drift_template_name(settings, part) or not isinstance(fields, dict):
            continue
        body = drift_template(settings, part, fields, cluster.capabilities.flattened_type)
        if ensure_template(cluster, name, body, timeout=timeout):
            written.append(name)
    return written


def ensure_template(
    cluster: Cluster,
    name: str,
    body: dict[str, Any],
    *,
    timeout: Callable[[], float] = lambda: DEFAULT_TIMEOUT,
) -> bool:
    """PUT ``body`` as composable template ``name`` unless the same body is installed."""
    stamped, digest = _with_hash(body)
    current = cluster.index_templates(name, timeout=timeout()).get(name)
    if current is not None and (current.get("_meta") or {}).get("content_hash") == digest:
        return False
    cluster.put_index_template(name, stamped, timeout=timeout())
    return True
