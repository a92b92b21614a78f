"""What ``make demo`` prints: chapter headings, indented lines, and a ticker for slow steps.

The demo talks to a person, so the services' own logging (Powertools JSON,
moto's access log) is kept quiet and everything here is plain text.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_STARTED = time.monotonic()


def chapter(number: int, title: str) -> None:
    print(f"\n[{number}] {title}", flush=True)


def say(text: str = "") -> None:
    print(f"    {text}" if text else "", flush=True)


def elapsed() -> str:
    return f"{time.monotonic() - _STARTED:.0f} s"


def quiet_logging() -> None:
    """Only errors from the libraries: their INFO lines would interrupt the story."""
    for name in ("werkzeug", "botocore", "urllib3", "opensearch", "logstream"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # With POWERTOOLS_METRICS_DISABLED the demo records no metrics (logstream.observability),
    # so Powertools would warn at each flush.
    warnings.filterwarnings("ignore", message="No application metrics", category=UserWarning)


@contextmanager
def ticker(status: Callable[[], str], every: float = 5.0) -> Iterator[None]:
    """Print ``status()`` every ``every`` seconds while the block runs (a slow start-up)."""
    done = threading.Event()
    began = time.monotonic()

    def tick() -> None:
        while not done.wait(every):
            say(f"{status()} ({time.monotonic() - began:.0f} s)")

    thread = threading.Thread(target=tick, name="demo-ticker", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
