"""Backfill under contention: two workers and the live path on one range, and a
lease lost in the middle of a page. Scheduled invocations of the built
BackfillFunction, live deliveries of the built DecoderFunction."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devstack.cloudwatch import put_events, read_events, subscription_deliveries
from devstack.payloads import make_events
from logstream import clients
from logstream.aws.cloudwatch import BotoCloudWatchSource
from logstream.retry import Deadline
from logstream.state_table import backfill_chunk_key
from tests.faults.matrix import CaseRow, Invocation, invoke_within
from tests.integration.conftest import Deployment
from tests.support.lambda_harness import invoke

SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


@pytest.fixture
def small_chunks(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    monkeypatch.setenv("BACKFILL_CHUNK_EVENTS", "1000")
    monkeypatch.setenv("BACKFILL_LEASE_SECS", "60")
    monkeypatch.setenv("DEADLINE_MARGIN_MS", "1000")
    clients.reset()
    return deployment


def _window(minutes: int) -> tuple[datetime, datetime]:
    """The backfill range: whole minutes, ending five minutes ago."""
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    return end - timedelta(minutes=minutes), end


def _request(group: str, window: tuple[datetime, datetime]) -> dict[str, Any]:
    start, end = (moment.strftime("%Y-%m-%dT%H:%M:%SZ") for moment in window)
    return {"log_groups": [group], "start": start, "end": end}


def _seed(
    deployment: Deployment, group: str, total: int, window: tuple[datetime, datetime]
) -> list[dict[str, Any]]:
    start = int(window[0].timestamp() * 1000) + 1
    end = int(window[1].timestamp() * 1000) - 1
    step = (end - start) // total
    half = total // 2
    put_events(deployment.logs, group, "a", make_events(half, start, step_ms=2 * step, seed=3))
    put_events(
        deployment.logs,
        group,
        "b",
        make_events(total - half, start + step, step_ms=2 * step, seed=4, first_sequence=half),
    )
    return read_events(deployment.logs, group)


def _finish(case: CaseRow, job_id: str) -> dict[str, Any]:
    """Scheduled runs until the job is done (each one timed); the final job view."""
    for _ in range(10):
        job: dict[str, Any] = invoke("BackfillFunction", {"action": "status", "job_id": job_id})[
            "job"
        ]
        if job["status"] == "done":
            return job
        case.timed(
            invoke_within("BackfillFunction", SCHEDULED, 60.0, label="scheduled")
        ).raise_error()
    raise AssertionError(f"job {job_id} not done after 10 scheduled runs")


def test_two_workers_and_the_live_path_on_one_range(
    small_chunks: Deployment, fault_case: CaseRow
) -> None:
    deployment = small_chunks
    group = "/fault/contended"
    window = _window(180)  # 12 chunks of 15 minutes
    events = _seed(deployment, group, 6_000, window)
    fault_case.send(e["eventId"] for e in events)
    fault_case.faults = "2 scheduled workers + 12 live deliveries of the same events, concurrently"
    job = clients.backfill_service().start(_request(group, window), Deadline.after_seconds(60))
    deliveries = list(subscription_deliveries(group, events, max_events=500))

    def live() -> list[Invocation]:
        return [
            invoke_within("DecoderFunction", d, 30.0, label=f"live {n}")
            for n, d in enumerate(deliveries)
        ]

    def worker(name: str) -> Callable[[], list[Invocation]]:
        return lambda: [invoke_within("BackfillFunction", SCHEDULED, 60.0, label=name)]

    with ThreadPoolExecutor(3) as pool:
        runs = [pool.submit(task) for task in (worker("worker 1"), worker("worker 2"), live)]
        calls = [call for run in runs for call in run.result()]
    for call in calls:
        fault_case.timed(call)
    for call in calls:
        call.raise_error()
    final = _finish(fault_case, job.job_id)
    fault_case.count(deployment.search, deployment.settings.index_prefix)
    assert (fault_case.lost, fault_case.duplicated) == (0, 0)
    assert fault_case.all_before_deadline, fault_case.invocations
    # Visible: the overlap shows as duplicates (409s), never as a second copy.
    work = [c.result["work"] for c in calls if "work" in (c.result or {})]
    live_duplicates = sum(c.result["duplicates"] for c in calls if "duplicates" in c.result)
    assert sum(w["duplicates"] for w in work) + live_duplicates > 0
    touched = [set(w["chunks_touched"]) for w in work]
    assert touched[0].isdisjoint(touched[1]), "two workers held one chunk"
    assert final["chunks_done"] == final["chunks_total"]


def test_a_lease_lost_mid_page(
    small_chunks: Deployment, fault_case: CaseRow, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment = small_chunks
    group = "/fault/lease-lost"
    window = _window(30)  # 2 chunks of 15 minutes
    events = _seed(deployment, group, 1_000, window)
    fault_case.send(e["eventId"] for e in events)
    fault_case.faults = (
        "after a worker fetched a 10-event page from the middle of a chunk, its lease expired and "
        "a second worker took the chunk over before the page was shipped"
    )
    job = clients.backfill_service().start(_request(group, window), Deadline.after_seconds(60))
    table = deployment.settings.state_table or ""
    original = BotoCloudWatchSource.filter_page
    takeover: list[Invocation] = []
    struck: list[bool] = []

    def page_then_lose_the_lease(source: BotoCloudWatchSource, *args: Any, **kwargs: Any) -> Any:
        if struck:
            return original(source, *args, **kwargs)
        page = original(source, *args, **{**kwargs, "limit": 10})  # a mid-chunk page
        if page.next_token is not None:
            struck.append(True)
            # The lease runs out under the first worker (a long pause) ...
            for chunk in clients.backfill_service().chunks.open_chunks(job.job_id):
                deployment.dynamodb.update_item(
                    TableName=table,
                    Key=backfill_chunk_key(job.job_id, chunk.number),
                    UpdateExpression="SET lease_expires = :past",
                    ExpressionAttributeValues={":past": {"N": "0"}},
                )
            # ... and another worker takes the chunk over and finishes it. In Lambda the two
            # run side by side; here the first one's clock is stopped while it waits.
            paused = time.monotonic()
            takeover.append(invoke_within("BackfillFunction", SCHEDULED, 60.0, label="takeover"))
            stopped_clock[0] += time.monotonic() - paused
        return page

    monkeypatch.setattr(BotoCloudWatchSource, "filter_page", page_then_lose_the_lease)
    started = time.monotonic()
    stopped_clock = [0.0]

    def first_clock() -> int:
        return int((60.0 - (time.monotonic() - started - stopped_clock[0])) * 1000)

    first = fault_case.timed(
        invoke_within("BackfillFunction", SCHEDULED, 60.0, label="first", remaining_ms=first_clock)
    )
    assert takeover, "the lease was never taken over: no mid-chunk page was fetched"
    fault_case.timed(takeover[0])
    first.raise_error()
    takeover[0].raise_error()
    final = _finish(fault_case, job.job_id)
    fault_case.count(deployment.search, deployment.settings.index_prefix)
    assert (fault_case.lost, fault_case.duplicated) == (0, 0)
    assert fault_case.all_before_deadline, fault_case.invocations
    assert first.result["work"]["lost_leases"] == 1  # visible: the report and a warning
    # The job's own numbers count each event once, whoever shipped it.
    assert final["events_shipped"] == len(events), final
