"""Lambda's own log lines (START / END / REPORT) as structured fields, numbers as numbers.

The standard shapes are matched in one anchored step; anything else (new
fields, restore durations, status lines) takes a general split on tabs and
``: ``. A value that is no 64-bit number is kept as text, never an error.
"""

from __future__ import annotations

import re
from typing import Any, Final

_LAMBDA_FIELD_NAMES: Final = {
    "RequestId": "request_id",
    "Version": "version",
    "Duration": "duration_ms",
    "Billed Duration": "billed_duration_ms",
    "Memory Size": "memory_size_mb",
    "Max Memory Used": "max_memory_used_mb",
    "Init Duration": "init_duration_ms",
    "Restore Duration": "restore_duration_ms",
    "Billed Restore Duration": "billed_restore_duration_ms",
    "Status": "status",
    "Error Type": "error_type",
}
_LAMBDA_TEXT_FIELDS: Final = {"request_id", "version", "status", "error_type"}
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1


# The shapes Lambda writes today, matched in one anchored step; anything else
# (new fields, restore durations, status lines) takes the general split below.
_STANDARD_REPORT: Final = re.compile(
    r"REPORT RequestId: (\S+)\tDuration: (\d+(?:\.\d+)?) ms\tBilled Duration: (\d{1,18}) ms\t"
    r"Memory Size: (\d{1,18}) MB\tMax Memory Used: (\d{1,18}) MB"
    r"(?:\tInit Duration: (\d+(?:\.\d+)?) ms)?\t?\s*$"
)
_STANDARD_START: Final = re.compile(r"START RequestId: (\S+) Version: (\S+)\s*$")


def parse_lambda_platform_line(message: str) -> dict[str, Any]:
    """Fields of a Lambda START / END / REPORT line; numbers as numbers."""
    first = message[:1]
    if first == "R" and (report := _STANDARD_REPORT.match(message)):
        request_id, duration, billed, memory, used, init = report.groups()
        fields: dict[str, Any] = {
            "type": "report",
            "request_id": request_id,
            "duration_ms": float(duration),
            "billed_duration_ms": int(billed),
            "memory_size_mb": int(memory),
            "max_memory_used_mb": int(used),
        }
        if init:
            fields["init_duration_ms"] = float(init)
        return fields
    if first == "S" and (start := _STANDARD_START.match(message)):
        return {"type": "start", "request_id": start[1], "version": start[2]}
    return _parse_platform_fields(message)


def _parse_platform_fields(message: str) -> dict[str, Any]:
    """Any START / END / REPORT line: plain splits on tabs and ``: ``.

    ``START RequestId: <id> Version: <v>``, ``END RequestId: <id>`` and
    ``REPORT RequestId: <id>\tDuration: 1.2 ms\t...``, whatever fields it holds.
    """
    kind, _, rest = message.partition(" ")
    if kind == "END" and "\t" not in rest:
        return {"type": "end", "request_id": rest.partition(": ")[2].strip()}
    fields: dict[str, Any] = {"type": kind.lower()}
    if kind == "START":
        request, _, version = rest.partition(" Version: ")
        pairs = [request, f"Version: {version}"] if version else [request]
    else:
        pairs = rest.split("\t")
    for pair in pairs:
        key, separator, raw_value = pair.partition(": ")
        name = _LAMBDA_FIELD_NAMES.get(key.strip()) if separator else None
        if name is None:
            continue
        value = raw_value.strip()
        if name in _LAMBDA_TEXT_FIELDS:
            fields[name] = value
            continue
        fields[name] = _platform_number(value)
    return fields


def _platform_number(value: str) -> float | int | str:
    """``42.5 ms`` -> 42.5, ``512 MB`` -> 512; the text itself if it is no 64-bit number."""
    number = value.removesuffix(" ms").removesuffix(" MB")
    try:
        parsed = float(number) if "." in number else int(number)
    except ValueError:
        return value
    if isinstance(parsed, int) and not _INT64_MIN <= parsed <= _INT64_MAX:
        return value
    return parsed
