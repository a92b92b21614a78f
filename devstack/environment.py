"""The environment template.yaml gives the functions, pointed at the local stack."""

from __future__ import annotations

from collections.abc import Mapping


def local_function_env(
    aws: Mapping[str, str],
    *,
    opensearch_url: str,
    index_prefix: str,
    state_table: str,
    **overrides: str,
) -> dict[str, str]:
    """Settings for the handlers: ``aws`` from ``moto_server.aws_env``, then ``overrides``.

    The local OpenSearch has no security plugin and one node, hence ``ES_AUTH=none``
    and no replicas; tracing is off because there is no X-Ray daemon here.
    """
    return {
        **aws,
        "ES_HOST": opensearch_url,
        "ES_AUTH": "none",
        "INDEX_PREFIX": index_prefix,
        "INDEX_REPLICAS": "0",
        "STATE_TABLE": state_table,
        "POWERTOOLS_TRACE_DISABLED": "true",
        **overrides,
    }
