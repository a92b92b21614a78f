"""The schema healer under contention: live writes racing a heal that rebuilds the
day's index, and a second deployment whose prefix is the first one's plus
``_heal`` on the same cluster (its indices look like the healer's holding indices)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.payloads import subscription_payload
from logstream import clients
from tests.faults.matrix import CaseRow, Invocation, ids_in_index, invoke_within
from tests.integration.conftest import Deployment
from tests.integration.schema.test_schema_heal import DAY1, DAY2, GROUP, _event, _stream


@pytest.fixture
def capped(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    """Low mapping caps, so a short stream drifts (as tests/integration/schema does)."""
    monkeypatch.setenv("MAPPING_TOTAL_FIELDS_LIMIT", "80")
    monkeypatch.setenv("MAPPING_DEPTH_LIMIT", "6")
    clients.reset()
    return deployment


def _ship_drifting_history(case: CaseRow) -> list[dict[str, Any]]:
    batches = _stream()
    for batch in batches:
        case.send(e["id"] for e in batch)
        call = case.timed(
            invoke_within(
                "DecoderFunction", subscription_payload(GROUP, "s", batch), 30.0, label="history"
            )
        )
        call.raise_error()
    return [e for batch in batches for e in batch]


def _write_blocked(deployment: Deployment, pattern: str) -> list[str]:
    settings = deployment.search.indices.get_settings(
        index=pattern, name="index.blocks.write", ignore_unavailable=True
    )
    return sorted(
        index
        for index, body in settings.items()
        if str(body.get("settings", {}).get("index", {}).get("blocks", {}).get("write")) == "true"
    )


def test_the_healer_racing_live_writes(capped: Deployment, fault_case: CaseRow) -> None:
    deployment = capped
    fault_case.faults = (
        "a heal that rebuilds both days' indices while 20 live batches write to them"
    )
    _ship_drifting_history(fault_case)
    live_batches = [
        [
            _event(5_000 + 10 * b + i, (DAY1 if b % 2 else DAY2) + 1_000 + 10 * b + i, {"n": i})
            for i in range(10)
        ]
        for b in range(20)
    ]
    failed: list[list[dict[str, Any]]] = []
    live_calls: list[Invocation] = []
    healing = threading.Event()

    def live() -> None:
        healing.wait(10)
        for batch in live_batches:
            fault_case.send(e["id"] for e in batch)
            call = invoke_within(
                "DecoderFunction", subscription_payload(GROUP, "live", batch), 20.0, label="live"
            )
            live_calls.append(call)
            if call.error is not None:
                failed.append(batch)

    writer = threading.Thread(target=live)
    writer.start()
    healing.set()
    heal = fault_case.timed(
        invoke_within("SchemaHealFunction", {"log_groups": [GROUP]}, 120.0, label="heal")
    )
    writer.join(300)
    for call in live_calls:
        fault_case.timed(call)
    # Lambda retries every live batch that failed during the heal.
    for batch in failed:
        payload = subscription_payload(GROUP, "live", batch)
        retry = invoke_within("DecoderFunction", payload, 20.0, label="live retry")
        fault_case.timed(retry).raise_error()
    heal.raise_error()
    prefix = deployment.settings.index_prefix
    fault_case.count(deployment.search, prefix)
    blocked = _write_blocked(deployment, f"{prefix}-*")
    assert (fault_case.lost, fault_case.duplicated) == (0, 0), fault_case
    assert blocked == [], f"a write block outlived the heal that set it: {blocked}"
    assert fault_case.all_before_deadline, fault_case.invocations
    assert deployment.quarantine() == []
    # Visible: the heal reports what it changed.
    assert heal.result["changes"] > 0, heal.result


@pytest.fixture
def neighbour_prefix(capped: Deployment) -> Iterator[str]:
    neighbour = f"{capped.settings.index_prefix}_heal"
    yield neighbour
    capped.search.indices.delete(
        index=f"{neighbour}-*", ignore_unavailable=True, expand_wildcards="all"
    )


def test_two_deployments_with_neighbouring_prefixes(
    capped: Deployment,
    neighbour_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    fault_case: CaseRow,
) -> None:
    deployment = capped
    prefix = deployment.settings.index_prefix
    fault_case.faults = (
        "deployment `{p}` heals drift while deployment `{p}_heal` holds the same group's "
        "indices (named like the healer's holding indices)"
    )
    # The neighbour ships the same group on the same days, with ids of its own.
    neighbour_events = [
        _event(7_000 + n, (DAY1 if n % 2 else DAY2) + 5_000 + n, {"status": 200, "user": "n"})
        for n in range(200)
    ]
    with monkeypatch.context() as patch:
        patch.setenv("INDEX_PREFIX", neighbour_prefix)
        clients.reset()
        call = invoke_within(
            "DecoderFunction",
            subscription_payload(GROUP, "n", neighbour_events),
            30.0,
            label="neighbour",
        )
        call.raise_error()
    clients.reset()
    own = _ship_drifting_history(fault_case)
    heal = fault_case.timed(
        invoke_within("SchemaHealFunction", {"log_groups": [GROUP]}, 120.0, label="heal")
    )
    heal.raise_error()
    fault_case.count(deployment.search, prefix)
    theirs = ids_in_index(deployment.search, neighbour_prefix)
    neighbour_ids = {e["id"] for e in neighbour_events}
    assert (fault_case.lost, fault_case.duplicated) == (0, 0), fault_case
    assert set(theirs) == neighbour_ids, (
        f"the neighbour deployment lost {len(neighbour_ids - set(theirs))} documents "
        f"and gained {len(set(theirs) - neighbour_ids)} of ours"
    )
    assert all(n == 1 for n in theirs.values())
    assert not neighbour_ids & set(ids_in_index(deployment.search, prefix))
    assert fault_case.all_before_deadline, fault_case.invocations
    assert heal.result["changes"] > 0, json.dumps(heal.result, default=str)[:500]
    assert len(own) == fault_case.sent
