"""One opensearch-py call, its errors translated into :mod:`logstream.cluster.port`'s."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from opensearchpy.exceptions import ConnectionError as TransportConnectionError
from opensearchpy.exceptions import NotFoundError, TransportError

from logstream.cluster.port import ClusterError, IndexMissing

#: How errors name the cluster to an operator.
ENGINE_NAME: Final = "OpenSearch"


def call[T](
    request: Callable[[], T], *, missing: str | None = None, engine: str = ENGINE_NAME
) -> T:
    """Run one opensearch-py call, translating its errors into :class:`ClusterError`.

    ``missing`` names what a 404 means (then :class:`IndexMissing` is raised);
    with ``missing=None`` a 404 is an ordinary failure. ``engine`` names the
    cluster in error messages (the same client also speaks to Elasticsearch).
    """
    try:
        return request()
    except NotFoundError as error:
        if missing is not None:
            raise IndexMissing(missing) from error
        raise _translated(error, engine) from error
    except TransportConnectionError as error:  # includes timeouts
        raise ClusterError(None, str(error), retryable=True, engine=engine) from error
    except TransportError as error:
        raise _translated(error, engine) from error


def _translated(error: TransportError, engine: str) -> ClusterError:
    status = error.status_code if isinstance(error.status_code, int) else None
    retryable = status is None or status == 429 or status >= 500
    return ClusterError(status, _error_summary(error), retryable=retryable, engine=engine)


def _error_summary(error: TransportError) -> str:
    info = error.info
    if isinstance(info, dict):
        detail = info.get("error")
        if isinstance(detail, dict):
            return f"{detail.get('type')}: {detail.get('reason')}"
        return str(detail or info)
    return str(error.error)
