"""Pure document transforms: what healing does to one document's source.

Given a group's decisions, a value that does not fit its field's decided type
moves to a typed sibling ``<field>_<json type>`` (``status`` ->
``status_string``, ``user`` -> ``user_object``); given an index's mapping,
fields it can no longer add (the total-fields cap) or objects nested past the
depth cap move into the ``json_overflow`` flat_object. ``message`` always
keeps the raw line. Plain values in, plain values out: the live rescue, the
index rebuild and the quarantine replay all use :func:`heal_source`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson

from logstream.schema.diagnosis import JSON_ROOT, OVERFLOW_FIELD, json_kind

#: Decision keys for the two caps (not field paths: they apply to the whole group).
TOTAL_FIELDS_KEY: Final = "*total_fields_limit"
DEPTH_KEY: Final = "*depth_limit"
_NUMERIC: Final = frozenset(
    {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float"}
    | {"unsigned_long"}
)
_STRINGY: Final = frozenset({"keyword", "text", "match_only_text", "wildcard", "constant_keyword"})


def fits(field_type: str, value: Any) -> bool:  # noqa: PLR0911 - one rule per type family
    """Would OpenSearch index ``value`` into a field of ``field_type`` (default coercion)?"""
    if value is None:
        return True
    if isinstance(value, list):
        return all(fits(field_type, item) for item in value)
    if field_type in {"object", "nested", "flat_object", "flattened"}:
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
