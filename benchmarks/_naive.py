"""The naive decoder the issue compares against, and how the two are timed side by side.

Kept apart from ``bench_decoder`` because it must not import ``logstream``:
``bench_invocation`` runs it beside an older ``logstream`` whose modules live
elsewhere.
"""

from __future__ import annotations

import gc
import gzip
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent

REGION = "us-east-1"


def baseline(event: dict[str, Any], region: str = REGION, prefix: str = "logs") -> bytes:
    """The naive decoder: what a first version written with the usual tools looks like."""
    decoded = CloudWatchLogsEvent(event).parse_logs_data()
    return naive_gzip(naive_body(decoded, region, prefix))


def naive_decode(event: dict[str, Any]) -> Any:
    """Powertools' decode of ``awslogs.data`` (base64, zlib, json)."""
    return CloudWatchLogsEvent(event).parse_logs_data()


def _naive_index_part(log_group: str) -> str:
    return log_group.strip("/").replace("/", "-").replace("_", "-").lower()


def naive_body(decoded: Any, region: str, prefix: str) -> bytes:
    """One NDJSON body for the whole batch: a dict per event, ``json.dumps`` per line."""
    group, stream, owner = decoded.log_group, decoded.log_stream, decoded.owner
    group_part = _naive_index_part(group)
    lines: list[str] = []
    for log_event in decoded.log_events:
        when = datetime.fromtimestamp(log_event.timestamp / 1000, tz=UTC)
        message = log_event.message
        document: dict[str, Any] = {
            "@timestamp": when.isoformat(timespec="milliseconds"),
            "event_id": log_event.get_id,
            "message": message,
            "log_group": group,
            "log_stream": stream,
            "owner": owner,
            "region": region,
        }
        if message.lstrip().startswith("{"):
            try:
                parsed = json.loads(message)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                document["json"] = parsed
        index = f"{prefix}-{group_part}-{when:%Y.%m.%d}"
        lines.append(json.dumps({"create": {"_index": index, "_id": log_event.get_id}}))
        lines.append(json.dumps(document))
    return ("\n".join(lines) + "\n").encode("utf-8")


def naive_gzip(body: bytes) -> bytes:
    """stdlib gzip at level 9."""
    return gzip.compress(body, compresslevel=9)


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this thread) for one call, after a collection."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.thread_time()
    fn()
    return time.perf_counter() - wall, time.thread_time() - cpu


@dataclass(slots=True)
class Headline:
    """Seconds of each trial of the baseline and of the path under test, by both clocks."""

    baseline_wall: list[float] = field(default_factory=list)
    baseline_cpu: list[float] = field(default_factory=list)
    optimized_wall: list[float] = field(default_factory=list)
    optimized_cpu: list[float] = field(default_factory=list)

    def ratios(self, cpu: bool = False) -> list[float]:
        """baseline / optimized of each trial: how many times faster the path under test is."""
        base = self.baseline_cpu if cpu else self.baseline_wall
        fast = self.optimized_cpu if cpu else self.optimized_wall
        return [b / o for b, o in zip(base, fast, strict=True)]


def measure_pair(
    naive: Callable[[], object], optimized: Callable[[], object], trials: int
) -> Headline:
    """Both paths back to back per trial, order alternating, so noise hits both alike."""
    result = Headline()
    runs = [(True, naive), (False, optimized)]
    for _, fn in runs:  # warm caches (regexes, lru_caches, imports) outside the clock
        fn()
    for trial in range(trials):
        for is_baseline, fn in runs if trial % 2 == 0 else runs[::-1]:
            wall, cpu = timed(fn)
            if is_baseline:
                result.baseline_wall.append(wall)
                result.baseline_cpu.append(cpu)
            else:
                result.optimized_wall.append(wall)
                result.optimized_cpu.append(cpu)
    return result
