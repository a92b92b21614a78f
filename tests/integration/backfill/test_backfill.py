"""Backfill end to end: moto's CloudWatch Logs history -> the built BackfillFunction ->
the real cluster (each engine), with forced stops, crashes, replays and concurrent workers."""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devstack.cloudwatch import put_events, read_events, subscription_deliveries
from devstack.lambda_context import FakeLambdaContext
from devstack.payloads import make_events
from logstream import clients
from logstream.backfill.chunk_store import ChunkStore
from logstream.backfill.model import Chunk
from logstream.backfill.worker import BackfillWorker
from logstream.retry import Deadline
from logstream.shipping.service import DeliveryIncomplete
from tests.integration.conftest import Deployment
from tests.support.lambda_harness import invoke

SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


@pytest.fixture
def backfill_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # Short leases so a crashed worker's chunk comes back within the test.
    monkeypatch.setenv("BACKFILL_LEASE_SECS", "5")
    monkeypatch.setenv("DEADLINE_MARGIN_MS", "1000")
    clients.reset()


def _seed_history(deployment: Deployment, groups: list[str], total: int, days: int) -> int:
    now = datetime.now(UTC)
    start = int((now - timedelta(days=days) + timedelta(minutes=30)).timestamp() * 1000)
    end = int((now - timedelta(minutes=5)).timestamp() * 1000)
    per_group = total // len(groups)
    for g, group in enumerate(groups):
        n = per_group + (total - per_group * len(groups) if g == 0 else 0)
        half = n // 2
        step = (end - start) // n
        # Two streams per group, interleaved in time, as FilterLogEvents will return them.
        put_events(
            deployment.logs, group, "stream-a", make_events(half, start, step_ms=2 * step, seed=g)
        )
        put_events(
            deployment.logs,
            group,
            "stream-b",
            make_events(n - half, start + step, step_ms=2 * step, seed=g + 50, first_sequence=half),
        )
    return total


def _work_until_done(job_id: str, *, limit: int = 30) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    for _ in range(limit):
        status = invoke("BackfillFunction", {"action": "status", "job_id": job_id})["job"]
        if status["status"] == "done":
            return runs
        runs.append(invoke("BackfillFunction", SCHEDULED, timeout_seconds=120)["work"])
    raise AssertionError(f"job {job_id} not done after {limit} scheduled runs")


def test_a_forced_stop_and_a_crash_resume_and_land_every_event_exactly_once(
    deployment_behind_proxy: Deployment,
    fault_proxy: Any,
    backfill_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployment = deployment_behind_proxy
    groups = ["/aws/lambda/history-one", "/ecs/history#two"]
    total = _seed_history(deployment, groups, 50_000, days=3)
    stamps = sorted(e["timestamp"] for group in groups for e in read_events(deployment.logs, group))
    assert len(stamps) == total

    # 1. A start plans and answers at once; the first scheduled run works it and runs
    #    short of time: it ships some, stops cleanly.
    #    The time left is scripted, not counted down, so a slow machine cannot make
    #    it stop before any work: plenty until the first chunk holding events is
    #    done, then 2 s (1 s past DEADLINE_MARGIN_MS), less than a page is given.
    #    (Chunks align to their span, so the first one can be an empty sliver
    #    before the seeded history starts, depending on the time of day.)
    started = invoke("BackfillFunction", {"action": "start", "log_groups": groups, "days": 3})
    assert started["ok"], started
    assert started["job"]["chunks_done"] == 0
    assert "work" not in started
    remaining_ms = [120_000]
    complete = ChunkStore.complete

    def complete_then_run_short(store: ChunkStore, chunk: Chunk, owner: str) -> bool:
        done = complete(store, chunk, owner)
        if bisect_left(stamps, chunk.end_ms) > bisect_left(stamps, chunk.start_ms):
            remaining_ms[0] = 2_000
        return done

    with monkeypatch.context() as patch:
        patch.setattr(ChunkStore, "complete", complete_then_run_short)
        first = invoke(
            "BackfillFunction",
            SCHEDULED,
            context=FakeLambdaContext(remaining_ms=lambda: remaining_ms[0]),
        )
    assert first["ok"], first
    job = invoke("BackfillFunction", {"action": "status", "job_id": started["job"]["job_id"]})[
        "job"
    ]
    assert first["work"]["stopped_before_deadline"] is True
    assert 0 < job["chunks_done"] < job["chunks_total"]
    assert 0 < job["events_shipped"] < total

    # 2. A worker that crashes mid-chunk: the cluster refuses every request, the
    #    retries run out with time to spare, and the invocation raises, leaving
    #    its lease to expire. (A page that only runs out of time hands its chunk
    #    back instead: tests/unit/backfill/test_worker.py.)
    fault_proxy.reject_requests(100_000, status=503)
    with pytest.raises(DeliveryIncomplete):
        invoke(
            "BackfillFunction",
            SCHEDULED,
            context=FakeLambdaContext(remaining_ms=lambda: 120_000),
        )
    fault_proxy.clear_faults()
    time.sleep(5.5)  # the crashed worker's lease expires

    # 3. Scheduled runs pick everything up again, from the last acknowledged page.
    runs = _work_until_done(job["job_id"])
    assert runs, "the job should have needed more work"
    final = invoke("BackfillFunction", {"action": "status", "job_id": job["job_id"]})["job"]
    assert final["chunks_done"] == final["chunks_total"]
    assert final["eta_seconds"] is None
    assert sum(deployment.counts_by_index().values()) == total
    assert deployment.quarantine() == []
    shipped = first["work"]["events"] + sum(r["events"] for r in runs)
    rate = sum(r["events"] for r in runs) / max(sum(r["seconds"] for r in runs), 1e-9)
    print(f"\nbackfill: {total} events, {shipped} shipped (replays included), {rate:.0f} events/s")


@pytest.mark.both_layouts
def test_running_twice_and_overlapping_the_live_stream_leaves_the_source_count(
    deployment: Deployment, backfill_env: None
) -> None:
    groups = ["/aws/lambda/overlap"]
    total = _seed_history(deployment, groups, 6_000, days=2)
    events = read_events(deployment.logs, groups[0])
    # The live stream already delivered every third batch.
    for number, delivery in enumerate(subscription_deliveries(groups[0], events, max_events=500)):
        if number % 3 == 0:
            deployment.decode(delivery)
    live = sum(deployment.counts_by_index().values())
    assert 0 < live < total

    reports = []
    for _ in range(2):
        started = invoke("BackfillFunction", {"action": "start", "log_groups": groups, "days": 2})
        assert started["ok"], started
        runs = _work_until_done(started["job"]["job_id"])
        reports.append({key: sum(r[key] for r in runs) for key in ("delivered", "duplicates")})
        assert sum(deployment.counts_by_index().values()) == total

    assert reports[0]["delivered"] == total - live
    assert reports[1]["delivered"] == 0
    assert reports[1]["duplicates"] == total
    # Backfill wrote into the same daily indices as the live path, in the layout's shape.
    expected = Counter(deployment.daily_index(groups[0], e["timestamp"]) for e in events)
    assert deployment.counts_by_index() == dict(expected)


def test_two_concurrent_workers_never_process_the_same_chunk(
    deployment: Deployment, backfill_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKFILL_CHUNK_EVENTS", "1000")
    clients.reset()
    groups = ["/aws/lambda/concurrent-a", "/aws/lambda/concurrent-b"]
    total = _seed_history(deployment, groups, 8_000, days=2)
    service = clients.backfill_service()
    job = service.start({"log_groups": groups, "days": 2}, Deadline.after_seconds(60))
    assert job.chunks_total >= 8

    reports: dict[str, Any] = {}

    def work(name: str) -> None:
        worker = BackfillWorker(
            service.jobs,
            service.chunks,
            service.source,
            service.shipper,
            region="us-east-1",
            lease_ms=60_000,
            owner=name,
        )
        reports[name] = worker.run(Deadline.after_seconds(120), job_ids=[job.job_id])

    threads = [threading.Thread(target=work, args=(f"worker-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    touched = [set(reports[name].chunks_touched) for name in ("worker-0", "worker-1")]
    assert touched[0].isdisjoint(touched[1])
    assert len(touched[0] | touched[1]) == job.chunks_total
    assert all(touched), "both workers should have found work"
    assert service.status(job.job_id).status == "done"
    assert sum(deployment.counts_by_index().values()) == total


def test_a_lease_is_exclusive_until_it_expires(deployment: Deployment, backfill_env: None) -> None:
    groups = ["/aws/lambda/lease"]
    _seed_history(deployment, groups, 100, days=1)
    service = clients.backfill_service()
    job = service.start({"log_groups": groups, "days": 1}, Deadline.after_seconds(60))
    chunk = service.chunks.open_chunks(job.job_id)[0]
    assert service.chunks.lease(chunk, "first", 1_000) is not None
    assert service.chunks.lease(chunk, "second", 1_000) is None
    time.sleep(1.1)
    assert service.chunks.lease(chunk, "second", 1_000) is not None
    # The first holder lost it: its progress writes are refused.
    assert not service.chunks.save_page(
        chunk, "first", next_token="t", events=1, quarantined=0, lease_ms=1_000
    )


@pytest.fixture
def history_group(deployment: Deployment) -> Iterator[str]:
    group = "/aws/lambda/retained"
    put_events(deployment.logs, group, "s", make_events(10, int(time.time() * 1000) - 60_000))
    deployment.logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    yield group


@pytest.mark.parametrize(
    ("request_body", "error"),
    [
        ({"log_groups": ["/does/not/exist"], "days": 1}, "does not exist"),
        ({"log_groups": ["/nothing/matches*"], "days": 1}, "no log group matches"),
        (
            {
                "log_groups": ["/aws/lambda/retained"],
                "start": "2026-11-20T00:00:00Z",
                "end": "2026-11-10T00:00:00Z",
            },
            "before or when it starts",
        ),
        ({"log_groups": ["/aws/lambda/retained"], "days": 0}, "positive whole number"),
        ({"log_groups": ["/aws/lambda/retained"], "days": 1, "start": "2026-11-20"}, "either days"),
        ({"log_groups": ["/aws/lambda/retained"], "start": "last tuesday"}, "not ISO-8601"),
        ({"action": "status", "job_id": "no-such-job"}, "does not exist"),
        ({"action": "cancel"}, "needs a job_id"),
        ({"action": "explode"}, "unknown action"),
        # Hostile input is refused before anything is stored, and quoted short.
        ({"log_groups": ["/aws/lambda/retained"], "start": 10**18}, "outside 1970-01-01"),
        ({"log_groups": ["/aws/lambda/retained"], "start": "x" * 100_000}, "not ISO-8601"),
        ({"log_groups": ["/aws/lambda/retained"], "end": "2026-11-20"}, "end needs a start"),
        ({"log_groups": ["/" * 600], "days": 1}, "not a log group name"),
        ({"log_groups": [f"/g/{n}" for n in range(101)], "days": 1}, "at most 100"),
        ({"action": "status", "job_id": "j" * 5_000}, "does not exist"),
        ({"action": ["start"]}, "unknown action"),
    ],
)
def test_bad_requests_get_a_clear_error_and_plan_nothing(
    deployment: Deployment, history_group: str, request_body: dict[str, Any], error: str
) -> None:
    answer = invoke("BackfillFunction", {"action": "start", **request_body})
    assert answer["ok"] is False
    assert error in answer["error"]
    assert len(answer["error"]) < 400, "a rejected value is quoted short"
    assert invoke("BackfillFunction", {"action": "list"})["jobs"] == []


@pytest.mark.parametrize("event", [["start"], "start", 42, None])
def test_an_event_that_is_not_an_object_gets_a_clear_error(
    deployment: Deployment, event: object
) -> None:
    answer = invoke("BackfillFunction", event)
    assert answer["ok"] is False
    assert "JSON object" in answer["error"]
    assert invoke("BackfillFunction", {"action": "list"})["jobs"] == []


def test_an_absurd_number_of_days_is_clamped_and_the_job_reads_back(
    deployment: Deployment, history_group: str
) -> None:
    answer = invoke(
        "BackfillFunction", {"action": "start", "log_groups": [history_group], "days": 10**9}
    )
    assert answer["ok"], answer
    assert answer["job"]["start"] == "1970-01-01T00:00:00.000Z"
    assert "BACKFILL_MAX_DAYS" in " ".join(answer["job"]["warnings"])
    job_id = answer["job"]["job_id"]
    assert invoke("BackfillFunction", {"action": "status", "job_id": job_id})["ok"]
    assert [j["job_id"] for j in invoke("BackfillFunction", {"action": "list"})["jobs"]] == [job_id]


def test_long_and_old_ranges_are_clamped_with_a_warning(
    deployment: Deployment, history_group: str
) -> None:
    answer = invoke(
        "BackfillFunction", {"action": "start", "log_groups": [history_group], "days": 3650}
    )
    assert answer["ok"], answer
    warnings = " ".join(answer["job"]["warnings"])
    assert "BACKFILL_MAX_DAYS" in warnings
    assert "retention is 7 days" in warnings
    # The plan covers at most the retained week: a handful of chunks, not ten years.
    assert answer["job"]["chunks_total"] <= 7 * 4 + 1
    _work_until_done(answer["job"]["job_id"])
    source = len(read_events(deployment.logs, history_group))
    assert sum(deployment.counts_by_index().values()) == source


def test_a_cancelled_job_stops_being_worked(deployment: Deployment, backfill_env: None) -> None:
    groups = ["/aws/lambda/cancelled"]
    _seed_history(deployment, groups, 2_000, days=2)
    service = clients.backfill_service()
    job = service.start({"log_groups": groups, "days": 2}, Deadline.after_seconds(60))
    cancelled = invoke("BackfillFunction", {"action": "cancel", "job_id": job.job_id})["job"]
    assert cancelled["status"] == "cancelled"
    work = invoke("BackfillFunction", SCHEDULED)["work"]
    assert work["events"] == 0
    assert sum(deployment.counts_by_index().values()) == 0


def test_a_group_seen_for_the_first_time_gets_its_history_planned(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, backfill_env: None
) -> None:
    monkeypatch.setenv("BACKFILL_DAYS", "2")
    clients.reset()
    group = "/aws/lambda/newly-subscribed"
    total = _seed_history(deployment, [group], 3_000, days=2)
    events = read_events(deployment.logs, group)
    live = next(iter(subscription_deliveries(group, events[-100:])))

    deployment.decode(live)
    jobs = invoke("BackfillFunction", {"action": "list"})["jobs"]
    assert [j["log_groups"] for j in jobs] == [[group]]
    deployment.decode(live)  # the same group again: no second job
    assert len(invoke("BackfillFunction", {"action": "list"})["jobs"]) == 1

    _work_until_done(jobs[0]["job_id"])
    assert sum(deployment.counts_by_index().values()) == total


def test_cancelling_a_finished_job_leaves_it_done(
    deployment: Deployment, backfill_env: None
) -> None:
    groups = ["/aws/lambda/finished"]
    _seed_history(deployment, groups, 200, days=1)
    started = invoke("BackfillFunction", {"action": "start", "log_groups": groups, "days": 1})
    job_id = started["job"]["job_id"]
    _work_until_done(job_id)
    status = invoke("BackfillFunction", {"action": "status", "job_id": job_id})["job"]
    assert status["status"] == "done"
    assert invoke("BackfillFunction", {"action": "cancel", "job_id": job_id})["job"]["status"] == (
        "done"
    )
    listed = invoke("BackfillFunction", {"action": "list"})["jobs"]
    assert [(j["job_id"], j["status"]) for j in listed] == [(job_id, "done")]
    # The job index agrees with the job: done, not cancelled, offered to no worker.
    index = deployment.dynamodb.query(
        TableName=deployment.settings.state_table or "",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "backfill-jobs"}},
    )["Items"]
    assert [item["status"]["S"] for item in index] == ["done"]
    assert clients.backfill_service().jobs.job_ids(active_only=True) == []


def test_a_retried_start_with_its_client_token_answers_with_the_same_job(
    deployment: Deployment, history_group: str
) -> None:
    request = {"action": "start", "log_groups": [history_group], "days": 1, "client_token": "t-1"}
    first = invoke("BackfillFunction", request)
    again = invoke("BackfillFunction", request)
    assert first["ok"] and again["ok"], (first, again)
    assert again["job"]["job_id"] == first["job"]["job_id"]
    assert [j["job_id"] for j in invoke("BackfillFunction", {"action": "list"})["jobs"]] == [
        first["job"]["job_id"]
    ]
    token = deployment.dynamodb.get_item(
        TableName=deployment.settings.state_table or "",
        Key={"pk": {"S": "backfill-token#t-1"}, "sk": {"S": "token"}},
    )["Item"]
    assert token["job_id"]["S"] == first["job"]["job_id"]
    assert int(token["expires_at"]["N"]) > 0
