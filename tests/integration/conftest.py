"""Integration fixtures: a deployment of logstream wired to the real local stack.

Each test gets its own index prefix, so tests never see each other's indices,
and the same DynamoDB state table in moto. The handlers come from the
``sam build`` output (see tests/support/lambda_harness.py).

A deployment uses the ``group-daily`` index layout; a test marked
``@pytest.mark.both_layouts`` runs once per layout (``index_layout``): the
representative exactly-once, reconciliation and healing tests, not the whole
suite, so CI time grows by those tests only. ``@pytest.mark.one_engine`` keeps
a test of a both-engines folder on OpenSearch alone (one whose subject does not
depend on the engine), without a skip.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from opensearchpy import OpenSearch

import logstream
from devstack.environment import local_function_env
from devstack.moto_server import create_state_table
from logstream import clients
from logstream.naming import IndexLayout, daily_index
from logstream.settings import Settings, load_settings
from tests.conftest import ENGINES
from tests.support.lambda_harness import BUILD_DIR, invoke

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_logs.client import CloudWatchLogsClient

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session", autouse=True)
def _layer_is_the_built_one() -> None:
    """Prove the code under test is the packaged layer, not the source tree."""
    location = Path(logstream.__file__).resolve()
    if BUILD_DIR.resolve() not in location.parents:
        pytest.fail(
            f"logstream was imported from {location}, not from the sam build output; "
            "run the integration tests with `make integration`"
        )


#: What runs against both engines (issue 12); the rest runs on OpenSearch.
_BOTH_ENGINES: tuple[str, ...] = (
    "test_decoder.py",
    "backfill",
    "reconcile",
    "schema",
    "kinesis",
    "retention",
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "index_layout" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_layouts"
    ):
        metafunc.parametrize(
            "index_layout", [layout.value for layout in IndexLayout], indirect=True
        )
    if "cluster_engine" not in metafunc.fixturenames:
        return
    parts = metafunc.definition.path.relative_to(Path(__file__).parent).parts
    both = parts[0] in _BOTH_ENGINES and not metafunc.definition.get_closest_marker("one_engine")
    engines = list(ENGINES) if both else ["opensearch"]
    metafunc.parametrize("cluster_engine", engines, indirect=True, scope="session")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def index_layout(request: pytest.FixtureRequest) -> IndexLayout:
    """The deployment's INDEX_LAYOUT: group-daily, or each layout under ``both_layouts``."""
    return IndexLayout(getattr(request, "param", IndexLayout.GROUP_DAILY.value))


@pytest.fixture
def state_table(aws_env: dict[str, str]) -> str:
    """A fresh state table per test, shaped like template.yaml's StateTable."""
    name = f"logstream-state-{uuid.uuid4().hex[:10]}"
    return create_state_table(_aws_client("dynamodb", aws_env), name)


def _aws_client(service: str, aws_env: dict[str, str]) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=aws_env["AWS_ENDPOINT_URL"],
        region_name=aws_env["AWS_REGION"],
        aws_access_key_id=aws_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws_env["AWS_SECRET_ACCESS_KEY"],
    )


@dataclass
class Deployment:
    """One configured logstream, as the template would deploy it, on the local stack."""

    engine: str
    settings: Settings
    search: OpenSearch
    logs: CloudWatchLogsClient
    dynamodb: DynamoDBClient

    def decode(self, event: dict[str, Any], *, timeout_seconds: float = 120.0) -> Any:
        """Invoke the built decoder function with one subscription event."""
        return invoke("DecoderFunction", event, timeout_seconds=timeout_seconds)

    @property
    def layout(self) -> IndexLayout:
        return self.settings.index_layout

    def daily_index(self, log_group: str, timestamp_ms: int) -> str:
        """The daily index an event of ``log_group`` lands in, in this deployment's layout."""
        return daily_index(self.settings.index_prefix, log_group, timestamp_ms, self.layout)

    def refresh(self) -> None:
        self.search.indices.refresh(index=f"{self.settings.index_prefix}-*")

    def counts_by_index(self) -> dict[str, int]:
        """Documents per daily index (the alias spans them; quarantine is outside it)."""
        self.refresh()
        if not self.search.indices.exists_alias(name=self.settings.alias):
            return {}
        rows = self.search.cat.indices(index=self.settings.alias, format="json", h="index")
        return {row["index"]: int(self.search.count(index=row["index"])["count"]) for row in rows}

    def quarantine(self) -> list[dict[str, Any]]:
        self.refresh()
        if not self.search.indices.exists(index=self.settings.quarantine_index):
            return []
        hits = self.search.search(
            index=self.settings.quarantine_index, body={"size": 10_000, "query": {"match_all": {}}}
        )["hits"]["hits"]
        return [hit["_source"] for hit in hits]


@pytest.fixture
def deployment(  # noqa: PLR0917 - pytest passes fixtures by name
    monkeypatch: pytest.MonkeyPatch,
    cluster_engine: str,
    cluster_url: str,
    aws_env: dict[str, str],
    state_table: str,
    index_layout: IndexLayout,
) -> Iterator[Deployment]:
    yield from _deployment(
        monkeypatch,
        engine=cluster_engine,
        es_host=cluster_url,
        cluster_url=cluster_url,
        aws_env=aws_env,
        state_table=state_table,
        layout=index_layout,
    )


@pytest.fixture
def deployment_behind_proxy(  # noqa: PLR0917 - pytest passes fixtures by name
    monkeypatch: pytest.MonkeyPatch,
    fault_proxy: Any,
    cluster_engine: str,
    cluster_url: str,
    aws_env: dict[str, str],
    state_table: str,
) -> Iterator[Deployment]:
    """Like ``deployment``, but the decoder reaches the cluster through the fault proxy."""
    yield from _deployment(
        monkeypatch,
        engine=cluster_engine,
        es_host=fault_proxy.url,
        cluster_url=cluster_url,
        aws_env=aws_env,
        state_table=state_table,
    )


def _deployment(
    monkeypatch: pytest.MonkeyPatch,
    *,
    engine: str,
    es_host: str,
    cluster_url: str,
    aws_env: dict[str, str],
    state_table: str,
    layout: IndexLayout = IndexLayout.GROUP_DAILY,
) -> Iterator[Deployment]:
    prefix = f"it{uuid.uuid4().hex[:10]}"
    env = local_function_env(
        aws_env,
        opensearch_url=es_host,
        index_prefix=prefix,
        state_table=state_table,
        ES_ENGINE=engine,
        BACKOFF_BASE_MS="20",
        BACKOFF_MAX_MS="500",
        # Auto-backfill is tested on its own; elsewhere groups are not in moto.
        BACKFILL_DAYS="0",
        POWERTOOLS_METRICS_NAMESPACE="LogstreamTest",
        POWERTOOLS_LOG_LEVEL="WARNING",
        INDEX_LAYOUT=layout.value,
    )
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    clients.reset()
    settings = load_settings()
    logs = _aws_client("logs", aws_env)
    _forget_log_groups(logs)
    # Tests look at the cluster directly, never through the proxy. opensearch-py's
    # plain REST calls are answered alike by Elasticsearch 8 (no product check server-side).
    direct = OpenSearch(hosts=[cluster_url])
    yield Deployment(
        engine=engine,
        settings=settings,
        search=direct,
        logs=logs,
        dynamodb=_aws_client("dynamodb", aws_env),
    )
    clients.reset()
    # By name: Elasticsearch 8 refuses wildcard deletes (action.destructive_requires_name).
    rows = direct.cat.indices(index=f"{prefix}-*", format="json", h="index", expand_wildcards="all")
    names = [row["index"] for row in rows]
    # In slices: a thousand names in one URL pass the engines' 4 KB request line.
    for start in range(0, len(names), 50):
        direct.indices.delete(index=",".join(names[start : start + 50]))


def _forget_log_groups(logs: CloudWatchLogsClient) -> None:
    """Start from no log groups: the same test runs once per engine against one moto
    server, and its groups (same names) must not still hold the other run's events."""
    for page in logs.get_paginator("describe_log_groups").paginate():
        for group in page["logGroups"]:
            logs.delete_log_group(logGroupName=group["logGroupName"])
