"""What a refused document tells us: which kind of refusal, which field, which types.

:func:`diagnose` reads one bulk item error (type, reason, caused_by) and the
refused document, and says which *class* of refusal it is, which field, the
type the index had already established and the JSON type of the value that
did not fit. The reason strings are OpenSearch's (2.x) and Elasticsearch's
(7/8, which prefixes ``[line:col]`` and uses ``document_parsing_exception``).
Pure: no cluster, no store.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

import orjson

if TYPE_CHECKING:
    from logstream.shipping.delivery import Rejection

#: Where application JSON lives in a document (see templates.logs_template).
JSON_ROOT: Final = "json"
#: Where values beyond the field-count or depth cap are kept (a flat_object).
OVERFLOW_FIELD: Final = "json_overflow"

_LINE_COL: Final = re.compile(r"^\[\d+:\d+\]\s*")
_FAILED_TO_PARSE: Final = re.compile(r"failed to parse field \[([^\]]+)\] of type \[([^\]]+)\]")
_CANNOT_CHANGE: Final = re.compile(
    r"mapper \[([^\]]+)\] cannot be changed from type \[([^\]]+)\] to \[([^\]]+)\]"
)
_OBJECT_GOT_VALUE: Final = re.compile(
    r"object mapping for \[([^\]]+)\] tried to parse field \[[^\]]*\] as object, "
    r"but found a concrete value"
)
_MUST_BE_OBJECT: Final = re.compile(
    r"Existing mapping for \[([^\]]+)\] must be of type object but found \[([^\]]+)\]"
)
_NON_OBJECT_MERGE: Final = re.compile(
    r"can't merge a non object mapping \[([^\]]+)\] with an object mapping"
)
_STRICT: Final = re.compile(r"dynamic introduction of \[([^\]]+)\] within \[([^\]]+)\]")
_TOTAL_FIELDS: Final = re.compile(r"Limit of total fields \[(\d+)\]")
_DEPTH: Final = re.compile(
    r"(?:depth of the field has exceeded the allowed limit of|Limit of mapping depth) \[(\d+)\]"
)


class ErrorClass(StrEnum):
    """Why the cluster refused a document, as the quarantine records it (``error_class``)."""

    MAPPER_PARSING = "mapper_parsing_exception"  # a value that does not fit the field's type
    ILLEGAL_ARGUMENT = "illegal_argument_exception"  # two types raced for one new field
    DOCUMENT_PARSING = "document_parsing_exception"  # Elasticsearch 8's name for the first
    STRICT_DYNAMIC = "strict_dynamic_mapping_exception"  # a new field where none is allowed
    FIELD_LIMIT = "field_limit_exceeded"  # index.mapping.total_fields.limit
    DEPTH_LIMIT = "depth_limit_exceeded"  # index.mapping.depth.limit
    OTHER = "other"  # not a schema problem (too large, bad JSON...): left to a human


#: Classes the healer can resolve by deciding a mapping or moving values aside.
HEALABLE: Final = frozenset(
    {
        ErrorClass.MAPPER_PARSING,
        ErrorClass.ILLEGAL_ARGUMENT,
        ErrorClass.DOCUMENT_PARSING,
        ErrorClass.FIELD_LIMIT,
        ErrorClass.DEPTH_LIMIT,
    }
)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """One refused document, explained. ``field`` is the full path (``json.http.status``)."""

    error_class: ErrorClass
    field: str | None = None
    established_type: str | None = None
    seen_type: str | None = None

    @property
    def is_conflict(self) -> bool:
        """A type conflict on a known field (as opposed to a limit or anything else)."""
        return self.field is not None and self.established_type is not None

    def as_record(self) -> dict[str, Any]:
        return {
            "error_class": self.error_class.value,
            "field": self.field,
            "established_type": self.established_type,
            "seen_type": self.seen_type,
        }


def diagnose(  # noqa: PLR0911 - one return per reason shape
    error_type: str,
    reason: str,
    cause_type: str | None = None,
    cause_reason: str | None = None,
    source: bytes | str | Mapping[str, Any] | None = None,
) -> Diagnosis:
    """Classify a bulk item error and pull out field, established type and seen type.

    ``seen_type`` is the JSON type (string, number, boolean, object, array) of
    the refused value, read from ``source`` when it is given; the reason text
    alone only says so for the ``cannot be changed`` race.
    """
    text = _LINE_COL.sub("", reason or "")
    cause = _LINE_COL.sub("", cause_reason or "")
    both = f"{text}\n{cause}"
    if _TOTAL_FIELDS.search(both):
        return Diagnosis(ErrorClass.FIELD_LIMIT)
    if _DEPTH.search(both):
        return Diagnosis(ErrorClass.DEPTH_LIMIT)
    klass = _class_of(error_type)
    if klass is ErrorClass.OTHER and cause_type is not None:
        klass = _class_of(cause_type)
    if klass is ErrorClass.STRICT_DYNAMIC:
        found = _STRICT.search(both)
        path = f"{found.group(2)}.{found.group(1)}" if found else None
        path = path.removeprefix("_doc.") if path else None
        return Diagnosis(klass, path, "strict", _seen(source, path))
    if klass is ErrorClass.OTHER:
        return Diagnosis(klass)
    if match := _CANNOT_CHANGE.search(both):
        path, established, seen = match.groups()
        return Diagnosis(klass, path, established, _seen(source, path) or seen)
    if match := _FAILED_TO_PARSE.search(both):
        path, established = match.groups()
        return Diagnosis(klass, path, established, _seen(source, path))
    if match := _OBJECT_GOT_VALUE.search(both):
        path = match.group(1)
        return Diagnosis(klass, path, "object", _seen(source, path))
    if match := _MUST_BE_OBJECT.search(both):
        path, established = match.groups()
        return Diagnosis(klass, path, established, _seen(source, path) or "object")
    if match := _NON_OBJECT_MERGE.search(both):
        path = match.group(1)
        return Diagnosis(klass, path, _non_object_established(source, path), "object")
    return Diagnosis(klass)


def diagnosis_of(rejection: Rejection) -> Diagnosis:
    """:func:`diagnose` for one bulk item the cluster refused."""
    cause = rejection.cause
    return diagnose(
        rejection.error_type,
        rejection.reason,
        cause.get("type"),
        cause.get("reason"),
        rejection.document.source,
    )


def _class_of(error_type: str | None) -> ErrorClass:
    try:
        return ErrorClass(error_type or "")
    except ValueError:
        return ErrorClass.OTHER


def _non_object_established(source: bytes | str | Mapping[str, Any] | None, path: str) -> str:
    # The index holds a concrete type; which one the reason does not say.
    seen = _seen(source, path)
    return "keyword" if seen in {None, "object"} else "unknown"


def json_kind(value: Any) -> str:
    """The JSON type of a value: string, number, boolean, object, array or null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    return "array"


def value_at(document: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted ``path``; through arrays, the first value found. None if absent."""
    node: Any = document
    for part in path.split("."):
        if isinstance(node, list):
            node = next((item for item in node if isinstance(item, dict) and part in item), None)
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _seen(source: bytes | str | Mapping[str, Any] | None, path: str | None) -> str | None:
    if source is None or path is None:
        return None
    if isinstance(source, Mapping):
        document: Any = source
    else:
        try:
            document = orjson.loads(source)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(document, dict):
        return None
    value = value_at(document, path)
    if isinstance(value, list):
        kinds = {json_kind(v) for v in value if v is not None}
        return kinds.pop() if len(kinds) == 1 else "array"
    return None if value is None else json_kind(value)
