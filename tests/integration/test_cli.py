"""The operator CLI against the local stack: the same services the functions call."""

from __future__ import annotations

import json
import time

import pytest

from devstack.cloudwatch import put_events, read_events, subscription_deliveries
from devstack.payloads import make_events, subscription_payload
from logstream.cli import main
from tests.integration.conftest import Deployment


@pytest.fixture(autouse=True)
def _quiet_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    # main() sets this itself when unset; set here so the test undoes it.
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")


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
    assert "does not exist" in capsys.readouterr().out
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
    code = main(["reconcile", "--group", group, "--start", str(start), "--end", str(end), "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["events_reshipped"], report["events_still_missing"]) == (50, 0)
    assert sum(deployment.counts_by_index().values()) == 300


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
