"""What the schema side reads from the engine's capabilities.

- ``json_overflow`` is mapped with the engine's flattened type, in the logs
  template and in every drift template;
- an engine without write blocks (or client ids) gets no in-place rebuild:
  the healer defers it and says why, and touches no index.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import pytest

from logstream.cluster.elasticsearch import ELASTICSEARCH
from logstream.cluster.opensearch import OPENSEARCH, OPENSEARCH_SERVERLESS
from logstream.cluster.port import Capabilities
from logstream.retry import Deadline
from logstream.schema.rebuild import IndexRebuilder
from logstream.schema.report import GroupHeal
from logstream.schema.scan import FieldConflict
from logstream.schema.templates import ensure_drift_template, ensure_templates
from logstream.settings import Settings

SETTINGS = Settings.from_env({"AWS_REGION": "us-east-1", "INDEX_PREFIX": "logs"})


class _TemplateCluster:
    def __init__(self, capabilities: Capabilities) -> None:
        self.capabilities = capabilities
        self.put: dict[str, dict[str, Any]] = {}

    def index_templates(self, name: str, *, timeout: float = 30.0) -> dict[str, Any]:
        return {}

    def put_index_template(
        self, name: str, body: Mapping[str, Any], *, timeout: float = 30.0
    ) -> None:
        self.put[name] = dict(body)


def _overflow(body: dict[str, Any]) -> Any:
    return body["template"]["mappings"]["properties"]["json_overflow"]


@pytest.mark.parametrize(
    ("capabilities", "mapping"),
    [
        (OPENSEARCH, {"type": "flat_object"}),
        (ELASTICSEARCH, {"type": "flattened"}),
        (OPENSEARCH_SERVERLESS, {"type": "flat_object"}),
        (
            dataclasses.replace(OPENSEARCH, flattened_type=None),
            {"type": "object", "enabled": False},
        ),
    ],
)
def test_overflow_is_mapped_with_the_engines_flattened_type(
    capabilities: Capabilities, mapping: dict[str, Any]
) -> None:
    cluster = _TemplateCluster(capabilities)
    ensure_templates(cluster, SETTINGS)  # type: ignore[arg-type]
    ensure_drift_template(cluster, SETTINGS, "/aws/lambda/app", {"json.n": "double"})  # type: ignore[arg-type]
    assert _overflow(cluster.put["logs-logs"]) == mapping
    drift = [name for name in cluster.put if name.startswith("logs-drift-")]
    assert drift and _overflow(cluster.put[drift[0]]) == mapping


class _UntouchableCluster:
    def __init__(self, capabilities: Capabilities) -> None:
        self.capabilities = capabilities

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"no rebuild may call {name} on this engine")


@pytest.mark.parametrize(
    "capabilities",
    [OPENSEARCH_SERVERLESS, dataclasses.replace(ELASTICSEARCH, write_block=False)],
)
def test_without_a_write_block_no_index_is_rebuilt_in_place(capabilities: Capabilities) -> None:
    cluster = _UntouchableCluster(capabilities)
    rebuilder = IndexRebuilder(cluster, sink=None, parked=None, index_prefix="logs")  # type: ignore[arg-type]
    heal = GroupHeal(group="/aws/lambda/app")
    conflict = FieldConflict("json.status", {"double": ["logs-app-1"], "keyword": ["logs-app-2"]})
    decisions = SimpleNamespace(current={"json.status": SimpleNamespace(established_type="double")})
    rebuilder.rebuild_disagreeing(heal, conflict, decisions, Deadline.after_seconds(300))  # type: ignore[arg-type]
    assert heal.indices_rebuilt == []
    assert len(heal.deferred) == 1
    assert "cannot rebuild in place" in heal.deferred[0]
