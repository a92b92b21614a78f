"""The per-group drift template."""

from __future__ import annotations

from logstream.schema.templates import drift_template
from logstream.settings import Settings


def test_drift_template_carries_decisions_and_outranks_the_logs_template() -> None:
    settings = Settings.from_env({"AWS_REGION": "us-east-1", "INDEX_PREFIX": "logs"})
    body = drift_template(settings, "app", {"json.http.status": "double", "json.user": "keyword"})
    assert body["index_patterns"] == ["logs-app-*"]
    assert body["priority"] > 100
    json_props = body["template"]["mappings"]["properties"]["json"]["properties"]
    assert json_props["http"]["properties"]["status"] == {"type": "double"}
    assert json_props["user"]["type"] == "keyword"
    assert body["_meta"]["drift_fields"] == {"json.http.status": "double", "json.user": "keyword"}
