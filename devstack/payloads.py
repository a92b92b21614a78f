"""Real-shaped CloudWatch Logs data for the demo, the tests and the benchmarks.

``subscription_payload`` builds exactly what a subscription filter hands the
decoder (``{"awslogs": {"data": base64(gzip(json))}}``); ``realistic_messages``
yields the mix the benchmark issue names: JSON application logs with nested
objects, plain text lines and Lambda START / END / REPORT lines. The platform
lines end in a newline, as Lambda writes them and CloudWatch keeps them (see
``events/decoder-subscription.source.json``).
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

ACCOUNT = "123456789012"


def subscription_payload(
    log_group: str,
    log_stream: str,
    events: Sequence[dict[str, Any]],
    *,
    owner: str = ACCOUNT,
    filters: Sequence[str] = ("logstream",),
    message_type: str = "DATA_MESSAGE",
) -> dict[str, Any]:
    """A Lambda event as a subscription filter delivers it."""
    body = {
        "messageType": message_type,
        "owner": owner,
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": list(filters),
        "logEvents": [
            {"id": e["id"], "timestamp": e["timestamp"], "message": e["message"]} for e in events
        ],
    }
    return {"awslogs": {"data": encode_data(json.dumps(body).encode())}}


def encode_data(raw: bytes) -> str:
    """base64(gzip(raw)): the ``awslogs.data`` encoding."""
    return base64.b64encode(gzip.compress(raw)).decode("ascii")


def event_id(timestamp_ms: int, sequence: int) -> str:
    """A 56-digit id in CloudWatch's style (unique per timestamp and sequence)."""
    return f"{timestamp_ms:020d}{sequence:036d}"


def realistic_messages(seed: int = 7) -> Iterator[str]:
    """An endless, reproducible mix of the messages real Lambda and ECS groups hold."""
    rng = random.Random(seed)
    paths = ["/api/orders", "/api/users/42", "/health", "/api/cart/checkout", "/static/app.js"]
    levels = ["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"]
    while True:
        request_id = str(uuid.UUID(int=rng.getrandbits(128)))
        yield f"START RequestId: {request_id} Version: $LATEST\n"
        for _ in range(rng.randint(2, 6)):
            if rng.random() < 0.6:
                yield json.dumps(
                    {
                        "level": rng.choice(levels),
                        "message": "request handled",
                        "timestamp": "2026-11-24T07:00:00.000Z",
                        "service": "orders",
                        "http": {
                            "method": rng.choice(["GET", "POST"]),
                            "path": rng.choice(paths),
                            "status": rng.choice([200, 200, 201, 404, 500]),
                            "latency_ms": round(rng.uniform(1, 900), 3),
                        },
                        "user": {"id": rng.randint(1, 10_000), "tier": rng.choice(["free", "pro"])},
                        "cold_start": rng.random() < 0.05,
                        "xray_trace_id": f"1-{rng.getrandbits(32):08x}-{rng.getrandbits(96):024x}",
                    }
                )
            else:
                yield (
                    f"2026-11-24T07:00:00.{rng.randint(0, 999):03d}Z\t{request_id}\t"
                    f"{rng.choice(levels)}\tprocessed {rng.randint(1, 500)} items from "
                    f"queue orders-{rng.randint(1, 9)} in {rng.uniform(1, 90):.2f} ms"
                )
        duration = rng.uniform(1, 900)
        init = f"\tInit Duration: {rng.uniform(100, 900):.2f} ms" if rng.random() < 0.1 else ""
        yield f"END RequestId: {request_id}\n"
        yield (
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {int(duration) + 1} ms\tMemory Size: 512 MB\t"
            f"Max Memory Used: {rng.randint(60, 300)} MB{init}\t\n"
        )


def make_events(
    count: int, start_ms: int, *, step_ms: int = 1, seed: int = 7, first_sequence: int = 0
) -> list[dict[str, Any]]:
    """``count`` events with realistic messages, ``step_ms`` apart, unique ids."""
    messages = realistic_messages(seed)
    return [
        {
            "id": event_id(start_ms + i * step_ms, first_sequence + i),
            "timestamp": start_ms + i * step_ms,
            "message": next(messages),
        }
        for i in range(count)
    ]
