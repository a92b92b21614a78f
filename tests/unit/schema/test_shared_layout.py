"""The healer's pieces in the ``shared-daily`` layout: one schema scope for every group.

Two groups that give a field different types in one shared daily index are
one scope that drifts: one drift template for the shared indices, one set of
decisions, which the live rescue applies to every group's documents.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Any, cast

import orjson
import pytest

from logstream.cluster.opensearch import OPENSEARCH
from logstream.naming import SHARED_SCOPE, IndexLayout, daily_index
from logstream.retry import Deadline
from logstream.schema.decisions import Decision, MemoryDecisionStore, Resolution
from logstream.schema.healer import SchemaHealer
from logstream.schema.mappings import MappingSource
from logstream.schema.rescue import DriftRescue
from logstream.schema.scan import group_indices
from logstream.schema.templates import (
    SHARED_PART,
    drift_group_part,
    drift_template,
    drift_template_name,
    ensure_drift_template,
    refresh_drift_templates,
)
from logstream.schema.transform import heal_source
from logstream.settings import Settings
from logstream.shipping.delivery import DeliveryReport, Rejection
from logstream.shipping.documents import Document

DAY_MS = 1_767_312_000_000  # 2026-01-02T00:00:00Z
GROUPS = ("orders", "orders-api", "/aws/lambda/Orders", "2026", "shared")
SHARED = IndexLayout.SHARED_DAILY


def _settings(layout: IndexLayout = SHARED) -> Settings:
    return Settings.from_env(
        {"AWS_REGION": "us-east-1", "INDEX_PREFIX": "logs", "INDEX_LAYOUT": layout.value}
    )


def test_the_shared_drift_template_matches_every_shared_index_and_no_group_index() -> None:
    settings = _settings()
    part = drift_group_part(settings, SHARED_SCOPE)
    patterns = drift_template(settings, part, {"json.a": "double"})["index_patterns"]
    days = (DAY_MS, DAY_MS - 20 * 365 * 86_400_000, DAY_MS + 50 * 365 * 86_400_000)
    for group in GROUPS:
        for day in days:
            shared = daily_index("logs", group, day, SHARED)
            assert any(fnmatch.fnmatchcase(shared, p) for p in patterns)
            own = daily_index("logs", group, day)
            assert not any(fnmatch.fnmatchcase(own, p) for p in patterns), own
            neighbour = daily_index("logs-a", group, day, SHARED)
            assert not any(fnmatch.fnmatchcase(neighbour, p) for p in patterns), neighbour


def test_the_shared_drift_template_name_is_no_groups() -> None:
    settings = _settings()
    shared = drift_template_name(settings, SHARED_PART)
    assert shared == "logs-drift_shared"
    assert not fnmatch.fnmatchcase(shared, drift_template_name(settings, "*"))
    for group in GROUPS:
        assert drift_template_name(settings, drift_group_part(settings, group)) != shared


class _Indices:
    def __init__(self, names: list[str]) -> None:
        self.names = names

    def list_indices(self, pattern: str, *, timeout: float = 30.0) -> list[str]:
        return [n for n in self.names if fnmatch.fnmatchcase(n, pattern)]


def test_the_shared_scope_scans_exactly_the_shared_daily_indices() -> None:
    names = [
        "logs-2026.01.03",
        "logs-2026.01.02",
        "logs-quarantine",
        "logs-orders-2026.01.02",  # a group-daily index of an earlier layout
        "logs-a-2026.01.02",  # a neighbouring deployment
        "logs_heal_0123456789abcdef",
        "logs-2026.01.02-restored",
    ]
    found = group_indices(cast(Any, _Indices(names)), "logs", SHARED_SCOPE)
    assert found == ["logs-2026.01.02", "logs-2026.01.03"]
    assert group_indices(cast(Any, _Indices(names)), "logs", "orders") == ["logs-orders-2026.01.02"]


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        (SHARED, {SHARED_SCOPE: ["/a", "/b"]}),
        (IndexLayout.GROUP_DAILY, {"/a": ["/a"], "/b": ["/b"], SHARED_SCOPE: []}),
    ],
)
def test_groups_heal_in_their_scope(layout: IndexLayout, expected: dict[str, list[str]]) -> None:
    healer = SchemaHealer(
        cast(Any, None), cast(Any, None), MemoryDecisionStore(), _settings(layout)
    )
    # The store lists the shared scope among its groups: it stands for no parked group.
    assert healer.scopes(["/a", SHARED_SCOPE, "/b"]) == expected


REASON = (
    "failed to parse field [json.status] of type [double] in document with id 'd1'. "
    "Preview of field's value: 'OK'"
)


class _Sink:
    def __init__(self) -> None:
        self.sent: list[Document] = []

    def deliver(self, documents: Sequence[Document], deadline: Deadline) -> DeliveryReport:
        self.sent += documents
        return DeliveryReport(delivered=list(documents))


@pytest.mark.parametrize("layout", list(IndexLayout))
def test_the_live_rescue_applies_the_scopes_decisions_to_every_group(
    layout: IndexLayout,
) -> None:
    store = MemoryDecisionStore()
    # Decided while healing the shared scope (another group established `double`).
    store.save(
        Decision(
            SHARED_SCOPE, "json.status", "double", Resolution.TYPED_SIBLING, [], 0, 0, 0, "scan"
        )
    )
    sink = _Sink()
    rescue = DriftRescue(sink, store, cast(MappingSource, None), depth_limit=20, layout=layout)
    document = Document.from_source(
        index=daily_index("logs", "/ecs/web", DAY_MS, layout),
        doc_id="d1",
        timestamp=DAY_MS,
        log_group="/ecs/web",
        log_stream="s",
        source=orjson.dumps({"@timestamp": DAY_MS, "json": {"status": "OK"}}),
    )
    error = {"type": "mapper_parsing_exception", "reason": REASON}
    refused = Rejection(document, 400, "mapper_parsing_exception", REASON, error)
    report = rescue([refused], Deadline.after_seconds(60))
    if layout is SHARED:
        assert [d.doc_id for d in report.delivered] == ["d1"] and not report.rejected
        healed = heal_source(document.source, {"json.status": "double"})
        assert sink.sent[0].source == healed.source != document.source
    else:  # a group's own decisions only: the shared scope's are not its
        assert report.rejected == [refused] and sink.sent == []


class _Templates:
    capabilities = OPENSEARCH

    def __init__(self) -> None:
        self.installed: dict[str, dict[str, Any]] = {}

    def index_templates(self, name: str, **_: object) -> dict[str, dict[str, Any]]:
        return {n: t for n, t in self.installed.items() if fnmatch.fnmatchcase(n, name)}

    def put_index_template(self, name: str, body: dict[str, Any], **_: object) -> None:
        self.installed[name] = body


def test_the_shared_drift_template_is_installed_and_follows_the_logs_template() -> None:
    cluster = _Templates()
    settings = _settings()
    assert ensure_drift_template(cast(Any, cluster), settings, SHARED_SCOPE, {"json.a": "double"})
    installed = cluster.installed["logs-drift_shared"]
    assert (
        installed["index_patterns"] == drift_template(settings, SHARED_PART, {})["index_patterns"]
    )
    # The logs template changed (more replicas): the shared drift template is rebuilt on it.
    changed = Settings.from_env(
        {
            "AWS_REGION": "us-east-1",
            "INDEX_PREFIX": "logs",
            "INDEX_LAYOUT": SHARED.value,
            "INDEX_REPLICAS": "2",
        }
    )
    assert refresh_drift_templates(cast(Any, cluster), changed) == ["logs-drift_shared"]
    index_settings = cluster.installed["logs-drift_shared"]["template"]["settings"]["index"]
    assert index_settings["number_of_replicas"] == 2
    assert cluster.installed["logs-drift_shared"]["_meta"]["drift_fields"] == {"json.a": "double"}
