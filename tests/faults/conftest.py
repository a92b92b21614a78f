"""Fault-matrix fixtures: the integration deployment, plus one recorded row per case.

The deployment fixtures are the integration suite's own (imported, not
copied), so a fault case runs against exactly what ``tests/integration``
proves correct: the real OpenSearch, the moto server and the handlers from the
``sam build`` output. Each case gets a :class:`~tests.faults.matrix.CaseRow`
through ``fault_case``; at the end of the session every row is written to
``$LOGSTREAM_FAULT_MATRIX`` (default ``.aws-sam/fault-matrix.json``), which
``python -m tests.faults.reliability_table`` renders into docs/reliability.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.faults.matrix import CaseRow
from tests.integration.conftest import (  # noqa: F401 - fixtures, registered by import
    _layer_is_the_built_one,
    deployment,
    deployment_behind_proxy,
    index_layout,
    state_table,
)
from tests.support.lambda_harness import REPO

MATRIX_ENV = "LOGSTREAM_FAULT_MATRIX"
_ROWS: list[CaseRow] = []


def matrix_path() -> Path:
    return Path(os.environ.get(MATRIX_ENV) or REPO / ".aws-sam" / "fault-matrix.json")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    row = getattr(item, "fault_row", None)
    if isinstance(row, CaseRow) and report.when == "call":
        row.outcome = report.outcome
        if report.failed and call.excinfo is not None:
            row.failure = call.excinfo.exconly().splitlines()[0][:300]
    return report


@pytest.fixture(scope="session")
def _matrix_file() -> Iterator[list[CaseRow]]:
    yield _ROWS
    path = matrix_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(path.read_text()) if path.exists() else []
    # A partial run (one file, one case) updates its rows and keeps the others.
    merged = {row["case"]: row for row in previous}
    merged.update({row.case: row.as_dict() for row in _ROWS})
    path.write_text(json.dumps(list(merged.values()), indent=1) + "\n")


@pytest.fixture
def fault_case(request: pytest.FixtureRequest, _matrix_file: list[CaseRow]) -> CaseRow:
    """This case's row in the reliability table (named after the test)."""
    name = request.node.name.removeprefix("test_")
    row = CaseRow(case=name)
    request.node.fault_row = row
    _matrix_file.append(row)
    return row
