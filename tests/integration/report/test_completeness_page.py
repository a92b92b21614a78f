"""The completeness page in a real headless Chromium, from a real run: the decoder
ships three groups on the local stack, documents are removed, the built
ReconcileFunction repairs one group and cannot repair another (the cluster
refuses every write), the decoder parks a corrupt payload; the ledger is read
back from the state table and the quarantine, drawn, and opened in Chromium.

Chromium takes a screenshot, dumps the DOM (whose cells must be the ledger's)
and logs the page's console to stderr (which must hold no message: the page runs
no script and loads nothing, so any console line is an error). Debian's
``chromium`` package; ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import time
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest

from devstack.cloudwatch import put_events, read_events, subscription_deliveries
from devstack.payloads import make_events
from logstream import clients
from logstream.report.html import render_html
from logstream.report.ledger import DayState, Ledger, last_days
from logstream.report.sources import NO_GROUP, load_ledger
from tests.integration.conftest import Deployment
from tests.support.lambda_harness import invoke

CLEAN, REPAIRED, OPEN = "/aws/lambda/report-clean", "/ecs/report-repaired", "/ecs/report-open"
HOUR = 3_600_000
WINDOW = (1400, 900)
SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("no Chromium on PATH: apt-get install -y chromium (.ci/run does)")


def _run_chromium(page: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",  # CI runs as root
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def _console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []
        self.quarantine: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "td" and "data-day" in values:
            self.cells.append(values)
        elif tag == "td" and "data-reason" in values:
            self.quarantine.append(values)


def _seed(deployment: Deployment, group: str, seed: int) -> list[dict[str, Any]]:
    """300 events over the last 30 hours (to 10 minutes ago), shipped by the decoder."""
    end = int(time.time() * 1000) - 600_000
    start = end - 30 * HOUR
    for stream in range(2):
        events = make_events(150, start + stream, step_ms=12 * 60_000, seed=seed + stream)
        put_events(deployment.logs, group, f"2026/11/24/[$LATEST]{stream}", events)
    written = read_events(deployment.logs, group)
    for delivery in subscription_deliveries(group, written):
        deployment.decode(delivery)
    return written


def _remove(deployment: Deployment, group: str, events: list[dict[str, Any]]) -> None:
    """Delete the documents of ``events`` (around 26 hours ago) from the index."""
    deployment.refresh()
    ids = [e["eventId"] for e in events]
    hits = deployment.search.search(
        index=deployment.settings.alias,
        body={"size": len(ids), "_source": False, "query": {"ids": {"values": ids}}},
    )["hits"]["hits"]
    assert len(hits) == len(ids)
    body = "".join(
        orjson.dumps({"delete": {"_index": h["_index"], "_id": h["_id"]}}).decode() + "\n"
        for h in hits
    )
    assert not deployment.search.bulk(body=body, refresh=True)["errors"]


def _configure(monkeypatch: pytest.MonkeyPatch, groups: list[str]) -> None:
    monkeypatch.setenv("LOG_GROUPS", ",".join(groups))
    monkeypatch.setenv("BACKFILL_DAYS", "3")
    monkeypatch.setenv("RECONCILE_SETTLE_SECS", "60")
    monkeypatch.setenv("DEADLINE_MARGIN_MS", "0")
    clients.reset()


def _around(events: list[dict[str, Any]], ago_ms: int, count: int) -> list[dict[str, Any]]:
    target = int(time.time() * 1000) - ago_ms
    ordered = sorted(events, key=lambda e: abs(e["timestamp"] - target))
    return ordered[:count]


def _real_ledger(
    deployment: Deployment, fault_proxy: Any, monkeypatch: pytest.MonkeyPatch
) -> Ledger:
    written = {g: _seed(deployment, g, n) for n, g in enumerate((CLEAN, REPAIRED, OPEN))}
    _remove(deployment, REPAIRED, _around(written[REPAIRED], 26 * HOUR, 5))
    _remove(deployment, OPEN, _around(written[OPEN], 26 * HOUR, 2))
    deployment.decode({"awslogs": {"data": "bm90IGd6aXA="}})  # base64 of "not gzip"

    _configure(monkeypatch, [CLEAN, REPAIRED])
    first = invoke("ReconcileFunction", SCHEDULED, timeout_seconds=120)
    assert sorted(g["status"] for g in first["groups"]) == ["clean", "repaired"]
    fault_proxy.reject_requests(100_000, status=503)  # every write refused
    _configure(monkeypatch, [OPEN])
    second = invoke("ReconcileFunction", SCHEDULED, timeout_seconds=30)
    assert [g["status"] for g in second["groups"]] == ["gaps_open"]
    fault_proxy.clear_faults()

    now = datetime.now(tz=UTC)
    return load_ledger(
        deployment.dynamodb,
        deployment.settings.state_table or "",
        clients.cluster(),
        deployment.settings.quarantine_index,
        log_groups=[CLEAN, REPAIRED, OPEN],
        days=last_days(now.date(), 4),
        now=now,
    )


def test_the_page_in_chromium_shows_the_ledger(
    deployment_behind_proxy: Deployment,
    fault_proxy: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    ledger = _real_ledger(deployment_behind_proxy, fault_proxy, monkeypatch)
    states = {ledger.cell(g, d).state for g in ledger.groups for d in ledger.days}
    assert {DayState.VERIFIED, DayState.GAP_REPAIRED, DayState.GAP_OPEN} <= states
    assert ledger.quarantine[NO_GROUP] == {"bad_payload": 1}

    page = tmp_path / "completeness.html"
    page.write_text(render_html(ledger), encoding="utf-8")
    screenshot = tmp_path / "completeness.png"
    shot = _run_chromium(page, f"--screenshot={screenshot}", "--hide-scrollbars")
    dumped = _run_chromium(page, "--dump-dom")
    artifacts = os.environ.get("LOGSTREAM_REPORT_ARTIFACTS")
    if artifacts:  # keep the page and the picture for a person to look at
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(page, artifacts)
        shutil.copy(screenshot, artifacts)

    # A PNG of the window's size.
    png = screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == WINDOW
    # No console message of any kind while loading and drawing the page.
    assert _console_lines(shot.stderr + dumped.stderr) == []

    # Every cell Chromium laid out is the ledger's cell.
    parsed = _Cells()
    parsed.feed(dumped.stdout)
    assert len(parsed.cells) == len(ledger.groups) * len(ledger.days)
    for shown in parsed.cells:
        cell = ledger.cell(shown["data-group"], datetime.fromisoformat(shown["data-day"]).date())
        assert shown["data-state"] == cell.state.value
        assert int(shown["data-source"]) == cell.source_events
        assert int(shown["data-index"]) == cell.index_events
        assert int(shown["data-reshipped"]) == cell.events_reshipped
        assert int(shown["data-missing"]) == cell.events_still_missing
        assert (int(shown["data-gaps"]), int(shown["data-open"])) == (
            cell.gaps_found,
            cell.gaps_open,
        )
    quarantine = {
        (q["data-group"], q["data-reason"]): int(q["data-count"]) for q in parsed.quarantine
    }
    assert quarantine == {
        (group, reason): by_reason.get(reason, 0)
        for group, by_reason in ledger.quarantine.items()
        for reason in ledger.quarantine_reasons
    }


def test_the_console_check_sees_a_console_error(tmp_path: Path) -> None:
    """The check above is honest: a page that logs an error is caught."""
    page = tmp_path / "noisy.html"
    page.write_text('<!DOCTYPE html><script>console.error("broken")</script>', encoding="utf-8")
    assert any(
        "broken" in line for line in _console_lines(_run_chromium(page, "--dump-dom").stderr)
    )
