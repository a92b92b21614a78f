"""One queue of requests shared by a fixed number of workers, with retries waiting aside.

The bulk sink's workers take requests from here. A request that must be tried
again is not retried in place (that would hold a worker, one of MAX_IN_FLIGHT,
through its whole backoff and starve every other request): it waits aside
until it is due, and workers take ready requests first. A waiting request may
absorb later retries with the same key (the caller's ``join``), so the few
items still failing across many requests travel together in one request.

Requests may also arrive while workers run (:meth:`add`, then :meth:`close`):
the payload's bodies are built while the first ones are on the wire, and a
worker idle for want of work waits for the next one instead of stopping.

Pure scheduling: it knows nothing about documents or HTTP; the clock and the
sleep are injected so tests can run on a fake clock.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections import deque
from collections.abc import Callable, Hashable, Iterable


class RequestQueue[T]:
    """Ready requests in order, then retries by due time; see the module docstring."""

    def __init__(
        self,
        items: Iterable[T],
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        feeding: bool = False,
    ) -> None:
        """``feeding``: more requests come through :meth:`add` until :meth:`close`."""
        self._changed = threading.Condition()
        self._ready: deque[T] = deque(items)
        self._waiting: list[tuple[float, int, Hashable, T]] = []
        self._open: dict[Hashable, T] = {}  # waiting requests that may still absorb retries
        self._order = itertools.count()
        self._busy = 0
        self._feeding = feeding
        self._clock = clock
        self._sleep = sleep

    def __len__(self) -> int:
        """Requests ready or waiting, not counting those being worked on."""
        with self._changed:
            return len(self._ready) + len(self._waiting)

    def take(self) -> T | None:
        """The next request (after sleeping until it is due), or None when all work is done.

        Every request taken must be followed by :meth:`done`.
        """
        with self._changed:
            while True:
                if self._ready:
                    self._busy += 1
                    return self._ready.popleft()
                if self._waiting:
                    due, _, key, item = heapq.heappop(self._waiting)
                    if self._open.get(key) is item:
                        del self._open[key]
                    self._busy += 1
                    break
                if self._busy == 0 and not self._feeding:
                    return None
                # Another worker's request may still split or come back for a retry,
                # or the feeder may still add requests.
                self._changed.wait()
        pause = due - self._clock()
        if pause > 0:
            self._sleep(pause)
        return item

    def done(self) -> None:
        """The request last taken by this worker is finished (whatever became of it)."""
        with self._changed:
            self._busy -= 1
            self._changed.notify_all()

    def now(self, items: Iterable[T]) -> None:
        """Requests to send next, in this order, before the ones already ready."""
        with self._changed:
            self._ready.extendleft(reversed(list(items)))
            self._changed.notify_all()

    def add(self, items: Iterable[T]) -> None:
        """Requests to send after the ones already ready (while feeding)."""
        with self._changed:
            self._ready.extend(items)
            self._changed.notify_all()

    def close(self) -> None:
        """No more requests will be added: workers stop once the rest is done."""
        with self._changed:
            self._feeding = False
            self._changed.notify_all()

    def later(self, item: T, due: float, *, key: Hashable, join: Callable[[T], bool]) -> None:
        """A retry to send at ``due``, unless a waiting request of ``key`` ``join``-s it in.

        ``join(waiting)`` runs under the queue's lock and returns whether it took the retry in.
        """
        with self._changed:
            waiting = self._open.get(key)
            if waiting is not None and join(waiting):
                return
            heapq.heappush(self._waiting, (due, next(self._order), key, item))
            self._open[key] = item
            self._changed.notify_all()
