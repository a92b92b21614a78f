"""Fair reconciliation at fleet scale: 1,000 log groups on moto, the real cluster,
the built ReconcileFunction, runs one after another on a scripted clock.

Every 40th group holds two events its index lacks: it counts as checked only
when its run re-shipped them (status ``repaired``). The others are empty and
come out ``clean``; every group's watermark is stored. (Not every group holds
events: each group's documents get their own daily index, and 1,000 indices
would hit the shared test cluster's 1,000-shard limit.) The clock is virtual
(each look at the time left costs ``TICK_MS``), so how many groups a run gets
through does not depend on how fast this machine is; the bound each run
states must hold whatever it is.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import pytest

from devstack.lambda_context import FakeLambdaContext
from logstream import clients
from tests.integration.conftest import Deployment
from tests.support.lambda_harness import invoke

GROUPS = 1_000
WITH_EVENTS = 40  # every 40th group holds events: 25 indices
PREFIX = "/fleet/svc-"
TIMEOUT_MS = 300_000
TICK_MS = 250
SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
HOUR_MS = 3_600_000


def _virtual_countdown(timeout_ms: int, tick_ms: int) -> Callable[[], int]:
    """Time left that drops ``tick_ms`` at every look: work, not the machine, spends it."""
    left = [timeout_ms]

    def remaining() -> int:
        left[0] = max(0, left[0] - tick_ms)
        return left[0]

    return remaining


def _seed(deployment: Deployment, names: list[str]) -> None:
    """The groups; in every WITH_EVENTS-th, two events two hours before the current
    hour: inside the checked range (BACKFILL_DAYS back to the settle lag) at any
    time of day."""
    base = int(time.time() * 1000) // HOUR_MS * HOUR_MS - 2 * HOUR_MS
    for number, name in enumerate(names):
        deployment.logs.create_log_group(logGroupName=name)
        if number % WITH_EVENTS:
            continue
        deployment.logs.create_log_stream(logGroupName=name, logStreamName="s")
        deployment.logs.put_log_events(
            logGroupName=name,
            logStreamName="s",
            logEvents=[
                {"timestamp": base + number, "message": f"first of {name}"},
                {"timestamp": base + 60_000 + number, "message": f"second of {name}"},
            ],
        )


def _run() -> dict[str, Any]:
    context = FakeLambdaContext(remaining_ms=_virtual_countdown(TIMEOUT_MS, TICK_MS))
    answer: dict[str, Any] = invoke("ReconcileFunction", SCHEDULED, context=context)
    return answer


def _watermarks(deployment: Deployment) -> int:
    table = deployment.settings.state_table or ""
    count = 0
    kwargs: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "begins_with(pk, :p)",
        "ExpressionAttributeValues": {":p": {"S": f"reconciled#{PREFIX}"}},
        "Select": "COUNT",
    }
    while True:
        page = deployment.dynamodb.scan(**kwargs)
        count += page["Count"]
        if "LastEvaluatedKey" not in page:
            return count
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _cursor(deployment: Deployment) -> dict[str, Any]:
    item: dict[str, Any] = deployment.dynamodb.get_item(
        TableName=deployment.settings.state_table or "",
        Key={"pk": {"S": "reconcile-cursor"}, "sk": {"S": "cursor"}},
        ConsistentRead=True,
    )["Item"]
    return item


# The walk does not depend on the engine: one engine keeps this run short.
@pytest.mark.one_engine
def test_a_thousand_groups_are_each_reconciled_within_the_stated_bound_of_runs(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"{PREFIX}{i:04d}" for i in range(GROUPS)]
    _seed(deployment, names)
    monkeypatch.setenv("LOG_GROUPS", f"{PREFIX}*")
    monkeypatch.setenv("BACKFILL_DAYS", "3")
    monkeypatch.setenv("RECONCILE_SETTLE_SECS", "60")
    monkeypatch.setenv("RECONCILE_INSIGHTS", "false")
    monkeypatch.setenv("DEADLINE_MARGIN_MS", "3000")
    clients.reset()

    checked: dict[str, int] = {}  # group -> the run that first checked it
    per_run: list[int] = []
    bounds: list[int] = []
    guaranteed_per_run: list[int] = []
    previous_last: str | None = None
    runs = 0
    while len(checked) < GROUPS and runs < GROUPS:
        answer = _run()
        runs += 1
        progress = answer["progress"]
        assert progress["listing_complete"] and progress["groups_total"] == GROUPS
        reports = answer["groups"]
        this_run = [g["log_group"] for g in reports]
        assert len(this_run) == len(set(this_run)) == progress["groups_checked"]
        for group in reports:
            if group["log_group"] in checked:  # the walk wrapped: checked again
                assert group["status"] in {"clean", "up_to_date"}, group
                continue
            seeded = names.index(group["log_group"]) % WITH_EVENTS == 0
            assert group["status"] == ("repaired" if seeded else "clean"), group
            assert group["events_reshipped"] == (2 if seeded else 0), group
        # the walk goes on from where the last run stopped, in name order
        after = names.index(previous_last) + 1 if previous_last else 0
        assert this_run == [names[(after + i) % GROUPS] for i in range(len(this_run))]
        previous_last = this_run[-1]
        per_run.append(len(this_run))
        bounds.append(progress["runs_bound"])
        guaranteed_per_run.append(progress["groups_per_run"])
        assert len(this_run) >= progress["groups_per_run"]
        for name in this_run:
            checked.setdefault(name, runs)
        print(f"run {runs}: {len(this_run)} groups, {len(checked)}/{GROUPS} checked", flush=True)

    # the listing may take a quarter of a run: the rest always fits this many slices
    guaranteed = math.floor((TIMEOUT_MS - 3000) / 1000 * 0.75 / 15)
    stated = max(bounds)
    assert set(checked) == set(names)
    assert runs <= stated <= math.ceil(GROUPS / guaranteed)
    assert _watermarks(deployment) == GROUPS
    assert _cursor(deployment).get("after", {}).get("S") == previous_last

    # A run too short to list 1,000 groups stops between pages, stores where it
    # stopped, and the next short run lists on from there (the walk stands at
    # the last group, so these runs only list).
    deployment.dynamodb.put_item(
        TableName=deployment.settings.state_table or "",
        Item={
            "pk": {"S": "reconcile-cursor"},
            "sk": {"S": "cursor"},
            "after": {"S": names[-1]},
            "cycle": {"N": "9"},
            "cycle_runs": {"N": "1"},
            "cycle_checked": {"N": "999"},
        },
    )
    listed: list[int] = []
    resumes: list[str] = []
    for _ in range(2):
        short = FakeLambdaContext(remaining_ms=_virtual_countdown(60_000, 5_000))
        cut = invoke("ReconcileFunction", SCHEDULED, context=short)["progress"]
        assert not cut["listing_complete"] and cut["groups_checked"] == 0
        listed.append(cut["groups_listed"])
        resumes.append(_cursor(deployment)["resume"]["S"])
    assert 0 < listed[0] < GROUPS and 0 < listed[1] < GROUPS
    assert resumes[0] != resumes[1]  # the second listing went on from the first's stop
    print(
        f"\nFAIRNESS groups={GROUPS} runs_needed={runs} runs_bound={stated} "
        f"groups_per_run(guaranteed)={min(guaranteed_per_run)} groups_per_run(checked)={per_run}"
        f" virtual_timeout={TIMEOUT_MS // 1000}s tick={TICK_MS}ms min_slice=15s"
    )
