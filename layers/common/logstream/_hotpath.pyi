"""Type stub of the compiled hot path (layers/common/hotpath, Rust)."""

from collections.abc import Callable
from typing import Any

MAX_TIMESTAMP_MS: int
MAX_MESSAGE_BYTES: int

def encode_events(
    events: list[Any],
    log_group: str,
    default_stream: str,
    target_of_day: Callable[[int], tuple[str, bytes]],
    tail_of_stream: Callable[[str], bytes],
    json_fields: Callable[[str], bytes | None],
    lambda_fields: Callable[[str], bytes],
    document: Callable[[str, str, int, str, str, bytes], Any],
    slow: Callable[[int, Any], None],
    documents: list[Any],
) -> int: ...
