"""Schema healing: decide a mapping for every drifting field and put every document back.

The pieces, from pure to side-effecting:

* **Transform** (pure, :func:`heal_source`): given a group's decisions, a value
  that does not fit its field's decided type moves to a typed sibling
  ``<field>_<json type>`` (``status`` -> ``status_string``, ``user`` ->
  ``user_object``); given an index's mapping, fields it can no longer add (the
  total-fields cap) or objects nested past the depth cap move into the
  ``json_overflow`` flat_object. ``message`` always keeps the raw line.
* **Decisions** (:class:`DecisionStore`): one per field and group in DynamoDB,
  ``pk=drift#<group>``, ``sk=field#<path>``, plus ``pk=drift``,
  ``sk=group#<group>`` so the report can list every group.
* **Live rescue** (:class:`DriftRescue`): the shipper hands it the documents the
  cluster refused; it applies the decisions and the caps and re-sends them
  once, so a decided conflict never reaches the quarantine again.
* **Healer** (:class:`SchemaHealer`): per group, scan the daily indices for
  conflicts, decide, write the group's drift template, rebuild indices that
  disagree with a decision, replay the group's quarantined documents into
  their original index under their original ``_id``, and report.
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final, Protocol

import orjson

from logstream.cluster.port import Cluster, IndexExists, IndexMissing
from logstream.naming import group_index_part
from logstream.observability import Metric, count, logger
from logstream.retry import Deadline
from logstream.schema.drift import (
    HEALABLE,
    JSON_ROOT,
    OVERFLOW_FIELD,
    Diagnosis,
    ErrorClass,
    FieldConflict,
    ScanResult,
    diagnose,
    json_kind,
    scan_group,
)
from logstream.schema.templates import drift_template, drift_template_name, ensure_template
from logstream.settings import Settings
from logstream.shipping.bulk import BulkSink, DeliveryReport, Rejection
from logstream.shipping.documents import Document
from logstream.shipping.quarantine import QuarantineKind, rejection_record
from logstream.times import iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

#: Decision keys for the two caps (not field paths: they apply to the whole group).
TOTAL_FIELDS_KEY: Final = "*total_fields_limit"
DEPTH_KEY: Final = "*depth_limit"
_NUMERIC: Final = frozenset(
    {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float"}
    | {"unsigned_long"}
)
_STRINGY: Final = frozenset({"keyword", "text", "match_only_text", "wildcard", "constant_keyword"})
_REPLAY_PAGE: Final = 500
_MAX_ROUNDS: Final = 3
_REBUILD_SUFFIX: Final = "_heal-"
#: A refused field the cached decisions do not know is looked up again after this long.
_MISS_RECHECK_SECONDS: Final = 1.0


class Resolution(StrEnum):
    TYPED_SIBLING = "typed_sibling"  # keep the established type; misfits go to <field>_<type>
    OVERFLOW = "overflow"  # past a cap: the value moves into json_overflow


# --------------------------------------------------------------------------- transform


def fits(field_type: str, value: Any) -> bool:  # noqa: PLR0911 - one rule per type family
    """Would OpenSearch index ``value`` into a field of ``field_type`` (default coercion)?"""
    if value is None:
        return True
    if isinstance(value, list):
        return all(fits(field_type, item) for item in value)
    if field_type in {"object", "nested", "flat_object"}:
        return isinstance(value, dict)
    if isinstance(value, dict):
        return False
    if field_type in _STRINGY:
        return True
    if field_type in _NUMERIC:
        return _is_number(value)
    if field_type == "boolean":
        return isinstance(value, bool) or value in {"true", "false", ""}
    if field_type == "date":
        return _is_date(value)
    if field_type == "ip":
        return _is_ip(value)
    return True  # a type we do not model: let the cluster judge


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    try:
        float(str(value).strip())
    except ValueError:
        return False
    return True


def _is_date(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return True
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return value.isdigit()
    return True


def _is_ip(value: Any) -> bool:
    try:
        ipaddress.ip_address(str(value))
    except ValueError:
        return False
    return True


def sibling_key(key: str, value: Any) -> str:
    """``<key>_<json type>`` for a value that does not fit ``key``'s decided type."""
    kind = json_kind(value)
    if kind == "array":
        kinds = {json_kind(v) for v in value if v is not None}
        kind = kinds.pop() if len(kinds) == 1 else "json"
    return f"{key}_{kind}"


def apply_decisions(document: dict[str, Any], decided: Mapping[str, str]) -> dict[str, int]:
    """Move every value that does not fit its field's decided type to its typed sibling.

    ``decided`` maps full paths (``json.status``) to types; the document is
    changed in place. Returns how many values moved, per field.
    """
    moved: dict[str, int] = {}
    for path in sorted(decided, key=lambda p: -p.count(".")):  # deepest first
        n = _move_misfits(document, path.split("."), decided[path])
        if n:
            moved[path] = n
    return moved


def _move_misfits(node: Any, parts: list[str], field_type: str) -> int:
    if isinstance(node, list):
        return sum(_move_misfits(item, parts, field_type) for item in node)
    if not isinstance(node, dict) or parts[0] not in node:
        return 0
    key = parts[0]
    if len(parts) > 1:
        return _move_misfits(node[key], parts[1:], field_type)
    if fits(field_type, node[key]):
        return 0
    value = node.pop(key)
    sibling = sibling_key(key, value)
    if sibling.endswith("_json"):
        # A mixed array fits no single type: kept whole, as its JSON text.
        value = orjson.dumps(value).decode()
    _put(node, [sibling], value)
    return 1


def move_unknown_to_overflow(document: dict[str, Any], known: Mapping[str, str]) -> int:
    """Past the total-fields cap: app fields the index has not mapped go to ``json_overflow``.

    ``known`` maps every mapped path (objects included) to its type. Returns
    the number of values moved.
    """
    root = document.get(JSON_ROOT)
    if not isinstance(root, dict):
        return 0
    overflow: dict[str, Any] = {}
    moved = _overflow_walk(root, JSON_ROOT, known, overflow, [])
    if moved:
        _merge_overflow(document, overflow)
    return moved


def _overflow_walk(
    node: dict[str, Any],
    prefix: str,
    known: Mapping[str, str],
    overflow: dict[str, Any],
    relative: list[str],
) -> int:
    moved = 0
    for key in list(node):
        path = f"{prefix}.{key}"
        value = node[key]
        if path not in known:
            _put(overflow, [*relative, key], node.pop(key))
            moved += 1
        elif known[path] == "object":
            if isinstance(value, dict):
                moved += _overflow_walk(value, path, known, overflow, [*relative, key])
            elif isinstance(value, list) and any(
                isinstance(item, dict) and _has_unknown(item, path, known) for item in value
            ):
                _put(overflow, [*relative, key], node.pop(key))
                moved += 1
    return moved


def _has_unknown(node: dict[str, Any], prefix: str, known: Mapping[str, str]) -> bool:
    for key, value in node.items():
        path = f"{prefix}.{key}"
        if path not in known or (isinstance(value, dict) and _has_unknown(value, path, known)):
            return True
    return False


def cap_depth(document: dict[str, Any], limit: int) -> int:
    """Objects at depth ``limit`` or deeper (``json`` is depth 1) go to ``json_overflow``."""
    root = document.get(JSON_ROOT)
    if not isinstance(root, dict):
        return 0
    overflow: dict[str, Any] = {}
    moved = _depth_walk(root, 1, limit, overflow, [])
    if moved:
        _merge_overflow(document, overflow)
    return moved


def _depth_walk(
    node: dict[str, Any], depth: int, limit: int, overflow: dict[str, Any], relative: list[str]
) -> int:
    moved = 0
    for key in list(node):
        value = node[key]
        items = value if isinstance(value, list) else [value]
        if not any(isinstance(item, dict) for item in items):
            continue
        if depth + 1 >= limit:
            _put(overflow, [*relative, key], node.pop(key))
            moved += 1
        else:
            for item in items:
                if isinstance(item, dict):
                    moved += _depth_walk(item, depth + 1, limit, overflow, [*relative, key])
    return moved


def _merge_overflow(document: dict[str, Any], overflow: dict[str, Any]) -> None:
    existing = document.get(OVERFLOW_FIELD)
    if not isinstance(existing, dict):
        document[OVERFLOW_FIELD] = existing = {} if existing is None else {"value": existing}
    for key, value in overflow.items():
        _put(existing, [key], value)


def _put(node: dict[str, Any], parts: list[str], value: Any) -> None:
    """Set ``value`` at ``parts`` under ``node``, never overwriting what is there."""
    for n, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            node[".".join(parts[n:])] = value
            return
        node = child
    last = parts[-1]
    if last in node:
        current = node[last]
        node[last] = [*current, value] if isinstance(current, list) else [current, value]
    else:
        node[last] = value


@dataclass(frozen=True, slots=True)
class TransformResult:
    source: bytes
    moved: dict[str, int]

    @property
    def changed(self) -> bool:
        return bool(self.moved)


def heal_source(
    source: bytes,
    decided: Mapping[str, str],
    *,
    known: Mapping[str, str] | None = None,
    depth_limit: int | None = None,
) -> TransformResult:
    """The whole transform for one document source: siblings, then the caps."""
    document = orjson.loads(source)
    if not isinstance(document, dict):
        return TransformResult(source, {})
    moved = apply_decisions(document, decided)
    if depth_limit is not None and (n := cap_depth(document, depth_limit)):
        moved[DEPTH_KEY] = n
    if known is not None and (n := move_unknown_to_overflow(document, known)):
        moved[TOTAL_FIELDS_KEY] = n
    if not moved:
        return TransformResult(source, {})
    return TransformResult(orjson.dumps(document), moved)


def flatten_mapping(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """``{"json.status": "double", "json.user": "object", ...}`` from a mapping's properties."""
    out: dict[str, str] = {}
    for name, spec in (mapping.get("properties") or {}).items():
        path = f"{prefix}{name}"
        out[path] = str(spec.get("type", "object"))
        if "properties" in spec:
            out.update(flatten_mapping(spec, f"{path}."))
    return out


# --------------------------------------------------------------------------- decisions


@dataclass(slots=True)
class Decision:
    """How one drifting field of one group is resolved, and what was seen of it."""

    group: str
    field: str
    established_type: str
    resolution: Resolution
    types_seen: list[str]
    first_seen: int
    count: int
    decided_at: int
    origin: str  # quarantine | scan | cap

    def row(self) -> dict[str, Any]:
        """One line of the drift report."""
        return {
            "group": self.group,
            "field": self.field,
            "established_type": self.established_type,
            "types_seen": self.types_seen,
            "first_seen": iso(self.first_seen),
            "count": self.count,
            "resolution": self.resolution.value,
            "decided_at": iso(self.decided_at),
            "origin": self.origin,
        }


class DecisionStore(Protocol):
    def load(self, group: str) -> dict[str, Decision]: ...
    def save(self, decision: Decision) -> None: ...
    def groups(self) -> list[str]: ...


class DynamoDecisionStore:
    """Decisions in the state table: ``drift#<group>`` / ``field#<path>``."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def load(self, group: str) -> dict[str, Decision]:
        out: dict[str, Decision] = {}
        for item in self._query(f"drift#{group}", "field#"):
            decision = Decision(
                group=item["group"]["S"],
                field=item["field"]["S"],
                established_type=item["established_type"]["S"],
                resolution=Resolution(item["resolution"]["S"]),
                types_seen=[v["S"] for v in item["types_seen"]["L"]],
                first_seen=int(item["first_seen"]["N"]),
                count=int(item["count"]["N"]),
                decided_at=int(item["decided_at"]["N"]),
                origin=item["origin"]["S"],
            )
            out[decision.field] = decision
        return out

    def save(self, decision: Decision) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": f"drift#{decision.group}"},
                "sk": {"S": f"field#{decision.field}"},
                "group": {"S": decision.group},
                "field": {"S": decision.field},
                "established_type": {"S": decision.established_type},
                "resolution": {"S": decision.resolution.value},
                "types_seen": {"L": [{"S": t} for t in decision.types_seen]},
                "first_seen": {"N": str(decision.first_seen)},
                "count": {"N": str(decision.count)},
                "decided_at": {"N": str(decision.decided_at)},
                "updated_at": {"N": str(int(time.time() * 1000))},
                "origin": {"S": decision.origin},
            },
        )
        self._client.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": "drift"},
                "sk": {"S": f"group#{decision.group}"},
                "group": {"S": decision.group},
            },
        )

    def groups(self) -> list[str]:
        return [item["group"]["S"] for item in self._query("drift", "group#")]

    def _query(self, pk: str, sk_prefix: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :sk)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":sk": {"S": sk_prefix}},
        }
        while True:
            page = self._client.query(**kwargs)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class MemoryDecisionStore:
    """Decisions in memory: for unit tests and deployments without STATE_TABLE."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Decision] = {}

    def load(self, group: str) -> dict[str, Decision]:
        return {f: replace(d) for (g, f), d in self.items.items() if g == group}

    def save(self, decision: Decision) -> None:
        self.items[(decision.group, decision.field)] = replace(decision)

    def groups(self) -> list[str]:
        return sorted({g for g, _ in self.items})


def decided_types(decisions: Iterable[Decision]) -> dict[str, str]:
    """The field -> type map the transform and the drift template use."""
    return {
        d.field: d.established_type
        for d in decisions
        if d.resolution is Resolution.TYPED_SIBLING and not d.field.startswith("*")
    }


# --------------------------------------------------------------------------- live rescue


class MappingSource:
    """Mapped field paths of an index, from ``GET <index>/_mapping``, cached briefly."""

    def __init__(self, cluster: Cluster, ttl_seconds: float = 60.0) -> None:
        self._cluster = cluster
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}

    def known(self, index: str, *, fresh: bool = False) -> dict[str, str]:
        hit = self._cache.get(index)
        if hit is not None and not fresh and time.monotonic() < hit[0]:
            return hit[1]
        try:
            known = flatten_mapping(self._cluster.mapping(index))
        except IndexMissing:
            known = {}
        self._cache[index] = (time.monotonic() + self._ttl, known)
        return known


class DriftRescue:
    """Fixes documents the cluster refused for a known reason and re-sends them once.

    Only refused documents pay for it: a decisions lookup per group (cached
    for ``ttl_seconds``) and a mapping lookup per index for the caps.
    Anything it cannot fix comes back in ``rejected`` exactly as it was, and
    any failure of its own leaves the shipper's behaviour as without it.
    """

    def __init__(
        self,
        sink: BulkSink,
        decisions: DecisionStore | None,
        mappings: MappingSource,
        *,
        depth_limit: int,
        ttl_seconds: float = 60.0,
    ) -> None:
        self._sink = sink
        self._decisions = decisions
        self._mappings = mappings
        self._depth_limit = depth_limit
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}

    def decided(self, group: str, field_path: str | None = None) -> dict[str, str]:
        """The group's decided types, cached; a field not among them re-reads after 1 s."""
        hit = self._cache.get(group)
        now = time.monotonic()
        if hit is not None and now < hit[0]:
            stale_miss = field_path is not None and field_path not in hit[1]
            if not stale_miss or now < hit[0] - self._ttl + _MISS_RECHECK_SECONDS:
                return hit[1]
        decided = decided_types(self._decisions.load(group).values()) if self._decisions else {}
        self._cache[group] = (now + self._ttl, decided)
        return decided

    def __call__(self, rejected: Sequence[Rejection], deadline: Deadline) -> DeliveryReport:
        report = DeliveryReport()
        pending = list(rejected)
        for _ in range(_MAX_ROUNDS):
            if not pending:
                break
            try:
                fixed, kept = self._fix(pending)
            except Exception as error:  # noqa: BLE001 - the rescue must never break shipping
                logger.warning("drift rescue skipped", extra={"error": str(error)[:300]})
                fixed, kept = [], pending
            report.rejected += kept
            if not fixed:
                pending = []
                break
            outcome = self._sink.deliver([doc for doc, _ in fixed], deadline)
            count(Metric.DRIFT_RESCUED, len(outcome.delivered) + len(outcome.duplicates))
            originals = {id(doc): original for doc, original in fixed}
            report.delivered += outcome.delivered
            report.duplicates += outcome.duplicates
            report.undelivered += outcome.undelivered
            report.requests += outcome.requests
            report.bytes_sent += outcome.bytes_sent
            report.retried += outcome.retried
            # Refused again: diagnose the new refusal, keeping the original id and target.
            pending = [
                Rejection(r.document, r.status, r.error_type, r.reason, r.error)
                for r in outcome.rejected
                if id(r.document) in originals
            ]
        report.rejected += pending
        return report

    def _fix(
        self, rejected: Sequence[Rejection]
    ) -> tuple[list[tuple[Document, Rejection]], list[Rejection]]:
        fixed: list[tuple[Document, Rejection]] = []
        kept: list[Rejection] = []
        for rejection in rejected:
            document = rejection.document
            diagnosis = diagnosis_of(rejection)
            decided = self.decided(document.log_group, diagnosis.field)
            result = self._transform(document, diagnosis, decided)
            if result is None:
                kept.append(rejection)
            else:
                fixed.append((document.with_source(result.source), rejection))
        return fixed, kept

    def _transform(
        self, document: Document, diagnosis: Diagnosis, decided: Mapping[str, str]
    ) -> TransformResult | None:
        klass = diagnosis.error_class
        if klass is ErrorClass.FIELD_LIMIT:
            # Cached: a mapping only grows, so a stale copy can only move more aside.
            known = self._mappings.known(document.index)
            result = heal_source(document.source, decided, known=known)
        elif klass is ErrorClass.DEPTH_LIMIT:
            result = heal_source(document.source, decided, depth_limit=self._depth_limit)
        elif diagnosis.is_conflict and diagnosis.field in decided:
            result = heal_source(document.source, decided)
        else:
            return None
        return result if result.changed else None


def diagnosis_of(rejection: Rejection) -> Diagnosis:
    cause = rejection.error.get("caused_by")
    cause = cause if isinstance(cause, dict) else {}
    return diagnose(
        rejection.error_type,
        rejection.reason,
        cause.get("type"),
        cause.get("reason"),
        rejection.document.source,
    )


# --------------------------------------------------------------------------- healer


@dataclass(slots=True)
class GroupHeal:
    """What healing one group found and did."""

    group: str
    indices: int = 0
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    new_fields: list[str] = field(default_factory=list)
    quarantined_before: int = 0
    replayed: int = 0
    already_present: int = 0
    still_quarantined: int = 0
    unhealable: int = 0
    decisions_written: int = 0
    templates_written: int = 0
    indices_rebuilt: list[str] = field(default_factory=list)
    values_moved: int = 0
    conflicts_after: int = 0
    deferred: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return (
            self.decisions_written
            + self.templates_written
            + len(self.indices_rebuilt)
            + self.replayed
            + self.already_present
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "indices": self.indices,
            "conflicts": self.conflicts,
            "new_fields": self.new_fields[:100],
            "quarantined_before": self.quarantined_before,
            "replayed": self.replayed,
            "already_present": self.already_present,
            "still_quarantined": self.still_quarantined,
            "unhealable": self.unhealable,
            "decisions_written": self.decisions_written,
            "templates_written": self.templates_written,
            "indices_rebuilt": self.indices_rebuilt,
            "values_moved": self.values_moved,
            "conflicts_after": self.conflicts_after,
            "deferred": self.deferred,
            "changes": self.changes,
        }


@dataclass(slots=True)
class HealReport:
    groups: list[GroupHeal] = field(default_factory=list)
    report: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changes(self) -> int:
        return sum(g.changes for g in self.groups)

    def as_dict(self) -> dict[str, Any]:
        return {
            "groups": [g.as_dict() for g in self.groups],
            "report": self.report,
            "changes": self.changes,
            "conflicts_after": sum(g.conflicts_after for g in self.groups),
            "still_quarantined": sum(g.still_quarantined for g in self.groups),
            "seconds": round(self.seconds, 3),
        }


@dataclass(slots=True)
class _Parked:
    """One quarantine record of a refused document."""

    record_id: str
    target_index: str
    doc_id: str
    timestamp: int
    log_group: str
    log_stream: str
    source: bytes
    diagnosis: Diagnosis

    def document(self, source: bytes | None = None) -> Document:
        return Document.from_source(
            index=self.target_index,
            doc_id=self.doc_id,
            timestamp=self.timestamp,
            log_group=self.log_group,
            log_stream=self.log_stream,
            source=source if source is not None else self.source,
            op="create",
        )


class SchemaHealer:
    """Scan, decide, template, rebuild, replay: per group, bounded by the deadline."""

    def __init__(
        self,
        cluster: Cluster,
        sink: BulkSink,
        decisions: DecisionStore,
        settings: Settings,
        *,
        now_ms: int | None = None,
    ) -> None:
        self._cluster = cluster
        self._sink = sink
        self._decisions = decisions
        self._settings = settings
        self._now_ms = now_ms
        self._stored: dict[str, Decision] = {}
        self._written: set[str] = set()

    # -- entry points

    def groups_to_heal(self) -> list[str]:
        """Configured groups, groups with parked documents, and groups with decisions."""
        found = set(self._settings.log_groups) | set(self._decisions.groups())
        found |= set(self.quarantine_counts())
        return sorted(found)

    def heal(self, groups: Sequence[str], deadline: Deadline) -> HealReport:
        started = time.perf_counter()
        report = HealReport()
        for group in groups:
            heal = GroupHeal(group)
            report.groups.append(heal)
            if deadline.remaining() < 5:
                heal.deferred.append("no time left before the invocation deadline")
                continue
            self._heal_group(heal, deadline)
        report.report = self.report_rows(groups)
        report.seconds = time.perf_counter() - started
        for heal in report.groups:
            count(Metric.DRIFT_CONFLICTS, len(heal.conflicts))
            count(Metric.DRIFT_NEW_FIELDS, len(heal.new_fields))
            count(Metric.DRIFT_DECISIONS, heal.decisions_written)
            count(Metric.DRIFT_VALUES_MOVED, heal.values_moved)
            count(Metric.QUARANTINE_REPLAYED, heal.replayed + heal.already_present)
            count(Metric.QUARANTINE_STILL_REFUSED, heal.still_quarantined)
            count(Metric.INDICES_REBUILT, len(heal.indices_rebuilt))
            count(Metric.DRIFT_UNRESOLVED, heal.conflicts_after + heal.still_quarantined)
        logger.info("schema heal finished", extra={"changes": report.changes})
        return report

    def report_rows(self, groups: Iterable[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for group in groups:
            rows += [d.row() for d in sorted(self._decisions.load(group).values(), key=_by_field)]
        return rows

    def scan(self, group: str) -> ScanResult:
        return scan_group(self._cluster, self._settings.index_prefix, group)

    def quarantine_counts(self) -> dict[str, int]:
        """Refused documents waiting in quarantine, per log group."""
        index = self._settings.quarantine_index
        if not self._cluster.index_exists(index):
            return {}
        self._cluster.refresh(index)
        response = self._cluster.search(
            index,
            body={
                "size": 0,
                "query": {"term": {"kind": QuarantineKind.REJECTED_DOCUMENT.value}},
                "aggs": {"groups": {"terms": {"field": "log_group", "size": 10_000}}},
            },
        )
        buckets = response.get("aggregations", {}).get("groups", {}).get("buckets", [])
        return {str(b["key"]): int(b["doc_count"]) for b in buckets}

    # -- one group

    def _heal_group(self, heal: GroupHeal, deadline: Deadline) -> None:
        group = heal.group
        self._stored = self._decisions.load(group)
        self._written = set()
        decisions = {name: replace(d) for name, d in self._stored.items()}
        scan = self.scan(group)
        heal.indices = len(scan.indices)
        heal.conflicts = scan.as_dict()["conflicts"]
        heal.new_fields = scan.new_fields

        # 1. Conflicts between daily indices: the oldest index's type is kept.
        self._decide_from_scan(group, scan, decisions)
        self._flush(heal, decisions)
        heal.templates_written += self._ensure_group_template(group, decisions)
        for conflict in scan.conflicts:
            self._rebuild_disagreeing(heal, conflict, decisions, deadline)
        self._flush(heal, decisions)

        # 2. Refused documents (a rebuild may have parked some too).
        parked = list(self._parked(group))
        heal.quarantined_before = len(parked)
        for record in parked:
            self._decide_from_record(group, record, decisions)
        self._flush(heal, decisions)
        heal.templates_written += self._ensure_group_template(group, decisions)
        self._replay(heal, parked, decisions, deadline)
        self._flush(heal, decisions)

        after = self.scan(group)
        heal.conflicts_after = len(after.conflicts)
        if after.conflicts:
            logger.error(
                "field type conflicts remain after healing",
                extra={"group": group, "fields": [c.field for c in after.conflicts][:20]},
            )

    def _flush(self, heal: GroupHeal, decisions: Mapping[str, Decision]) -> None:
        """Save every decision that differs from what the store holds."""
        for name, decision in decisions.items():
            if self._stored.get(name) != decision:
                self._decisions.save(decision)
                self._stored[name] = replace(decision)
                self._written.add(name)
        heal.decisions_written = len(self._written)

    def _decide_from_scan(
        self, group: str, scan: ScanResult, decisions: dict[str, Decision]
    ) -> set[str]:
        changed: set[str] = set()
        for conflict in scan.conflicts:
            existing = decisions.get(conflict.field)
            if existing is None:
                established = _established(conflict)
                first_index = conflict.first_index_of(
                    next(t for t in conflict.types if t != established)
                )
                decisions[conflict.field] = Decision(
                    group=group,
                    field=conflict.field,
                    established_type=established,
                    resolution=Resolution.TYPED_SIBLING,
                    types_seen=sorted(conflict.types),
                    first_seen=_day_start_ms(first_index),
                    count=0,
                    decided_at=self._now(),
                    origin="scan",
                )
                changed.add(conflict.field)
            elif not set(conflict.types) <= set(existing.types_seen):
                existing.types_seen = sorted(set(existing.types_seen) | set(conflict.types))
                changed.add(conflict.field)
        return changed

    def _decide_from_record(
        self, group: str, record: _Parked, decisions: dict[str, Decision]
    ) -> set[str]:
        diagnosis = record.diagnosis
        if diagnosis.error_class not in HEALABLE:
            return set()
        if diagnosis.error_class is ErrorClass.FIELD_LIMIT:
            key, established, seen = TOTAL_FIELDS_KEY, "overflow", "new fields"
        elif diagnosis.error_class is ErrorClass.DEPTH_LIMIT:
            key, established, seen = DEPTH_KEY, "overflow", "deep object"
        elif diagnosis.is_conflict and diagnosis.field and diagnosis.established_type:
            key, established = diagnosis.field, diagnosis.established_type
            seen = _as_mapping_type(diagnosis.seen_type)
        else:
            return set()
        existing = decisions.get(key)
        if existing is None:
            decisions[key] = Decision(
                group=group,
                field=key,
                established_type=established,
                resolution=Resolution.OVERFLOW if key.startswith("*") else Resolution.TYPED_SIBLING,
                types_seen=sorted({established, seen} - {"overflow"}) or [seen],
                first_seen=record.timestamp,
                count=0,
                decided_at=self._now(),
                origin="cap" if key.startswith("*") else "quarantine",
            )
            return {key}
        changed = False
        if seen not in existing.types_seen and not key.startswith("*"):
            existing.types_seen = sorted({*existing.types_seen, seen})
            changed = True
        if record.timestamp < existing.first_seen:
            existing.first_seen = record.timestamp
            changed = True
        return {key} if changed else set()

    def _ensure_group_template(self, group: str, decisions: Mapping[str, Decision]) -> int:
        decided = decided_types(decisions.values())
        if not decided:
            return 0
        part = group_index_part(group)
        name = drift_template_name(self._settings, part)
        return int(
            ensure_template(self._cluster, name, drift_template(self._settings, part, decided))
        )

    # -- rebuilding an index whose mapping disagrees with a decision

    def _rebuild_disagreeing(
        self,
        heal: GroupHeal,
        conflict: FieldConflict,
        decisions: Mapping[str, Decision],
        deadline: Deadline,
    ) -> None:
        decision = decisions.get(conflict.field)
        if decision is None:
            return
        for field_type, indices in conflict.indices_by_type.items():
            if field_type == decision.established_type:
                continue
            for index in indices:
                if index in heal.indices_rebuilt:
                    continue
                if deadline.remaining() < 20:
                    heal.deferred.append(f"rebuild of {index}: no time left")
                    continue
                if self._rebuild(heal, index, decisions, deadline):
                    heal.indices_rebuilt.append(index)

    def _rebuild(
        self, heal: GroupHeal, index: str, decisions: Mapping[str, Decision], deadline: Deadline
    ) -> bool:
        """Copy ``index`` aside, recreate it from the drift template, copy back transformed.

        Resumable: the copy is kept until every document is back, and every
        write is a ``create`` under the original ``_id``. Writes to the index
        are blocked while it is copied aside (live deliveries are refused with
        403 and retried by Lambda), so nothing written meanwhile can be lost.
        """
        cluster = self._cluster
        holding = self._holding_index(index)
        if cluster.index_exists(index):
            cluster.set_write_block(index, True)
            if not cluster.index_exists(holding):
                cluster.create_index(
                    holding,
                    {
                        "settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0}},
                        "mappings": {"dynamic": False, "properties": {}},
                    },
                )
            # Copied through the client, not _reindex: that module is optional
            # (absent from minimal distributions and OpenSearch Serverless).
            for page in cluster.iter_hits(index, page_size=_REPLAY_PAGE):
                copies = [
                    _document_from_hit(holding, hit, orjson.dumps(hit["_source"])) for hit in page
                ]
                copied = self._sink.deliver(copies, deadline)
                if copied.undelivered or copied.rejected:
                    heal.deferred.append(f"rebuild of {index}: copy aside incomplete")
                    return False
            cluster.refresh(holding)
            cluster.refresh(index)
            expected = cluster.count(index)
            held = cluster.count(holding)
            if held < expected:
                heal.deferred.append(f"rebuild of {index}: copied {held} of {expected}")
                return False
            cluster.delete_index(index)
        elif not cluster.index_exists(holding):
            return False
        with contextlib.suppress(IndexExists):
            cluster.create_index(index)  # the group's drift template applies
        decided = decided_types(decisions.values())
        held = cluster.count(holding)
        back = 0
        for page in cluster.iter_hits(holding, page_size=_REPLAY_PAGE):
            documents = []
            for hit in page:
                result = heal_source(orjson.dumps(hit["_source"]), decided)
                heal.values_moved += sum(result.moved.values())
                self._count_moves(decisions, result.moved)
                documents.append(_document_from_hit(index, hit, result.source))
            delivery = self._sink.deliver(documents, deadline)
            self._park(delivery.rejected, deadline)
            if delivery.undelivered:
                heal.deferred.append(
                    f"rebuild of {index}: {len(delivery.undelivered)} documents not copied back"
                )
                return False
            back += len(documents)
        if back < held:
            heal.deferred.append(f"rebuild of {index}: {back} of {held} copied back")
            return False
        cluster.delete_index(holding)
        logger.info("index rebuilt under decided mappings", extra={"index": index, "docs": held})
        return True

    def _holding_index(self, index: str) -> str:
        # Outside ${prefix}-*: no template, no alias, so searches never see it twice.
        prefix = self._settings.index_prefix
        return f"{prefix}{_REBUILD_SUFFIX}{index[len(prefix) + 1 :]}"

    def _count_moves(self, decisions: Mapping[str, Decision], moved: Mapping[str, int]) -> None:
        for key, n in moved.items():
            if key in decisions:
                decisions[key].count += n

    # -- replaying the quarantine

    def _parked(self, group: str) -> Iterator[_Parked]:
        index = self._settings.quarantine_index
        if not self._cluster.index_exists(index):
            return
        self._cluster.refresh(index)
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": _REPLAY_PAGE,
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"kind": QuarantineKind.REJECTED_DOCUMENT.value}},
                            {"term": {"log_group": group}},
                        ]
                    }
                },
                "sort": [{"target_index": "asc"}, {"doc_id": "asc"}],
            }
            if after is not None:
                body["search_after"] = after
            hits = self._cluster.search(index, body)["hits"]["hits"]
            for hit in hits:
                parked = _parked_from_hit(hit)
                if parked is not None:
                    yield parked
            if len(hits) < _REPLAY_PAGE:
                return
            after = hits[-1]["sort"]

    def _replay(
        self,
        heal: GroupHeal,
        parked: list[_Parked],
        decisions: dict[str, Decision],
        deadline: Deadline,
    ) -> None:
        healable = [p for p in parked if p.diagnosis.error_class in HEALABLE]
        heal.unhealable = len(parked) - len(healable)
        heal.still_quarantined += heal.unhealable
        for start in range(0, len(healable), _REPLAY_PAGE):
            if deadline.remaining() < 10:
                heal.deferred.append(f"replay: {len(healable) - start} records left for next run")
                heal.still_quarantined += len(healable) - start
                return
            self._replay_page(heal, healable[start : start + _REPLAY_PAGE], decisions, deadline)

    def _replay_page(
        self,
        heal: GroupHeal,
        page: list[_Parked],
        decisions: dict[str, Decision],
        deadline: Deadline,
    ) -> None:
        pending = [(p, p.diagnosis) for p in page]
        done: list[_Parked] = []
        for round_number in range(_MAX_ROUNDS):
            if not pending:
                break
            decided = decided_types(decisions.values())
            documents: list[Document] = []
            owners: dict[int, _Parked] = {}
            mappings = MappingSource(self._cluster)  # fresh per round, one GET per index
            for record, diagnosis in pending:
                known = (
                    mappings.known(record.target_index)
                    if diagnosis.error_class is ErrorClass.FIELD_LIMIT
                    else None
                )
                depth = (
                    self._settings.mapping_depth_limit
                    if diagnosis.error_class is ErrorClass.DEPTH_LIMIT
                    else None
                )
                result = heal_source(record.source, decided, known=known, depth_limit=depth)
                self._count_moves(decisions, result.moved)
                heal.values_moved += sum(result.moved.values())
                document = record.document(result.source)
                owners[id(document)] = record
                documents.append(document)
            delivery = self._sink.deliver(documents, deadline)
            heal.replayed += len(delivery.delivered)
            heal.already_present += len(delivery.duplicates)
            done += [owners[id(d)] for d in delivery.delivered + delivery.duplicates]
            if delivery.undelivered:
                heal.deferred.append(
                    f"replay: {len(delivery.undelivered)} documents undelivered "
                    f"({delivery.undelivered[0].reason[:200]})"
                )
                heal.still_quarantined += len(delivery.undelivered)
            pending = []
            refused: list[Rejection] = []
            for rejection in delivery.rejected:
                record = owners[id(rejection.document)]
                diagnosis = diagnosis_of(rejection)
                if self._decide_from_record(
                    heal.group, replace(record, diagnosis=diagnosis), decisions
                ):
                    self._flush(heal, decisions)
                    heal.templates_written += self._ensure_group_template(heal.group, decisions)
                if diagnosis.error_class in HEALABLE and round_number + 1 < _MAX_ROUNDS:
                    pending.append((record, diagnosis))
                else:
                    refused.append(replace(rejection, document=record.document()))
            if refused:
                heal.still_quarantined += len(refused)
                self._park(refused, deadline)
        self._flush(heal, decisions)
        self._unpark(done)

    def _park(self, rejected: Sequence[Rejection], deadline: Deadline) -> None:
        """Refused again: the record is rewritten (same id) with the new reason."""
        if not rejected:
            return
        records = [rejection_record(self._settings.quarantine_index, r) for r in rejected]
        outcome = self._sink.deliver(records, deadline)
        if outcome.undelivered or outcome.rejected:
            logger.error(
                "could not update quarantine records",
                extra={"count": len(outcome.undelivered) + len(outcome.rejected)},
            )

    def _unpark(self, done: Sequence[_Parked]) -> None:
        """Delete the quarantine records of documents the cluster acknowledged."""
        index = self._settings.quarantine_index
        ids = [p.record_id for p in done]
        for start in range(0, len(ids), _REPLAY_PAGE):
            failed = self._cluster.delete_documents(index, ids[start : start + _REPLAY_PAGE])
            if failed:
                logger.error(
                    "could not delete replayed quarantine records",
                    extra={"count": len(failed), "sample": failed[0]},
                )

    def _now(self) -> int:
        return self._now_ms if self._now_ms is not None else int(time.time() * 1000)


def _as_mapping_type(json_type: str | None) -> str:
    """A value's JSON type as the mapping type the logs template gives it."""
    return {"string": "keyword", "number": "double"}.get(json_type or "", json_type or "unknown")


def _by_field(decision: Decision) -> str:
    return decision.field


def _established(conflict: FieldConflict) -> str:
    """Keep the type the group's oldest index established (first seen wins)."""
    oldest = min(conflict.indices_by_type.items(), key=lambda item: (item[1][0], item[0]))
    return oldest[0]


def _day_start_ms(index: str) -> int:
    day = datetime.strptime(index[-10:], "%Y.%m.%d").replace(tzinfo=UTC)
    return int(day.timestamp() * 1000)


def _parked_from_hit(hit: Mapping[str, Any]) -> _Parked | None:
    source = hit.get("_source") or {}
    document = source.get("document")
    if not isinstance(document, str) or not source.get("target_index"):
        return None
    raw = document.encode("utf-8")
    diagnosis = diagnose(
        str(source.get("error_type") or ""),
        str(source.get("reason") or ""),
        source.get("cause_type"),
        source.get("cause_reason"),
        raw,
    )
    return _Parked(
        record_id=str(hit["_id"]),
        target_index=str(source["target_index"]),
        doc_id=str(source["doc_id"]),
        timestamp=int(source.get("event_timestamp") or 0),
        log_group=str(source.get("log_group") or ""),
        log_stream=str(source.get("log_stream") or ""),
        source=raw,
        diagnosis=diagnosis,
    )


def _document_from_hit(index: str, hit: Mapping[str, Any], source: bytes) -> Document:
    body = hit["_source"]
    timestamp = body.get("@timestamp")
    return Document.from_source(
        index=index,
        doc_id=str(hit["_id"]),
        timestamp=int(timestamp) if isinstance(timestamp, int) else 0,
        log_group=str(body.get("log_group") or ""),
        log_stream=str(body.get("log_stream") or ""),
        source=source,
        op="create",
    )


class HealInputError(ValueError):
    """An on-demand payload the healer cannot act on."""


def handle_event(
    healer: SchemaHealer, event: Mapping[str, Any], deadline: Deadline
) -> dict[str, Any]:
    """The schema-heal function's event: an EventBridge schedule, or a payload by hand.

    By hand: ``{"log_groups": ["/aws/lambda/app"]}`` heals those groups,
    ``{"report_only": true}`` scans and reports without changing anything;
    without ``log_groups`` every known group is healed (LOG_GROUPS, groups
    with parked documents, groups with decisions).
    """
    groups = event.get("log_groups")
    if groups is not None and (
        not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups)
    ):
        raise HealInputError("log_groups must be a list of log group names")
    report_only = event.get("report_only", False)
    if not isinstance(report_only, bool):
        raise HealInputError("report_only must be true or false")
    chosen = list(groups) if groups else healer.groups_to_heal()
    if report_only:
        return {
            "scans": [healer.scan(g).as_dict() for g in chosen],
            "quarantined": healer.quarantine_counts(),
            "report": healer.report_rows(chosen),
        }
    return healer.heal(chosen, deadline).as_dict()
