"""The page itself: self-contained, escaped, one cell per group and day."""

from __future__ import annotations

import re

from logstream.report.html import render_html
from logstream.report.ledger import build_ledger
from tests.unit.report.fixtures import DAYS, NOW, QUARANTINE, REPORTS


def test_the_page_loads_nothing_from_elsewhere_and_runs_no_script() -> None:
    page = render_html(build_ledger(REPORTS, QUARANTINE, DAYS, NOW))
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script|<link|src=|url\(|@import|https?://", page)
    assert page.count('class="cell"') == 9
    assert page.count("data-reason=") == 2


def test_names_are_escaped() -> None:
    hostile = '/x/<script>alert("g")</script>'
    page = render_html(build_ledger({hostile: []}, {hostile: {"<b>": 1}}, DAYS, NOW))
    assert "<script>" not in page
    assert "&lt;script&gt;" in page and "&lt;b&gt;" in page


def test_an_empty_quarantine_says_so() -> None:
    page = render_html(build_ledger(REPORTS, {}, DAYS, NOW))
    assert "Nothing is parked" in page
