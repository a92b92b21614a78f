"""Reading the shard budget out of ``_cluster/health`` and ``_cluster/settings``.

The integration suite reads it from the real engines; this covers what the
shared test clusters cannot be put into: a transient or persistent override,
several data nodes, a cluster that does not show the setting.
"""

from __future__ import annotations

from typing import Any

import pytest

from logstream.cluster.opensearch_admin import OpenSearchIndexAdmin
from logstream.cluster.port import ClusterError

HEALTH = {
    "number_of_data_nodes": 3,
    "active_shards": 1_200,
    "relocating_shards": 7,  # already among the active ones
    "initializing_shards": 4,
    "unassigned_shards": 196,
}


class _ClusterApi:
    def __init__(self, settings: dict[str, Any]) -> None:
        self._settings = settings
        self.settings_params: dict[str, Any] = {}

    def health(self, **_: Any) -> dict[str, Any]:
        return HEALTH

    def get_settings(self, **params: Any) -> dict[str, Any]:
        self.settings_params = params
        return self._settings


class _Client:
    def __init__(self, settings: dict[str, Any]) -> None:
        self.cluster = _ClusterApi(settings)


def _usage(settings: dict[str, Any]) -> Any:
    return OpenSearchIndexAdmin(_Client(settings)).shard_usage(timeout=5)  # type: ignore[arg-type]


def _scope(value: str) -> dict[str, Any]:
    return {"cluster": {"max_shards_per_node": value}}


_LIMIT_900 = {"max_shards_per_node": "900"}


@pytest.mark.parametrize(
    ("settings", "per_node"),
    [
        ({"defaults": _scope("1000")}, 1000),
        ({"persistent": _scope("2000"), "defaults": _scope("1000")}, 2000),
        ({"transient": _scope("500"), "persistent": _scope("2000"), "defaults": _scope("9")}, 500),
        # Elasticsearch also shows the frozen tier's limit beside it.
        ({"defaults": {"cluster": {"max_shards_per_node.frozen": "3000", **_LIMIT_900}}}, 900),
    ],
)
def test_the_setting_in_force_times_data_nodes(settings: dict[str, Any], per_node: int) -> None:
    usage = _usage(settings)
    assert usage.shards == 1_200 + 4 + 196
    assert (usage.max_shards_per_node, usage.data_nodes) == (per_node, 3)
    assert usage.limit == per_node * 3
    assert usage.used_percent == pytest.approx(100 * 1_400 / (per_node * 3))


def test_defaults_are_asked_for_and_only_the_one_setting() -> None:
    client = _Client({"defaults": _scope("1000")})
    OpenSearchIndexAdmin(client).shard_usage(timeout=5)  # type: ignore[arg-type]
    params = client.cluster.settings_params
    assert params["include_defaults"] is True
    assert params["filter_path"] == "*.cluster.max_shards_per_node"


def test_a_cluster_that_does_not_show_the_limit_is_an_error() -> None:
    with pytest.raises(ClusterError, match=r"cluster\.max_shards_per_node"):
        _usage({})
