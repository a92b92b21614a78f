"""A Lambda context with a real countdown, for calling handlers in-process."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class FakeLambdaContext:
    """The attributes Powertools and our deadline read from a real context."""

    function_name: str = "logstream-test"
    memory_limit_in_mb: int = 512
    timeout_seconds: float = 120.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:logstream-test"
    log_group_name: str = "/aws/lambda/logstream-test"
    log_stream_name: str = "2026/11/24/[$LATEST]test"
    #: Scripts the time left instead of counting down, for tests that must not
    #: depend on how fast the machine is.
    remaining_ms: Callable[[], int] | None = None
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        if self.remaining_ms is not None:
            return self.remaining_ms()
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))
