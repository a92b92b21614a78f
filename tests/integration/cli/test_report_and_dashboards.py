"""``logstream report`` and ``logstream dashboards install`` against the local stack."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from devstack.cloudwatch import put_events, read_events, subscription_deliveries
from devstack.payloads import make_events
from logstream.cli import main
from tests.integration.conftest import Deployment


def test_report_writes_the_page_of_what_reconciliation_proved(
    deployment: Deployment, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    group = "/aws/lambda/cli-report"
    now = int(time.time() * 1000)
    put_events(deployment.logs, group, "s", make_events(200, now - 3 * 3_600_000, step_ms=1_000))
    events = read_events(deployment.logs, group)
    for delivery in subscription_deliveries(group, events, max_events=50):
        deployment.decode(delivery)
    start, end = events[0]["timestamp"], events[-1]["timestamp"] + 1
    assert (
        main(["reconcile", "run", "--group", group, "--start", str(start), "--end", str(end)]) == 0
    )
    capsys.readouterr()
    page = tmp_path / "report.html"
    assert main(["report", "--group", group, "--days", "3", "--html", str(page), "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["groups"] == [group] and answer["html"] == str(page)
    # One cell per day; today's is pending (only part of it is proven yet).
    assert sum(answer["totals"].values()) == 3
    assert answer["totals"]["pending"] >= 1
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") or html.lower().startswith("<!doctype html>")
    assert group in html


def test_report_without_groups_is_a_one_line_error(
    deployment: Deployment, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_GROUPS", "")
    from logstream import clients  # noqa: PLC0415

    clients.reset()
    assert main(["report"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no log groups" in err[0]


class _Dashboards(http.server.BaseHTTPRequestHandler):
    """A stand-in for the saved-objects import API (no Dashboards server runs here)."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = {name.lower(): value for name, value in self.headers.items()}
        type(self).seen.append({"path": self.path, "headers": headers, "body": body})
        objects = body.count(b'"type"')
        answer = json.dumps({"success": True, "successCount": objects}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def dashboards() -> Iterator[str]:
    _Dashboards.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Dashboards)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_dashboards_install_posts_the_objects_for_this_prefix(
    deployment: Deployment, dashboards: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dashboards", "install", dashboards, "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["success"] is True and answer["imported"] > 0
    (request,) = _Dashboards.seen
    assert request["path"].startswith("/api/saved_objects/_import")
    assert request["headers"]["osd-xsrf"] == "true"
    assert f"{deployment.settings.index_prefix}-all".encode() in request["body"]


def test_dashboards_install_with_a_bad_url_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], deployment: Deployment
) -> None:
    assert main(["dashboards", "install", "ftp://nowhere"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
