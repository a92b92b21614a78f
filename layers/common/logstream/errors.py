"""The one exception tree, and what each branch means for an invocation.

- :class:`InputError`: a person (or a script) asked for something that cannot
  be done as asked. Manual invocations answer it with
  ``{"ok": false, "error": "<what is wrong and how to fix it>"}`` and never
  retry it: retrying the same bad request cannot help.
- :class:`InfrastructureError`: a cluster, CloudWatch or DynamoDB did not do
  its part. It propagates, so the invocation fails and Lambda's retry and the
  on-failure queue keep the data.

Settings problems (:class:`logstream.settings.SettingsError`) are
:class:`InputError` too: a wrong variable is fixed by a person, not by a retry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


class LogstreamError(Exception):
    """Root of every error logstream raises on purpose."""


class InputError(LogstreamError, ValueError):
    """Bad manual input or configuration; the message says what is wrong and how to fix it."""


class NotFoundError(InputError, LookupError):
    """Something a request names (a job, a log group) does not exist."""


class InfrastructureError(LogstreamError, RuntimeError):
    """A dependency failed; the invocation must fail so that it is retried."""


def answer_manual(run: Callable[[], Mapping[str, Any]]) -> dict[str, Any]:
    """Run one manual action: its result with ``ok: true``, or ``ok: false`` and the error.

    Only :class:`InputError` becomes an answer; anything else propagates and
    fails the invocation, as an infrastructure failure must.
    """
    try:
        result = dict(run())
    except InputError as error:
        return {"ok": False, "error": str(error)}
    return {"ok": True, **result}
