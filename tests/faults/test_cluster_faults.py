"""The cluster misbehaves under the decoder: storms, poisoned items, hangs, trickles,
partial failures, and refused credentials. Through the FaultProxy, on loopback.

Each case: nothing lost or duplicated by ``_id``, the failure visible (an
exception, a report field or a quarantine record), every invocation over
before its deadline, and a Lambda-style retry (the same event again) finishing
the job where the first invocation could not.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack.fault_proxy import FaultProxy
from devstack.payloads import make_events, subscription_payload
from logstream import clients
from logstream.shipping.service import DeliveryIncomplete
from logstream.state_table import checkpoint_key
from tests.faults.matrix import CaseRow, Invocation, invoke_within
from tests.integration.conftest import Deployment

START_MS = 1_764_000_000_000
BUDGET_S = 15.0


def _decode(case: CaseRow, events: list[dict[str, Any]], label: str, **kwargs: Any) -> Invocation:
    payload = subscription_payload(kwargs.pop("group", "/fault/cluster"), "s", events)
    case.send(e["id"] for e in events)
    budget = kwargs.pop("budget", BUDGET_S)
    return case.timed(invoke_within("DecoderFunction", payload, budget, label=label, **kwargs))


def _warm_up(deployment: Deployment) -> None:
    """A first invocation outside the fault: templates installed, connections pooled."""
    warm = invoke_within(
        "DecoderFunction",
        subscription_payload("/fault/warm-up", "s", make_events(1, START_MS - 1, seed=99)),
        60.0,
    )
    warm.raise_error()


def _watermark(deployment: Deployment, group: str, stream: str) -> int | None:
    item = deployment.dynamodb.get_item(
        TableName=deployment.settings.state_table or "",
        Key=checkpoint_key(group, stream),
        ConsistentRead=True,
    ).get("Item")
    return int(item["watermark"]["N"]) if item and "watermark" in item else None


def _assert_exactly_once(case: CaseRow, deployment: Deployment, **kwargs: Any) -> None:
    case.count(deployment.search, deployment.settings.index_prefix, **kwargs)
    assert (case.lost, case.duplicated) == (0, 0), case
    assert case.all_before_deadline, case.invocations


@pytest.mark.parametrize("status", [429, 503])
def test_a_whole_request_storm(
    deployment_behind_proxy: Deployment, fault_proxy: FaultProxy, fault_case: CaseRow, status: int
) -> None:
    deployment = deployment_behind_proxy
    fault_case.faults = f"next 8 `_bulk` requests answered {status} whole"
    fault_proxy.reject_requests(8, status=status)
    call = _decode(fault_case, make_events(3_000, START_MS, step_ms=7), "storm")
    call.raise_error()
    _assert_exactly_once(fault_case, deployment)
    assert fault_proxy.stats.requests_rejected == 8
    assert call.result["undelivered"] == 0
    assert call.result["retried"] > 0  # visible: the report and the DocumentsRetried metric


@pytest.mark.parametrize("status", [429, 503])
def test_a_per_item_storm(
    deployment_behind_proxy: Deployment, fault_proxy: FaultProxy, fault_case: CaseRow, status: int
) -> None:
    deployment = deployment_behind_proxy
    fault_case.faults = f"30% of items answered {status} on their first 3 tries (after writing)"
    fault_proxy.fail_items(status=status, fraction=0.3, times=3)
    call = _decode(fault_case, make_events(3_000, START_MS, step_ms=7), "item storm")
    call.raise_error()
    _assert_exactly_once(fault_case, deployment)
    assert fault_proxy.stats.items_rejected > 0
    assert call.result["undelivered"] == 0
    assert call.result["retried"] > 0
    # The injected items were written before being refused: their retries are 409s.
    assert call.result["duplicates"] > 0


def test_a_few_poisoned_items_do_not_hold_back_the_batch(
    deployment_behind_proxy: Deployment, fault_proxy: FaultProxy, fault_case: CaseRow
) -> None:
    """Head-of-line blocking: 1% of items answer 429 until the deadline."""
    deployment = deployment_behind_proxy
    events = make_events(5_000, START_MS, step_ms=3)
    poisoned = {e["id"] for e in events[::100]}
    fault_case.faults = (
        "1% of items answered 429 on every try until the deadline; a later batch of the "
        "same stream; then the retry"
    )
    fault_proxy.fail_items(status=429, ids=poisoned, times=None)
    first = _decode(fault_case, events, "poisoned")
    assert first.finished, first.describe()
    assert isinstance(first.error, DeliveryIncomplete), first.describe()  # visible
    indexed = fault_case.count(deployment.search, deployment.settings.index_prefix)
    held_back = sorted(e["id"] for e in events if not indexed[e["id"]] and e["id"] not in poisoned)
    fault_proxy.clear_faults()
    # A later batch of the same stream lands before the retry: the stream's
    # acknowledged watermark must stay below the earliest undelivered event.
    later = make_events(100, START_MS + 20_000, step_ms=3, seed=5, first_sequence=10_000)
    _decode(fault_case, later, "a later batch").raise_error()
    watermark = _watermark(deployment, "/fault/cluster", "s")
    earliest_undelivered = min(e["timestamp"] for e in events if e["id"] in poisoned)
    retry = _decode(fault_case, events, "Lambda retry")
    retry.raise_error()
    _assert_exactly_once(fault_case, deployment)
    assert watermark is None or watermark < earliest_undelivered, (
        f"the watermark moved to {watermark}, past an undelivered event at {earliest_undelivered}"
    )
    assert held_back == [], (
        f"{len(held_back)} of {len(events) - len(poisoned)} healthy events were left "
        f"undelivered behind {len(poisoned)} poisoned ones"
    )


@pytest.mark.parametrize("phase", ["cold start", "warm"])
def test_a_hanging_cluster(
    deployment_behind_proxy: Deployment, fault_proxy: FaultProxy, fault_case: CaseRow, phase: str
) -> None:
    deployment = deployment_behind_proxy
    if phase == "warm":
        _warm_up(deployment)
        fault_proxy.hang(10_000, bulk_only=True)
        fault_case.faults = "every `_bulk` request read and never answered; then healed"
    else:
        fault_proxy.hang(10_000, bulk_only=False)
        fault_case.faults = "every request (templates too) read and never answered; then healed"
    events = make_events(500, START_MS, step_ms=11)
    first = _decode(fault_case, events, "hung", budget=10.0)
    fault_proxy.clear_faults()
    assert first.finished, f"{first.describe()} (a 10 s deadline)"
    assert first.error is not None, "a hung cluster must fail the invocation"  # visible
    assert first.before_deadline, first.describe()
    retry = _decode(fault_case, events, "Lambda retry")
    retry.raise_error()
    _assert_exactly_once(fault_case, deployment)


def test_a_trickling_response(
    deployment_behind_proxy: Deployment,
    fault_proxy: FaultProxy,
    fault_case: CaseRow,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployment = deployment_behind_proxy
    monkeypatch.setenv("BATCH_SIZE", "100")  # 5 requests, 2 of them trickled
    clients.reset()
    _warm_up(deployment)
    fault_case.faults = "2 of 5 `_bulk` answers sent 1 byte per 0.5 s (after writing)"
    fault_proxy.trickle(2, interval=0.5)
    events = make_events(500, START_MS, step_ms=13)
    first = _decode(fault_case, events, "trickled", budget=12.0)
    assert first.finished, f"{first.describe()} (a 12 s deadline)"
    assert first.before_deadline, first.describe()
    if first.error is None:
        assert first.result["retried"] > 0, first.result  # visible in the report
    else:
        assert isinstance(first.error, DeliveryIncomplete), first.describe()
    fault_proxy.clear_faults()
    retry = _decode(fault_case, events, "Lambda retry")
    retry.raise_error()
    _assert_exactly_once(fault_case, deployment)
    assert fault_proxy.stats.requests_trickled == 2


def test_partial_failures_mixed_with_400s_and_409s(
    deployment_behind_proxy: Deployment, fault_proxy: FaultProxy, fault_case: CaseRow
) -> None:
    deployment = deployment_behind_proxy
    events = make_events(1_000, START_MS, step_ms=5)
    for n, event in enumerate(events):
        status: Any = {"code": n} if n % 20 == 7 else 200 + n % 5  # 50 conflict: object vs long
        event["message"] = json.dumps({"status": status, "n": n})
    conflicting = [e["id"] for n, e in enumerate(events) if n % 20 == 7]
    already = [e for n, e in enumerate(events) if n % 10 == 0]  # 100 delivered before: 409s
    fault_case.faults = "100 items already there (409), 50 mapping conflicts (400), 20% 429 x2"
    _decode(fault_case, already, "earlier delivery").raise_error()
    fault_proxy.fail_items(status=429, fraction=0.2, times=2)
    call = _decode(fault_case, events, "mixed")
    call.raise_error()
    report = call.result
    _assert_exactly_once(fault_case, deployment, may_park=conflicting)
    assert report["undelivered"] == 0
    assert report["delivered"] + report["duplicates"] + report["quarantined"] == len(events)
    assert report["duplicates"] >= len(already)
    assert report["retried"] > 0
    # Visible: a conflicting event not rescued into the index (by the drift
    # rescue) is parked with its reason; none is in both (counted above).
    parked = {r.get("doc_id"): r for r in deployment.quarantine()}
    parked_conflicts = [doc_id for doc_id in conflicting if doc_id in parked]
    assert report["quarantined"] == len(parked_conflicts), report
    assert all(parked[i].get("reason") and parked[i].get("error_class") for i in parked_conflicts)


def test_an_event_id_the_cluster_refuses_does_not_sink_its_chunk(
    deployment: Deployment, fault_case: CaseRow
) -> None:
    """An ``_id`` over 512 bytes makes OpenSearch refuse the whole ``_bulk`` request (400)."""
    events = make_events(300, START_MS, step_ms=17)
    events[150]["id"] = events[150]["id"] + "9" * 600
    fault_case.faults = "one event id of 656 bytes: the whole `_bulk` request answered 400"
    call = _decode(fault_case, events, "long id")
    assert call.before_deadline, call.describe()
    _assert_exactly_once(fault_case, deployment, may_park=[events[150]["id"]])
    call.raise_error()
    assert call.result["undelivered"] == 0
    # Visible: parked with its reason (as a malformed event or as a refused document).
    assert call.result["bad_events"] + call.result["quarantined"] == 1, call.result
    assert fault_case.parked == 1
    assert any("512" in str(r.get("reason")) for r in deployment.quarantine())


@pytest.mark.parametrize(
    ("status", "where"), [(401, "whole request"), (403, "whole request"), (403, "per item")]
)
def test_refused_credentials(
    deployment_behind_proxy: Deployment,
    fault_proxy: FaultProxy,
    fault_case: CaseRow,
    status: int,
    where: str,
) -> None:
    """401/403 are about the cluster, not the documents: fail loudly, park nothing."""
    deployment = deployment_behind_proxy
    _warm_up(deployment)
    fault_case.faults = f"every `_bulk` {where} answered {status}; then healed"
    if where == "whole request":
        error = "security_exception"
        fault_proxy.reject_requests(10_000, status=status, error_type=error)
    else:
        fault_proxy.fail_items(status=status, error_type="cluster_block_exception")
    events = make_events(400, START_MS, step_ms=19)
    first = _decode(fault_case, events, f"{status}")
    fault_proxy.clear_faults()
    assert first.finished, first.describe()
    assert isinstance(first.error, DeliveryIncomplete), first.describe()  # visible
    assert f"{status}" in str(first.error) or "security" in str(first.error)
    assert deployment.quarantine() == [], "an outage must never be parked as bad documents"
    retry = _decode(fault_case, events, "Lambda retry")
    retry.raise_error()
    _assert_exactly_once(fault_case, deployment)
