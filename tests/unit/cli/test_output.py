"""The CLI's printing: tables, one-line errors, the progress bar (clock injected)."""

from __future__ import annotations

import io

from logstream.cli.output import error_line, table
from logstream.cli.progress import ProgressLine, bar, duration


def test_table_aligns_columns_and_shows_missing_values_as_dashes() -> None:
    text = table(("group", "lag"), [("/a/long-name", "5s"), ("/b", None)])
    assert text.splitlines() == ["group         lag", "/a/long-name  5s", "/b            -"]
    assert table(("x",), [], empty="nothing") == "nothing"


def test_an_error_is_one_line() -> None:
    assert error_line("bad thing\n  at line 2") == "logstream: error: bad thing"
    assert error_line("") == "logstream: error: failed"


def test_bar_and_duration() -> None:
    assert bar(5, 10, width=10) == "[#####.....]"
    assert bar(0, 0, width=4) == "[####]"
    assert bar(12, 10, width=4) == "[####]"
    assert duration(None) == "--:--"
    assert duration(75) == "01:15"
    assert duration(3_725) == "1:02:05"


def test_off_a_terminal_a_line_is_printed_only_when_the_numbers_change() -> None:
    now = [0.0]
    stream = io.StringIO()
    progress = ProgressLine(stream, tty=False, clock=lambda: now[0])
    progress.update("job j", 0, 4, 0)
    now[0] = 10.0
    progress.update("job j", 1, 4, 1_000)
    now[0] = 11.0
    progress.update("job j", 1, 4, 1_000)
    progress.finish()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[1] == (
        "job j [#######.......................] 1/4 chunks, 1000 events, 100 events/s, ETA 00:30"
    )
    assert "\r" not in stream.getvalue()


def test_on_a_terminal_the_bar_is_redrawn_in_place() -> None:
    now = [0.0]
    stream = io.StringIO()
    progress = ProgressLine(stream, tty=True, clock=lambda: now[0])
    progress.update("job j", 0, 2, 0, eta_seconds=60)
    now[0] = 2.0
    progress.update("job j", 2, 2, 50)
    progress.finish()
    text = stream.getvalue()
    assert text.count("\r") == 2
    assert text.endswith("\n")
    assert "ETA 01:00" in text
    assert "2/2 chunks, 50 events, 25 events/s" in text
