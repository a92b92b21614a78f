"""The fault matrix's bookkeeping: bounded invocations, ids in the index, one row per case.

Every case sends events with known ids, injects its faults, invokes the built
handlers the way Lambda does (a retry is the same event again), and then
counts by ``_id`` what the cluster holds. :class:`CaseRow` is that count plus
the invocations' time against their deadlines; ``conftest.py`` writes the rows
to JSON and ``reliability_table.py`` renders docs/reliability.md from it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from opensearchpy import OpenSearch, helpers

from devstack.lambda_context import FakeLambdaContext
from tests.support.lambda_harness import invoke

#: How long past its deadline a stuck invocation is waited for before the case
#: gives up on it (and fails): this is what keeps every case bounded in time.
GRACE_SECONDS = 8.0


@dataclass
class Invocation:
    """One handler call under a Lambda-style deadline."""

    label: str
    budget_s: float
    elapsed_s: float = 0.0
    remaining_ms: int = 0
    finished: bool = False
    result: Any = None
    error: BaseException | None = None

    @property
    def before_deadline(self) -> bool:
        """Returned or raised while the context still had time left."""
        return self.finished and self.remaining_ms > 0

    def as_dict(self) -> dict[str, Any]:
        """The row's record of this call (what the reliability table shows)."""
        outcome = "still running" if not self.finished else "ok"
        if self.error is not None:
            outcome = type(self.error).__name__
        return {
            "label": self.label,
            "seconds": round(self.elapsed_s, 1),
            "deadline_seconds": self.budget_s,
            "before_deadline": self.before_deadline,
            "outcome": outcome,
        }

    def describe(self) -> str:
        if not self.finished:
            return f"{self.label}: still running at {self.elapsed_s:.1f} s / {self.budget_s:.0f} s"
        outcome = type(self.error).__name__ if self.error is not None else "ok"
        return f"{self.label}: {self.elapsed_s:.1f} s / {self.budget_s:.0f} s ({outcome})"

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def invoke_within(
    function: str,
    event: Any,
    budget_s: float,
    *,
    label: str = "",
    remaining_ms: Callable[[], int] | None = None,
    on_wait: Callable[[], None] | None = None,
) -> Invocation:
    """Call a built handler in a thread with a ``budget_s`` deadline; wait at most GRACE past it.

    The deadline is judged by the context's own clock: the time it had left
    when the handler returned or raised (``remaining_ms`` scripts it instead).
    ``on_wait`` runs repeatedly in the calling thread while the handler runs
    (a case uses it to strike mid-invocation).
    """
    context = FakeLambdaContext(timeout_seconds=budget_s, remaining_ms=remaining_ms)
    call = Invocation(label or function, budget_s)
    started = time.monotonic()
    done = threading.Event()

    def run() -> None:
        try:
            call.result = invoke(function, event, context=context)
        except BaseException as error:
            call.error = error
        finally:
            call.remaining_ms = context.get_remaining_time_in_millis()
            call.elapsed_s = time.monotonic() - started
            call.finished = True
            done.set()

    threading.Thread(target=run, name=f"invoke-{function}", daemon=True).start()
    limit = started + budget_s + GRACE_SECONDS
    while not done.wait(0.02 if on_wait else max(0.0, limit - time.monotonic())):
        if time.monotonic() >= limit:
            break
        if on_wait is not None:
            on_wait()
    if not call.finished:
        call.elapsed_s = time.monotonic() - started
    return call


def ids_in_index(search: OpenSearch, prefix: str) -> Counter[str]:
    """How often each ``_id`` occurs across the deployment's log indices (not quarantine)."""
    search.indices.refresh(index=f"{prefix}-*", ignore_unavailable=True)
    hits = helpers.scan(
        search,
        index=f"{prefix}-*,-{prefix}-quarantine",
        query={"query": {"match_all": {}}, "_source": False},
        size=5_000,
        ignore_unavailable=True,
    )
    return Counter(hit["_id"] for hit in hits)


def parked_ids(search: OpenSearch, prefix: str) -> Counter[str]:
    """The event id of every quarantine record (events parked for a reason).

    A refused document's record names it in ``doc_id``; a malformed event's
    record keeps the event itself in ``raw``, which holds its id if it had one.
    """
    quarantine = f"{prefix}-quarantine"
    if not search.indices.exists(index=quarantine):
        return Counter()
    search.indices.refresh(index=quarantine)
    query = {"_source": ["doc_id", "raw"]}
    hits = helpers.scan(search, index=quarantine, query=query, size=5_000)
    return Counter(_parked_event_id(hit["_source"]) for hit in hits)


def _parked_event_id(record: dict[str, Any]) -> str:
    if record.get("doc_id"):
        return str(record["doc_id"])
    try:
        raw = json.loads(record.get("raw") or "null")
    except ValueError:
        return ""
    return str(raw.get("id", "")) if isinstance(raw, dict) else ""


@dataclass
class CaseRow:
    """One line of the reliability table, filled in as the case runs."""

    case: str
    faults: str = ""
    sent: int = 0
    in_index: int = 0
    parked: int = 0
    lost: int = 0
    duplicated: int = 0
    invocations: list[dict[str, Any]] = field(default_factory=list)
    all_before_deadline: bool = True
    outcome: str = "not run"
    failure: str = ""
    _sent_ids: set[str] = field(default_factory=set, repr=False)

    def send(self, ids: Iterable[str]) -> None:
        self._sent_ids.update(ids)
        self.sent = len(self._sent_ids)

    def timed(self, call: Invocation) -> Invocation:
        self.invocations.append(call.as_dict())
        self.all_before_deadline = self.all_before_deadline and call.before_deadline
        return call

    def count(
        self, search: OpenSearch, prefix: str, *, may_park: Iterable[str] = ()
    ) -> Counter[str]:
        """Count the sent events by ``_id``; ``may_park`` ids belong in quarantine instead."""
        indexed = ids_in_index(search, prefix)
        parked = parked_ids(search, prefix)
        allowed_parked = set(may_park)
        self.in_index = sum(1 for i in self._sent_ids if indexed[i])
        self.parked = sum(1 for i in self._sent_ids if parked[i])
        self.lost = sum(
            1 for i in self._sent_ids if not indexed[i] and not (i in allowed_parked and parked[i])
        )
        self.duplicated = sum(
            indexed[i] - 1 + (1 if indexed[i] and parked[i] else 0)
            for i in self._sent_ids
            if indexed[i] > 1 or (indexed[i] and parked[i])
        )
        return indexed

    def as_dict(self) -> dict[str, Any]:
        row = asdict(self)
        row.pop("_sent_ids")
        return row
