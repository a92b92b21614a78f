"""Import the saved objects into OpenSearch Dashboards through its saved-objects API.

``POST <dashboards>/api/saved_objects/_import?overwrite=true`` with the NDJSON
as a multipart file and the ``osd-xsrf`` header Dashboards requires of every
write. Basic auth when a user is given (the security plugin's internal users);
an Amazon OpenSearch Service domain serves Dashboards under ``/_dashboards``,
so pass that as part of the URL.
"""

from __future__ import annotations

import base64
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from logstream.dashboards.saved_objects import saved_objects, to_ndjson
from logstream.errors import InfrastructureError, InputError

#: Sends one request, answers (status, body); tests pass their own.
Send = Callable[[urllib.request.Request, float], tuple[int, bytes]]


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What Dashboards said: objects imported, and per-object errors."""

    success: bool
    imported: int
    errors: list[dict[str, Any]] = field(default_factory=list)


def _send(request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), bytes(error.read())
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise InfrastructureError(
            f"OpenSearch Dashboards unreachable at {request.full_url}: {error}"
        ) from error


def multipart_file(ndjson: str, boundary: str) -> bytes:
    """A multipart/form-data body with ``ndjson`` as the form's ``file`` field."""
    return (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="logstream.ndjson"\r\n'
        "Content-Type: application/ndjson\r\n\r\n"
        f"{ndjson}\r\n--{boundary}--\r\n"
    ).encode()


def install_dashboards(
    dashboards_url: str,
    prefix: str,
    *,
    username: str | None = None,
    password: str | None = None,
    overwrite: bool = True,
    timeout: float = 30.0,
    headers: Mapping[str, str] | None = None,
    send: Send = _send,
) -> ImportResult:
    """Import logstream's saved objects for indices ``<prefix>-*`` into the
    Dashboards at ``dashboards_url`` (e.g. ``http://localhost:5601``).

    Raises :class:`InputError` for a URL that is not http(s) or an answer 4xx
    (wrong URL, credentials or permissions: a person fixes those), and
    :class:`InfrastructureError` when Dashboards cannot be reached or answers 5xx.
    Objects Dashboards refuses one by one come back in ``errors``.
    """
    parsed = urllib.parse.urlsplit(dashboards_url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise InputError(
            f"Dashboards URL must be http(s)://host[:port][/path], not {dashboards_url!r}"
        )
    query = "?overwrite=true" if overwrite else ""
    url = f"{dashboards_url.rstrip('/')}/api/saved_objects/_import{query}"
    boundary = f"logstream-{secrets.token_hex(12)}"
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url,
        data=multipart_file(to_ndjson(saved_objects(prefix)), boundary),
        method="POST",
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "osd-xsrf": "true",
            **(headers or {}),
        },
    )
    if username is not None:
        token = base64.b64encode(f"{username}:{password or ''}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    status, body = send(request, timeout)
    text = body.decode("utf-8", "replace")
    if status >= 500:
        raise InfrastructureError(f"OpenSearch Dashboards answered {status} at {url}: {text[:300]}")
    if status >= 400:
        raise InputError(
            f"OpenSearch Dashboards refused the import ({status} at {url}): {text[:300]}"
        )
    try:
        answer = json.loads(text)
    except ValueError as error:
        raise InputError(
            f"{url} did not answer like OpenSearch Dashboards: {text[:200]!r}"
        ) from error
    return ImportResult(
        success=bool(answer.get("success")),
        imported=int(answer.get("successCount", 0)),
        errors=list(answer.get("errors", [])),
    )
