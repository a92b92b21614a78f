"""``logstream retention``: the dry run lists, the run deletes, the stack gives the days."""

from __future__ import annotations

import json

import pytest

from logstream.cli import main
from tests.integration.cli.conftest import create_stack, forget_local_settings
from tests.integration.conftest import Deployment
from tests.integration.retention.test_retention import _indices, _ship


def test_dry_run_lists_and_the_run_deletes_with_the_stack_s_days(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = deployment.settings
    expired, kept = _ship(deployment, "cli-app", 10), _ship(deployment, "cli-app", 0)
    deployment.refresh()  # days-old indices are searchable; these were written just now
    stack = create_stack(
        deployment,
        outputs={
            "StateTableName": settings.state_table,
            "ClusterEndpoint": settings.es_host,
            "ClusterAuthMode": settings.auth_mode.value,
            "IndexNamePrefix": settings.index_prefix,
            "IndexRetentionDays": "3",
        },
    )
    forget_local_settings(monkeypatch)
    monkeypatch.delenv("RETENTION_DAYS", raising=False)
    everything = f"{settings.index_prefix}-*"

    assert main(["--stack-name", stack.name, "retention", "--dry-run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["retention_days"], report["dry_run"], report["deleted"]) == (3, True, [expired])
    assert main(["--stack-name", stack.name, "retention", "--dry-run", "--days", "20"]) == 0
    assert "would delete" not in capsys.readouterr().out  # 10 days old is kept at 20 days
    assert {expired, kept} <= _indices(deployment, everything)

    assert main(["--stack-name", stack.name, "retention", "--days", "1"]) == 2
    assert "--dry-run" in capsys.readouterr().err
    assert main(["--stack-name", stack.name, "retention"]) == 0
    out = capsys.readouterr().out
    assert f"deleted  {expired}" in out
    assert expired not in _indices(deployment, everything)
    assert kept in _indices(deployment, everything)
