"""The backfill function's glue and the service's front door, on in-memory fakes:
bad input is answered and stores nothing; infrastructure failures raise."""

from __future__ import annotations

from collections import Counter
from typing import Any, cast

import pytest

from logstream.aws.cloudwatch import EventPage, LogGroupInfo, LogGroupNotFound
from logstream.backfill.actions import handle_event
from logstream.backfill.auto import AutoBackfill, auto_backfill_hook
from logstream.backfill.chunk_store import ChunkStore
from logstream.backfill.claims import GroupClaims
from logstream.backfill.job_store import JobStore
from logstream.backfill.model import JobNotFound, JobView, WorkReport
from logstream.backfill.plan import JobPlan
from logstream.backfill.service import BackfillService
from logstream.backfill.tokens import ClientTokens
from logstream.errors import NotFoundError
from logstream.retry import Deadline
from logstream.settings import Settings
from logstream.shipping.payload import LogBatch
from logstream.shipping.service import Shipper
from logstream.times import parse_time

NOW_S = parse_time("2026-11-24T10:00:00Z", "now") / 1000
DEADLINE = Deadline.after_seconds(60)


def view(job_id: str) -> JobView:
    return JobView(
        job_id=job_id,
        status="active",
        log_groups=["/a"],
        start="2026-11-23T10:00:00.000Z",
        end="2026-11-24T10:00:00.000Z",
        chunks_total=1,
        chunks_done=0,
        events_shipped=0,
        quarantined=0,
        created_at="2026-11-24T10:00:00.000Z",
        started_at=None,
        finished_at=None,
        eta_seconds=None,
        warnings=[],
    )


class FakeSource:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def describe_group(self, log_group: str, deadline: Deadline) -> LogGroupInfo:
        self.calls["DescribeLogGroups"] += 1
        if log_group != "/a":
            raise LogGroupNotFound(log_group)
        return LogGroupInfo("/a", "123456789012", 0, None, 0)

    def groups_with_prefix(self, prefix: str, deadline: Deadline) -> list[LogGroupInfo]:
        self.calls["DescribeLogGroups"] += 1
        return []

    def filter_page(self, *args: object, **kwargs: object) -> EventPage:
        raise AssertionError("not read here")


class FakeJobs:
    def __init__(self) -> None:
        self.created: list[JobPlan] = []
        self.fail_reads = False

    def create(self, plan: JobPlan) -> None:
        self.created.append(plan)

    def view(self, job_id: str) -> JobView:
        if self.fail_reads:
            raise RuntimeError("DynamoDB is down")
        if job_id not in {p.job_id for p in self.created}:
            raise JobNotFound(job_id)
        return view(job_id)

    def status(self, job_id: str) -> str:
        return self.view(job_id).status

    def job_ids(self, *, active_only: bool) -> list[str]:
        return [p.job_id for p in self.created]


class FakeChunks:
    def __init__(self) -> None:
        self.created: list[JobPlan] = []

    def create(self, plan: JobPlan) -> None:
        self.created.append(plan)


class FakeClaims:
    def __init__(self) -> None:
        self.claimed: set[str] = set()
        self.unclaimed: list[str] = []

    def claim(self, log_group: str) -> bool:
        if log_group in self.claimed:
            return False
        self.claimed.add(log_group)
        return True

    def unclaim(self, log_group: str) -> None:
        self.claimed.discard(log_group)
        self.unclaimed.append(log_group)


class FakeTokens:
    """Client tokens in memory, with the conditional write's first-wins rule."""

    def __init__(self) -> None:
        self.bound: dict[str, str] = {}

    def job_for(self, client_token: str) -> str | None:
        return self.bound.get(client_token)

    def claim(self, client_token: str, job_id: str) -> str:
        return self.bound.setdefault(client_token, job_id)


class Service(BackfillService):
    """The real service on fakes; ``work`` reports without leasing anything."""

    def work(self, deadline: Deadline, job_ids: Any = None) -> WorkReport:
        return WorkReport(worker="test")


def service() -> Service:
    return Service(
        jobs=cast(JobStore, FakeJobs()),
        chunks=cast(ChunkStore, FakeChunks()),
        claims=cast(GroupClaims, FakeClaims()),
        source=FakeSource(),
        shipper=cast(Shipper, None),
        region="us-east-1",
        default_groups=(),
        default_days=30,
        max_days=400,
        target_chunk_events=50_000,
        lease_ms=60_000,
        tokens=cast(ClientTokens, FakeTokens()),
        clock=lambda: NOW_S,
    )


def stored(svc: BackfillService) -> list[JobPlan]:
    return cast(FakeJobs, svc.jobs).created + cast(FakeChunks, svc.chunks).created


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (["start"], "JSON object"),
        ("start", "JSON object"),
        (None, "JSON object"),
        (42, "JSON object"),
        ({"action": "explode"}, "unknown action"),
        ({"action": {"nested": "x" * 10_000}}, "unknown action"),
        ({"action": "cancel"}, "needs a job_id"),
        ({"action": "status", "job_id": 7}, "needs a job_id"),
        ({"action": "status", "job_id": "no-such-job"}, "does not exist"),
        ({"log_groups": ["/missing"], "days": 1}, "does not exist"),
        ({"log_groups": ["/a"], "start": 10**18}, "outside 1970"),
        ({"log_groups": ["/a"], "days": "3"}, "positive whole number"),
        ({"log_groups": "/a", "days": 1, "end": 5}, "either days"),
    ],
)
def test_bad_input_is_answered_and_stores_nothing(event: object, expected: str) -> None:
    svc = service()
    answer = handle_event(svc, event, DEADLINE)
    assert answer["ok"] is False
    assert expected in answer["error"]
    assert len(answer["error"]) < 400
    assert stored(svc) == []


def test_a_refused_request_is_refused_before_any_look_up() -> None:
    svc = service()
    handle_event(svc, {"log_groups": ["/a"], "start": 10**18}, DEADLINE)
    assert cast(FakeSource, svc.source).calls == Counter()


def test_a_good_start_stores_chunks_then_job_and_answers_ok() -> None:
    svc = service()
    answer = handle_event(svc, {"log_groups": ["/a"], "days": 1}, DEADLINE)
    assert answer["ok"] is True, answer
    assert answer["job"]["job_id"] == stored(svc)[0].job_id
    # It answers at once: the scheduled workers ship the job.
    assert "work" not in answer
    assert cast(FakeChunks, svc.chunks).created == cast(FakeJobs, svc.jobs).created


def test_a_retried_start_with_the_same_client_token_plans_once() -> None:
    svc = service()
    request = {"log_groups": ["/a"], "days": 1, "client_token": "retry-me"}
    first = handle_event(svc, request, DEADLINE)
    again = handle_event(svc, request, DEADLINE)
    assert first["ok"] and again["ok"]
    assert again["job"]["job_id"] == first["job"]["job_id"]
    assert len(cast(FakeJobs, svc.jobs).created) == 1
    other = handle_event(svc, {**request, "client_token": "another"}, DEADLINE)
    assert other["job"]["job_id"] != first["job"]["job_id"]


def test_a_token_whose_first_start_stopped_early_finishes_that_job() -> None:
    svc = service()
    cast(FakeTokens, svc.tokens).bound["t1"] = "0123456789abcdef"
    answer = handle_event(svc, {"log_groups": ["/a"], "days": 1, "client_token": "t1"}, DEADLINE)
    assert answer["job"]["job_id"] == "0123456789abcdef"
    assert [p.job_id for p in stored(svc)] == ["0123456789abcdef"] * 2


@pytest.mark.parametrize("token", ["", "x" * 65, "has space", 7])
def test_a_malformed_client_token_is_refused(token: object) -> None:
    svc = service()
    answer = handle_event(svc, {"log_groups": ["/a"], "days": 1, "client_token": token}, DEADLINE)
    assert answer["ok"] is False
    assert "client_token" in answer["error"]
    assert stored(svc) == []


def test_absurd_days_store_a_job_that_reads_back() -> None:
    svc = service()
    answer = handle_event(svc, {"log_groups": ["/a"], "days": 10**9}, DEADLINE)
    assert answer["ok"] is True, answer
    (plan,) = cast(FakeJobs, svc.jobs).created
    assert plan.request.start_ms == 0
    assert any("BACKFILL_MAX_DAYS" in w for w in plan.warnings)


def test_a_schedule_works_and_list_reads() -> None:
    svc = service()
    scheduled = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
    assert handle_event(svc, scheduled, DEADLINE) == {
        "ok": True,
        "work": WorkReport(worker="test").as_dict(),
    }
    assert handle_event(svc, {"action": "list"}, DEADLINE) == {"ok": True, "jobs": []}


def test_an_infrastructure_failure_raises() -> None:
    svc = service()
    cast(FakeJobs, svc.jobs).fail_reads = True
    with pytest.raises(RuntimeError, match="DynamoDB is down"):
        handle_event(svc, {"action": "status", "job_id": "0123456789abcdef"}, DEADLINE)


def test_job_not_found_is_a_not_found_input_error() -> None:
    assert isinstance(JobNotFound("x"), NotFoundError)


def batch(log_group: str) -> LogBatch:
    return LogBatch("DATA_MESSAGE", "123456789012", log_group, "s", (), [])


def test_auto_backfill_plans_a_group_once() -> None:
    svc = service()
    hook = AutoBackfill(lambda: svc, days=2)
    job_id = hook(batch("/a"), DEADLINE)
    assert job_id is not None
    assert hook(batch("/a"), DEADLINE) is None
    # Another container (its own memory) finds the claim taken.
    assert AutoBackfill(lambda: svc, days=2)(batch("/a"), DEADLINE) is None
    (plan,) = cast(FakeJobs, svc.jobs).created
    assert plan.job_id == job_id
    assert plan.request.end_ms - plan.request.start_ms == 2 * 86_400_000


def test_auto_backfill_unclaims_when_planning_fails_so_the_next_delivery_retries() -> None:
    svc = service()
    hook = AutoBackfill(lambda: svc, days=2)
    with pytest.raises(Exception, match="does not exist"):
        hook(batch("/missing"), DEADLINE)
    claims = cast(FakeClaims, svc.claims)
    assert claims.unclaimed == ["/missing"]
    assert "/missing" not in claims.claimed
    with pytest.raises(Exception, match="does not exist"):
        hook(batch("/missing"), DEADLINE)


def test_auto_backfill_is_off_without_days_or_a_state_table() -> None:
    base = {"AWS_REGION": "us-east-1", "STATE_TABLE": "state"}
    assert auto_backfill_hook(Settings.from_env({**base, "BACKFILL_DAYS": "0"}), service) is None
    no_table = Settings.from_env({"AWS_REGION": "us-east-1", "BACKFILL_DAYS": "3"})
    assert auto_backfill_hook(no_table, service) is None
    assert isinstance(
        auto_backfill_hook(Settings.from_env({**base, "BACKFILL_DAYS": "3"}), service), AutoBackfill
    )


@pytest.mark.parametrize("forged", ["/*", "*", "/aws/lambda/*", "a b", ""])
def test_auto_backfill_reads_a_payload_group_literally_and_plans_nothing_for_a_pattern(
    forged: str,
) -> None:
    svc = service()
    assert AutoBackfill(lambda: svc, days=2)(batch(forged), DEADLINE) is None
    assert cast(FakeJobs, svc.jobs).created == []
    assert cast(FakeClaims, svc.claims).claimed == set()
