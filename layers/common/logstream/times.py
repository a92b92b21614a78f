"""Times at the edges: what operators type (ISO-8601 or epoch ms) and what reports show."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(value: object, name: str) -> int:
    """Epoch milliseconds from an ISO-8601 time (``2026-11-24T10:00:00Z``; no zone
    means UTC) or a whole number of epoch milliseconds; ValueError names ``name``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.isdigit():
            return int(text)
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return int(moment.timestamp() * 1000)
    raise ValueError(
        f"{name}={value!r} is not ISO-8601 (2026-11-24T10:00:00Z) or epoch milliseconds"
    )


def iso(epoch_ms: int) -> str:
    """``2026-11-24T10:05:00.000Z``: a timestamp as reports show it (UTC, milliseconds)."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"
