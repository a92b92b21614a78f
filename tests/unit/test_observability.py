"""Metrics: none are recorded when POWERTOOLS_METRICS_DISABLED says so."""

from __future__ import annotations

import pytest

from logstream.observability import Metric, count, metrics


def test_no_metric_is_recorded_while_metrics_are_disabled(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics.clear_metrics()
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    for _ in range(150):  # past Powertools' 100-value flush
        count(Metric.EVENTS_RECEIVED, 1)
    assert Metric.EVENTS_RECEIVED.value not in metrics.metric_set
    assert capsys.readouterr().out == ""


def test_metrics_are_recorded_when_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics.clear_metrics()
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    count(Metric.EVENTS_RECEIVED, 3)
    assert metrics.metric_set[Metric.EVENTS_RECEIVED.value]["Value"] == [3]
    metrics.clear_metrics()
