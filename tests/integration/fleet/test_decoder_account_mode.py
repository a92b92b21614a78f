"""Account mode on the built decoder and a real cluster: the account policy delivers every
group, and the decoder ships only those LOG_GROUP_PREFIXES select, never an excluded one.

(moto 5.2 has no PutAccountPolicy, so the policy itself is checked in the template tests;
here the decoder gets the deliveries such a policy makes.)"""

from __future__ import annotations

import time

import pytest

from devstack.payloads import make_events, subscription_payload
from logstream import clients
from tests.integration.conftest import Deployment


@pytest.fixture
def account_mode(deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> Deployment:
    monkeypatch.setenv("LOG_GROUP_SELECTION", "account")
    monkeypatch.setenv("LOG_GROUP_PREFIXES", "/aws/lambda/,/ecs/")
    monkeypatch.setenv("EXCLUDED_LOG_GROUPS", "/ecs/noisy-*")
    clients.reset()
    return deployment


def test_account_mode_ships_only_the_selected_groups(account_mode: Deployment) -> None:
    start = int(time.time() * 1000) - 60_000
    deliveries = {
        "/aws/lambda/orders": True,
        "/ecs/web": True,
        "/rds/instance/db-1/error": False,  # outside the prefixes
        "/ecs/noisy-batch": False,  # excluded
    }
    for n, group in enumerate(deliveries):
        events = make_events(5, start, seed=n, first_sequence=n * 10)
        report = account_mode.decode(subscription_payload(group, "s", events))
        assert report["events"] == (5 if deliveries[group] else 0), group
    counts = account_mode.counts_by_index()
    shipped = {index.split("-", 1)[1].rsplit("-", 1)[0] for index in counts}
    assert sum(counts.values()) == 10
    assert len(shipped) == 2
    assert all("rds" not in name and "noisy" not in name for name in shipped)
