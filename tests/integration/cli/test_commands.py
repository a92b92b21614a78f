"""The operator CLI against the local stack: the same services the functions call."""

from __future__ import annotations

import json
import time

import pytest

from devstack.cloudwatch import put_events, read_events, subscription_deliveries
from devstack.payloads import make_events, subscription_payload
from logstream.cli import main
from tests.integration.conftest import Deployment


def _seed(deployment: Deployment, group: str, count: int) -> None:
    now = int(time.time() * 1000)
    put_events(deployment.logs, group, "s", make_events(count, now - 3 * 3_600_000, step_ms=1_000))


def test_backfill_start_work_status_and_list(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    group = "/aws/lambda/cli-backfill"
    _seed(deployment, group, 500)
    assert main(["backfill", "start", "--group", group, "--days", "1", "--work", "60"]) == 0
    out = capsys.readouterr().out
    job_id = out.split()[1]
    assert "0 quarantined" in out
    assert main(["backfill", "status", job_id, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["status"], status["events_shipped"]) == ("done", 500)
    assert main(["backfill", "list"]) == 0
    assert job_id in capsys.readouterr().out
    assert main(["backfill", "status", "no-such-job"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert sum(deployment.counts_by_index().values()) == 500


def test_reconcile_repairs_a_range_and_prints_its_report(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    group = "/aws/lambda/cli-reconcile"
    _seed(deployment, group, 300)
    events = read_events(deployment.logs, group)
    for number, delivery in enumerate(subscription_deliveries(group, events, max_events=50)):
        if number != 2:  # one lost delivery: 50 events the index never saw
            deployment.decode(delivery)
    start, end = events[0]["timestamp"], events[-1]["timestamp"] + 1
    span = ["--start", str(start), "--end", str(end)]
    code = main(["reconcile", "run", "--group", group, *span, "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["events_reshipped"], report["events_still_missing"]) == (50, 0)
    assert sum(deployment.counts_by_index().values()) == 300
    # The stored report, as a table: the run repaired the gap, nothing is still missing.
    assert main(["reconcile", "report", "--group", group]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["run", "status"]
    assert table[1].split()[1] == "repaired"
    assert table[1].split()[-3:] == ["1", "50", "0"]
    # And run again, as a human table: everything is there now.
    assert main(["reconcile", "run", "--group", group, *span]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["group", "status", "range"]
    assert f"{group}  clean" in out


def test_drift_report_and_heal(deployment: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    group = "/app/cli-drift"
    ts = 1764000000000
    deployment.decode(
        subscription_payload(group, "s", [{"id": "a", "timestamp": ts, "message": '{"code": 1}'}])
    )
    deployment.decode(
        subscription_payload(
            group, "s", [{"id": "b", "timestamp": ts + 1, "message": '{"code": "x"}'}]
        )
    )
    assert len(deployment.quarantine()) == 1
    assert main(["drift", "heal", "--group", group, "--json"]) == 0
    capsys.readouterr()
    assert main(["drift", "report", "--group", group]) == 0
    assert "json.code" in capsys.readouterr().out
    assert deployment.quarantine() == []
    assert sum(deployment.counts_by_index().values()) == 2


def test_backfill_start_answers_at_once_and_a_retry_with_its_token_plans_nothing_new(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    group = "/aws/lambda/cli-token"
    _seed(deployment, group, 300)
    start = ["backfill", "start", "--group", group, "--days", "1", "--client-token", "op-42"]
    assert main([*start, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    # Planned, not shipped: the workers do that.
    assert (first["status"], first["chunks_done"], first["events_shipped"]) == ("active", 0, 0)
    assert sum(deployment.counts_by_index().values()) == 0
    assert main([*start, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["job_id"] == first["job_id"]
    assert main(["--json", "backfill", "list"]) == 0
    assert [j["job_id"] for j in json.loads(capsys.readouterr().out)] == [first["job_id"]]

    # A worker ships it; show --watch follows it to the end (plain lines off a TTY).
    assert main(["backfill", "work", "--seconds", "60", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 300
    assert main(["backfill", "show", first["job_id"], "--watch", "--interval", "0"]) == 0
    out = capsys.readouterr().out
    assert f"job {first['job_id']} [" in out
    assert "1/1 chunks, 300 events" in out or "chunks, 300 events" in out
    assert "\r" not in out
    assert sum(deployment.counts_by_index().values()) == 300


def test_backfill_start_work_draws_progress_and_cancel_stops_a_job(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    group = "/aws/lambda/cli-progress"
    _seed(deployment, group, 400)
    assert main(["backfill", "start", "--group", group, "--days", "1", "--work", "60"]) == 0
    out = capsys.readouterr().out
    assert "events/s, ETA" in out
    assert out.splitlines()[-2].split()[2] == "done:"
    assert sum(deployment.counts_by_index().values()) == 400

    other = "/aws/lambda/cli-cancel"
    _seed(deployment, other, 100)
    assert main(["--json", "backfill", "start", "--group", other, "--days", "1"]) == 0
    job_id = json.loads(capsys.readouterr().out)["job_id"]
    assert main(["backfill", "cancel", job_id]) == 0
    assert f"job {job_id} cancelled" in capsys.readouterr().out
    assert main(["--json", "backfill", "work", "--seconds", "30"]) == 0
    assert json.loads(capsys.readouterr().out)["events"] == 0
    assert main(["backfill", "list"]) == 0
    listing = capsys.readouterr().out
    assert listing.splitlines()[0].split()[:2] == ["job", "status"]
    assert job_id in listing


def test_status_shows_lag_quarantine_and_verified_through(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    group = "/app/cli-status"
    ts = int(time.time() * 1000) - 60_000
    events = [
        {"id": "s1", "timestamp": ts, "message": '{"code": 1}'},
        {"id": "s2", "timestamp": ts + 1, "message": "plain"},
    ]
    deployment.decode(subscription_payload(group, "stream-a", events))
    conflict = {"id": "s3", "timestamp": ts + 2, "message": '{"code": "x"}'}
    deployment.decode(subscription_payload(group, "stream-b", [conflict]))
    assert main(["--json", "status", "--group", group]) == 0
    (status,) = json.loads(capsys.readouterr().out)
    assert status["streams"] == 2
    assert status["last_acknowledged"] is not None
    assert 0 <= status["lag_seconds"] < 3_600
    assert status["quarantined"] == {"mapper_parsing_exception": 1}
    assert status["verified_through"] is None
    assert status["subscribed"] is False
    # Every group the state table has seen is listed without --group.
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:2] == ["group", "subscribed"]
    assert group in out
    assert "mapper_parsing_exception 1" in out


def test_tail_prints_the_last_lines_then_what_arrives(
    deployment: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    group = "/app/cli-tail"
    ts = 1764000000000
    first = [{"id": f"t{i}", "timestamp": ts + i, "message": f"line {i}"} for i in range(5)]
    deployment.decode(subscription_payload(group, "s", first))
    assert main(["tail", group, "--lines", "3", "--max-polls", "1", "--interval", "0"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"2025-11-24T16:00:00.00{i}Z s line {i}" for i in (2, 3, 4)
    ]

    from logstream.cli.wiring import tail  # noqa: PLC0415 - the follower the command uses

    follower = tail(group)
    assert [line.message for line in follower.last(2)] == ["line 3", "line 4"]
    later = [{"id": f"u{i}", "timestamp": ts + 4, "message": f"later {i}"} for i in range(3)]
    deployment.decode(subscription_payload(group, "s", later))
    assert sorted(line.message for line in follower.poll()) == ["later 0", "later 1", "later 2"]
    assert follower.poll() == []
    assert main(["--json", "tail", group, "--lines", "1", "--max-polls", "0"]) == 0
    assert json.loads(capsys.readouterr().out)["message"].startswith("later")
