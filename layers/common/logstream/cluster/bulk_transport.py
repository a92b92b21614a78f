"""A lean HTTP path for ``_bulk``: the request the shipper makes thousands of times.

opensearch-py over requests spends about 1.8 ms of CPU per request before a
byte is sent: requests scans the environment for proxies twice and looks for
netrc files and CA paths on every call, and urllib3 re-encodes the long
``filter_path`` URL. Here, once per container:

- the URL and the constant headers are built once;
- keep-alive connections (``http.client``) are pooled, one per request in
  flight (MAX_IN_FLIGHT), so a container never opens a second connection for
  work one would do;
- TLS is configured explicitly: verification on with the system or
  ``ca_certs`` bundle, or off only when ES_TLS_VERIFY=false says so
  (which the composition root logs as a warning), never from environment
  variables such as REQUESTS_CA_BUNDLE;
- nothing is read from the environment per request.

Per request only the gzip body changes; authentication is applied to it
(SigV4 signs the exact bytes sent, through the same requests-aws4auth object
the search client uses).

An answer in which no item failed is not parsed: its items are only counted.
Parsing a few thousand ``{"create":{"status":201}}`` objects cost as much CPU
as the rest of the request (0.5 ms of 1 ms for 1,667 items).

``timeout`` bounds the whole request, not each socket read: a watchdog closes
the connection when it is spent, so a cluster that trickles its answer a byte
at a time cannot hold an invocation past its deadline.
"""

from __future__ import annotations

import base64
import heapq
import http.client
import itertools
import queue
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import orjson
from requests import PreparedRequest
from requests.structures import CaseInsensitiveDict

from logstream.cluster.port import ClusterError

BULK_RESPONSE_FILTER: Final = "took,errors,items.*.status,items.*.error"
_READ_CHUNK: Final = 64 * 1024
#: How an answer starts when no item failed (``filter_path`` keeps took, errors, items;
#: OpenSearch writes ``took`` first, Elasticsearch 8 after ``errors``).
_NO_ITEM_FAILED: Final = re.compile(rb'\{(?:"took":\d+,)?"errors":false,(?:"took":\d+,)?"items":\[')
#: Once per item in such an answer: ``{"create":{"status":201}}``.
_ITEM_STATUS: Final = b'"status":'


class BulkTransport:
    """POSTs gzip NDJSON bodies to ``<url>/_bulk`` over pooled keep-alive connections."""

    def __init__(
        self,
        url: str,
        *,
        http_auth: Any,
        verify_certs: bool,
        ca_certs: str | None,
        pool_size: int,
        engine: str,
    ) -> None:
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path.rstrip("/") + "/_bulk?filter_path=" + BULK_RESPONSE_FILTER
        self._url = f"{parts.scheme}://{parts.netloc}{self._path}"
        self._engine = engine
        self._headers = {
            "Content-Type": "application/x-ndjson",
            "Content-Encoding": "gzip",
            "Accept": "application/json",
            "Connection": "keep-alive",
        }
        self._authorize = _authorizer(
            http_auth, self._headers, self._url, parts.username, parts.password
        )
        self._tls = _tls_context(verify_certs, ca_certs) if self._https else None
        self._idle: queue.LifoQueue[http.client.HTTPConnection] = queue.LifoQueue(pool_size)
        self._watchdog = _Watchdog()

    def post(self, body: bytes, timeout: float) -> dict[str, Any]:
        """One ``_bulk`` request; the parsed response, or :class:`ClusterError`."""
        headers = self._authorize(body)
        connection = self._connection(timeout)
        alarm = self._watchdog.arm(time.monotonic() + timeout, connection)
        failure: Exception | None = None
        try:
            status, payload = self._exchange(connection, headers, body)
        except (OSError, http.client.HTTPException) as error:
            failure = error
        # A connection the watchdog shut may still hand back a cut answer: never trust it.
        if self._watchdog.disarm(alarm) or failure is not None:
            connection.close()
            reason = f"no complete answer within {timeout:.1f} s"
            if failure is not None and not alarm.fired:
                reason = repr(failure)
            raise ClusterError(None, reason, retryable=True, engine=self._engine) from failure
        self._release(connection)
        if status >= 300:
            retryable = status == 429 or status >= 500
            raise ClusterError(
                status, _error_summary(payload), retryable=retryable, engine=self._engine
            )
        if _NO_ITEM_FAILED.match(payload) and payload.endswith(b"]}"):
            return {"errors": False, "item_count": payload.count(_ITEM_STATUS)}
        try:
            parsed = orjson.loads(payload)
        except orjson.JSONDecodeError as error:
            raise ClusterError(
                status, "bulk response is not JSON", retryable=True, engine=self._engine
            ) from error
        if not isinstance(parsed, dict):
            raise ClusterError(
                status, "bulk response is not a JSON object", retryable=True, engine=self._engine
            )
        return parsed

    def _exchange(
        self, connection: http.client.HTTPConnection, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, bytes]:
        connection.request("POST", self._path, body=body, headers=dict(headers))
        response = connection.getresponse()
        chunks = []
        while chunk := response.read1(_READ_CHUNK):
            chunks.append(chunk)
        if response.length:  # the connection ended before Content-Length bytes came
            raise http.client.IncompleteRead(b"".join(chunks), response.length)
        if response.will_close:
            connection.close()
        return response.status, b"".join(chunks)

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        try:
            connection = self._idle.get_nowait()
        except queue.Empty:
            if self._https:
                connection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=timeout, context=self._tls
                )
            else:
                connection = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
            return connection
        connection.timeout = timeout
        if connection.sock is not None:
            connection.sock.settimeout(timeout)
        return connection

    def _release(self, connection: http.client.HTTPConnection) -> None:
        try:
            self._idle.put_nowait(connection)
        except queue.Full:
            connection.close()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def _authorizer(
    http_auth: Any,
    headers: Mapping[str, str],
    url: str,
    user: str | None,
    password: str | None,
) -> Callable[[bytes], Mapping[str, str]]:
    """Per-request headers: the constant ones plus authentication of ``body``."""
    constant = dict(headers)
    if http_auth is None and user is not None:
        http_auth = (user, password or "")
    if http_auth is None:
        return lambda _body: constant
    if isinstance(http_auth, tuple):
        pair = f"{http_auth[0]}:{http_auth[1]}".encode()
        constant["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        return lambda _body: constant
    auth: Callable[[PreparedRequest], PreparedRequest] = http_auth

    def authorized(body: bytes) -> Mapping[str, str]:
        # A bare PreparedRequest: what the auth object reads and writes, nothing more.
        request = PreparedRequest()
        request.method = "POST"
        request.url = url
        request.headers = CaseInsensitiveDict(constant)
        request.body = body
        return auth(request).headers

    return authorized


def _tls_context(verify: bool, ca_certs: str | None) -> ssl.SSLContext:
    if not verify:
        context = ssl._create_unverified_context()  # noqa: S323 - ES_TLS_VERIFY=false, logged
        return context
    return ssl.create_default_context(cafile=ca_certs)


def _error_summary(payload: bytes) -> str:
    try:
        parsed = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload[:300].decode("utf-8", "replace")
    detail = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(detail, dict):
        return f"{detail.get('type')}: {detail.get('reason')}"
    return str(detail or parsed)[:300]


class _Alarm:
    __slots__ = ("cancelled", "connection", "fired")

    def __init__(self, connection: http.client.HTTPConnection) -> None:
        self.connection = connection
        self.cancelled = False
        self.fired = False


class _Watchdog:
    """One thread per transport that shuts the sockets of requests past their time.

    Arming is a heap push; the thread is only woken when a new alarm is due
    before every armed one, which with equal timeouts is never.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, _Alarm]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, due: float, connection: http.client.HTTPConnection) -> _Alarm:
        alarm = _Alarm(connection)
        with self._wake:
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (due, next(self._order), alarm))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="bulk-watchdog", daemon=True)
                self._thread.start()
            elif earliest is None or due < earliest:
                self._wake.notify()
        return alarm

    def disarm(self, alarm: _Alarm) -> bool:
        """Cancel ``alarm``; whether it had already fired (its connection is shut)."""
        with self._wake:
            alarm.cancelled = True
            return alarm.fired

    def _run(self) -> None:
        with self._wake:
            while True:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                _, _, alarm = heapq.heappop(self._heap)
                alarm.fired = True
                _shut(alarm.connection)


def _shut(connection: http.client.HTTPConnection) -> None:
    sock = connection.sock
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        return
