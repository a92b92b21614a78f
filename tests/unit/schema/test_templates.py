"""The per-group drift template."""

from __future__ import annotations

import fnmatch

import pytest

from logstream.cluster.opensearch import OPENSEARCH
from logstream.naming import daily_index, index_prefix_for_group
from logstream.schema.templates import (
    DRIFT_YEARS,
    MAX_TEMPLATE_NAME_BYTES,
    drift_group_part,
    drift_template,
    drift_template_name,
    ensure_drift_template,
)
from logstream.settings import Settings

DAY_MS = 1_767_312_000_000  # 2026-01-02T00:00:00Z


def test_drift_template_carries_decisions_and_outranks_the_logs_template() -> None:
    settings = Settings.from_env({"AWS_REGION": "us-east-1", "INDEX_PREFIX": "logs"})
    body = drift_template(settings, "app", {"json.http.status": "double", "json.user": "keyword"})
    assert body["index_patterns"] == [f"logs-app-{year}.*" for year in DRIFT_YEARS]
    assert body["priority"] > 100
    json_props = body["template"]["mappings"]["properties"]["json"]["properties"]
    assert json_props["http"]["properties"]["status"] == {"type": "double"}
    assert json_props["user"]["type"] == "keyword"
    assert body["_meta"]["drift_fields"] == {"json.http.status": "double", "json.user": "keyword"}


def _matches(patterns: list[str], index: str) -> bool:
    return any(fnmatch.fnmatchcase(index, pattern) for pattern in patterns)


GROUPS = ("orders", "orders-api", "orders-2026-01-01", "orders-2026", "Orders")


@pytest.mark.parametrize("group", GROUPS)
def test_a_drift_template_matches_its_own_group_only(group: str) -> None:
    settings = Settings.from_env({"AWS_REGION": "us-east-1", "INDEX_PREFIX": "logs"})
    patterns = drift_template(settings, drift_group_part(settings, group), {"json.a": "double"})[
        "index_patterns"
    ]
    for other in GROUPS:
        for day in (DAY_MS, DAY_MS - 20 * 365 * 86_400_000, DAY_MS + 50 * 365 * 86_400_000):
            index = daily_index("logs", other, day)
            assert _matches(patterns, index) == (other == group), (group, index)
    assert not _matches(patterns, "logs-quarantine")


def test_a_group_near_the_name_limit_gets_a_template_for_its_own_indices() -> None:
    settings = Settings.from_env({"AWS_REGION": "us-east-1", "INDEX_PREFIX": "logs"})
    group = "g" * 240  # an exact slug: its index part is as long as the 255-byte limit allows
    part = drift_group_part(settings, group)
    index = daily_index("logs", group, DAY_MS)
    assert len(index.encode()) <= 255
    assert index_prefix_for_group("logs", group) == f"logs-{part}-"
    patterns = drift_template(settings, part, {"json.a": "double"})["index_patterns"]
    assert _matches(patterns, index)
    name = drift_template_name(settings, part)
    assert len(name.encode()) <= MAX_TEMPLATE_NAME_BYTES
    assert name != drift_template_name(settings, part[:-1] + "h")  # cut, yet distinct


class _Templates:
    capabilities = OPENSEARCH

    def __init__(self, installed: dict[str, dict[str, object]]) -> None:
        self.installed = installed

    def index_templates(self, name: str, **_: object) -> dict[str, dict[str, object]]:
        return {n: t for n, t in self.installed.items() if fnmatch.fnmatchcase(n, name)}

    def put_index_template(self, name: str, body: dict[str, object], **_: object) -> None:
        self.installed[name] = body


def test_a_template_of_a_neighbouring_deployment_is_never_overwritten() -> None:
    # Deployment "logs-drift" owns "logs-drift-logs"; group "logs" of "logs" would be named so.
    settings = Settings.from_env({"AWS_REGION": "us-east-1", "INDEX_PREFIX": "logs"})
    theirs: dict[str, object] = {
        "index_patterns": ["logs-drift-*"],
        "_meta": {"managed_by": "logstream"},
    }
    cluster = _Templates({"logs-drift-logs": theirs})
    assert not ensure_drift_template(cluster, settings, "logs", {"json.a": "double"})  # type: ignore[arg-type]
    assert cluster.installed["logs-drift-logs"] is theirs
    assert ensure_drift_template(cluster, settings, "app", {"json.a": "double"})  # type: ignore[arg-type]
    assert ensure_drift_template(cluster, settings, "app", {"json.a": "keyword"})  # type: ignore[arg-type]


@pytest.mark.parametrize("replicas", ["0", "1", "2"])
def test_every_template_carries_the_marker_and_the_replicas(replicas: str) -> None:
    from logstream.schema.templates import (  # noqa: PLC0415
        index_owner,
        logs_template,
        quarantine_template,
    )

    settings = Settings.from_env(
        {"AWS_REGION": "us-east-1", "INDEX_PREFIX": "logs-prod", "INDEX_REPLICAS": replicas}
    )
    bodies = [
        logs_template(settings),
        quarantine_template(settings),
        # A rebuilt index is recreated from its drift template: it keeps the marker.
        drift_template(settings, "app", {"json.n": "keyword"}),
    ]
    for body in bodies:
        template = body["template"]
        assert index_owner(template["mappings"]["_meta"]) == "logs-prod"
        assert template["settings"]["index"]["number_of_replicas"] == int(replicas)
    assert index_owner({}) is None
    assert index_owner({"logstream": "logs-prod"}) is None
