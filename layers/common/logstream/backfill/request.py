"""A manual backfill request, validated: which groups, over which range.

Everything a person (or a script) sends is checked here, before anything is
planned or stored: a request that passes can be planned, stored and shown
back without surprises; one that does not is refused with a message that
says what to send instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from logstream.backfill.model import BackfillInputError, quoted
from logstream.times import iso, parse_time

DAY_MS: Final = 86_400_000
#: The instants a request may name: from the epoch (CloudWatch holds nothing
#: older) to the last millisecond a report can print (year 9999).
EARLIEST_MS: Final = 0
LATEST_MS: Final = 253_402_300_799_999
#: Names or prefixes one request may list (each becomes part of one job item).
MAX_PATTERNS: Final = 100
#: CloudWatch's rule for log group names; a prefix is such a name followed by ``*``.
_GROUP_NAME: Final = re.compile(r"[A-Za-z0-9_\-/.#]{1,512}")
_TIME_FORMATS: Final = "ISO-8601 (2026-11-24T10:00:00Z) or epoch milliseconds"
#: A client token: what a caller sends again on a retry so the job is planned once.
_CLIENT_TOKEN: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def is_log_group_name(name: str) -> bool:
    """Whether ``name`` is a name CloudWatch allows for a log group (never a pattern)."""
    return _GROUP_NAME.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class BackfillRequest:
    """What to backfill: group names or ``prefix*`` patterns, and a half-open range.

    ``client_token``, when given, makes the start idempotent: the same token
    answers with the job it first planned (see :mod:`logstream.backfill.tokens`).
    """

    log_groups: tuple[str, ...]
    start_ms: int
    end_ms: int
    client_token: str | None = None


def parse_request(
    payload: object, *, now_ms: int, default_groups: Sequence[str], default_days: int
) -> BackfillRequest:
    """Validate a manual start request: ``log_groups``, and ``days`` or ``start``/``end``.

    A ``days`` reaching back before the epoch starts at the epoch; planning then
    clamps the range to BACKFILL_MAX_DAYS and the retention, with a warning.
    """
    if not isinstance(payload, Mapping):
        raise BackfillInputError(
            f'a backfill request is a JSON object such as {{"log_groups": ["/aws/lambda/app"], '
            f'"days": 3}}, not {quoted(payload)}'
        )
    groups = _log_groups(payload, default_groups)
    start, end = _time_range(payload, now_ms, default_days)
    return BackfillRequest(groups, start, end, _client_token(payload))


def _client_token(payload: Mapping[str, Any]) -> str | None:
    token = payload.get("client_token")
    if token is None:
        return None
    if not isinstance(token, str) or not _CLIENT_TOKEN.fullmatch(token):
        raise BackfillInputError(
            f"client_token={quoted(token)} must be 1 to 64 of a-z A-Z 0-9 _ . : - (a UUID works)"
        )
    return token


def _log_groups(payload: Mapping[str, Any], default_groups: Sequence[str]) -> tuple[str, ...]:
    groups = payload.get("log_groups", payload.get("log_group", list(default_groups)))
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        raise BackfillInputError("log_groups must be a list of log group names or prefixes*")
    if not groups:
        raise BackfillInputError("no log_groups given and LOG_GROUPS is empty")
    if len(groups) > MAX_PATTERNS:
        raise BackfillInputError(
            f"{len(groups)} log_groups in one request; at most {MAX_PATTERNS}: "
            "use prefixes* or split the request"
        )
    for group in groups:
        if not _GROUP_NAME.fullmatch(group.removesuffix("*")):
            raise BackfillInputError(
                f"{quoted(group)} is not a log group name or prefix*: "
                "1 to 512 of a-z A-Z 0-9 _ - / . # (a prefix ends in *)"
            )
    return tuple(dict.fromkeys(groups))


def _time_range(payload: Mapping[str, Any], now_ms: int, default_days: int) -> tuple[int, int]:
    if "days" in payload and ("start" in payload or "end" in payload):
        raise BackfillInputError("give either days or start/end, not both")
    if "end" in payload and "start" not in payload:
        raise BackfillInputError("end needs a start; or give days to end now")
    if "start" in payload:
        start = _instant(payload["start"], "start")
        end = _instant(payload["end"], "end") if "end" in payload else now_ms
    else:
        days = payload.get("days", default_days)
        if not isinstance(days, int) or isinstance(days, bool) or days <= 0:
            raise BackfillInputError(f"days must be a positive whole number, not {quoted(days)}")
        end = now_ms
        start = max(EARLIEST_MS, now_ms - days * DAY_MS)
    if end <= start:
        raise BackfillInputError(
            f"the range ends ({iso(end)}) before or when it starts ({iso(start)})"
        )
    return start, end


def _instant(value: object, name: str) -> int:
    """Epoch ms from an operator's time; refused unless it lies in 1970..9999."""
    try:
        moment = parse_time(value, name)
    except (ValueError, OverflowError):
        raise BackfillInputError(f"{name}={quoted(value)} is not {_TIME_FORMATS}") from None
    if not EARLIEST_MS <= moment <= LATEST_MS:
        raise BackfillInputError(
            f"{name}={quoted(value)} lies outside 1970-01-01 .. 9999-12-31; give {_TIME_FORMATS}"
        )
    return moment
