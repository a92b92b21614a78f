"""Two deployments on one cluster whose prefixes extend each other (``P`` and
``P-prod``): both install their templates, and each new index carries its own
deployment's ownership marker, which is what retention trusts."""

from __future__ import annotations

import dataclasses

import pytest

from logstream import clients
from logstream.naming import daily_index
from logstream.schema.templates import ensure_templates, index_owner
from tests.integration.conftest import Deployment

NOON_2026_01_02_MS = 1_767_355_200_000


def test_neighbouring_prefixes_install_their_templates_side_by_side(
    deployment: Deployment, request: pytest.FixtureRequest
) -> None:
    ours = deployment.settings
    neighbour = dataclasses.replace(ours, index_prefix=f"{ours.index_prefix}-prod")
    cluster = clients.cluster()
    ensure_templates(cluster, ours)
    # Both engines refuse a second overlapping template of the same priority.
    installed = ensure_templates(cluster, neighbour)
    assert installed, "the neighbour's templates were not installed"
    search = deployment.search

    def forget_neighbour_templates() -> None:
        for name in installed:
            search.transport.perform_request("DELETE", f"/_index_template/{name}")

    request.addfinalizer(forget_neighbour_templates)

    for settings, group in ((ours, "app"), (neighbour, "x")):
        index = daily_index(settings.index_prefix, group, NOON_2026_01_02_MS)
        search.index(index=index, body={"log_group": group, "@timestamp": NOON_2026_01_02_MS})
        meta = search.indices.get_mapping(index=index)[index]["mappings"].get("_meta", {})
        assert index_owner(meta) == settings.index_owner, index
