"""``--stack-name``: the settings come from the stack's outputs; errors are one line."""

from __future__ import annotations

import json

import pytest

from logstream import clients
from logstream.cli import main
from tests.integration.cli.conftest import create_stack, forget_local_settings
from tests.integration.conftest import Deployment


def test_the_stack_outputs_are_the_settings(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stack = create_stack(deployment)
    forget_local_settings(monkeypatch)
    # Without the stack nothing names the table.
    assert main(["status"]) == 2
    assert "STATE_TABLE" in capsys.readouterr().err
    assert main(["--stack-name", stack.name, "--json", "status", "--group", "/app/x"]) == 0
    (status,) = json.loads(capsys.readouterr().out)
    assert status["log_group"] == "/app/x"
    assert status["subscribed"] is False
    assert status["quarantined"] == {}
    assert main(["--stack-name", stack.name, "backfill", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        (None, "does not exist"),
        ({"StateTableName": "t"}, "has no output ClusterEndpoint, IndexNamePrefix"),
    ],
)
def test_a_wrong_stack_is_one_line_and_exit_2(
    deployment: Deployment,
    capsys: pytest.CaptureFixture[str],
    outputs: dict[str, object] | None,
    expected: str,
) -> None:
    name = "no-such-stack" if outputs is None else create_stack(deployment, outputs=outputs).name
    assert main(["--stack-name", name, "status"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("logstream: error: ")
    assert expected in captured.err
    assert "Traceback" not in captured.err


def test_an_unreachable_cluster_is_one_line_and_exit_1(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ES_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_TIMEOUT_SECS", "2")
    clients.reset()
    assert main(["quarantine", "list"]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("logstream: error: ")
    assert captured.err.count("\n") == 1
