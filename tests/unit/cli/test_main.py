"""The command's front door: bad requests are one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import pytest

from logstream import clients
from logstream.cli import build_parser, main


@pytest.fixture(autouse=True)
def _configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("STATE_TABLE", "t")
    monkeypatch.delenv("LOG_GROUPS", raising=False)
    monkeypatch.delenv("LOGSTREAM_STACK_NAME", raising=False)
    clients.reset()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["reconcile", "run"], "no log groups"),
        (["reconcile", "run", "--group", "/a", "--start", "yesterday"], "--start"),
        (
            ["reconcile", "run", "--group", "/a", "--start", "2026-01-02", "--end", "2026-01-01"],
            "--end must be after --start",
        ),
        (["failures", "replay"], "no on-failure queue"),
    ],
)
def test_bad_requests_are_one_line_on_stderr(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("logstream: error: ")
    assert captured.err.count("\n") == 1
    assert expected in captured.err


def test_a_bad_setting_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BATCH_SIZE", "lots")
    clients.reset()
    assert main(["reconcile", "run", "--group", "/a"]) == 2
    assert "BATCH_SIZE" in capsys.readouterr().err


def test_every_subcommand_takes_json() -> None:
    parser = build_parser()
    for argv in (
        ["status"],
        ["backfill", "start"],
        ["backfill", "list"],
        ["backfill", "show", "j"],
        ["backfill", "cancel", "j"],
        ["backfill", "work"],
        ["reconcile", "run"],
        ["reconcile", "report", "--group", "g"],
        ["quarantine", "list"],
        ["quarantine", "show", "r"],
        ["quarantine", "redrive"],
        ["failures", "replay"],
        ["tail", "g"],
        ["drift", "report"],
    ):
        assert parser.parse_args([*argv, "--json"]).json is True
        assert parser.parse_args(["--json", *argv]).global_json is True
