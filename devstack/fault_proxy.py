"""An HTTP reverse proxy in front of OpenSearch that injects load failures.

Requests pass through byte for byte (method, path, query, headers, body --
gzip bodies included) and the real upstream answer comes back, so the happy
path is never simulated. On demand, ``_bulk`` requests fail the two ways a
busy cluster fails them:

* ``reject_requests(n)``: the whole request is answered with e.g. 429 and an
  OpenSearch-shaped error body, without reaching OpenSearch;
* ``reject_items(n)``: the request *is* executed, but every item in the
  response is turned into a 429 rejection. The documents really were written,
  so a correct retry with ``create`` ops must treat the 409s it then gets as
  success -- the duplicate-free replay path the shipper has to prove;
* ``fail_items(...)``: like ``reject_items``, but only for the documents a
  rule picks by ``_id`` (a fraction of them, or named ones), with any status,
  for their first ``times`` requests or for ever: partial failures, per-item
  503s, and the poisoned items behind head-of-line blocking.

And the two ways a wedged cluster fails any request:

* ``hang(n)``: the request is read and never answered until the fault is
  cleared or the proxy stops;
* ``trickle(n, interval)``: the request is executed, then its real answer is
  sent one byte per ``interval`` seconds.

The proxy listens on loopback only and runs in a daemon thread, so it can
never outlive the test process.
"""

from __future__ import annotations

import base64
import dataclasses
import gzip
import http.client
import ipaddress
import json
import threading
import urllib.parse
import zlib
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from email.message import Message
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, cast

from devstack.lifecycle import LocalService

# The type the brief's consumers key on (Elasticsearch / Amazon OpenSearch
# Service spelling). OpenSearch 2.x itself reports "rejected_execution_exception",
# so code should decide on the 429 status, not the type string.
REJECTED_EXECUTION = "es_rejected_execution_exception"

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_NO_BODY_STATUSES = frozenset({204, 304})
_MAX_LINE = 65536


@dataclass(frozen=True)
class ProxyStats:
    """Counters since the proxy started (a consistent snapshot)."""

    requests_seen: int = 0
    bulk_requests_seen: int = 0
    requests_rejected: int = 0
    bulk_responses_rewritten: int = 0
    items_rejected: int = 0
    requests_hung: int = 0
    requests_trickled: int = 0

    @property
    def faults_injected(self) -> int:
        """Requests that were failed, whole or per item, hung or trickled."""
        return (
            self.requests_rejected
            + self.bulk_responses_rewritten
            + self.requests_hung
            + self.requests_trickled
        )


class _FaultKind(Enum):
    NONE = "none"
    REJECT_REQUEST = "reject_request"
    REJECT_ITEMS = "reject_items"
    FAIL_ITEMS = "fail_items"
    HANG = "hang"
    TRICKLE = "trickle"


@dataclass(frozen=True)
class _Fault:
    kind: _FaultKind
    status: int = 200
    error_type: str = ""


_NO_FAULT = _Fault(_FaultKind.NONE)


@dataclass
class _ItemRule:
    """Which bulk items ``fail_items`` fails, how, and how often per ``_id``."""

    status: int
    error_type: str
    fraction: float
    ids: frozenset[str] | None
    times: int | None
    failed: Counter[str] = dataclasses.field(default_factory=Counter)

    def picks(self, doc_id: str) -> bool:
        if self.ids is not None:
            chosen = doc_id in self.ids
        else:
            chosen = zlib.crc32(doc_id.encode()) % 10_000 < self.fraction * 10_000
        return chosen and (self.times is None or self.failed[doc_id] < self.times)


def bulk_ids(body: bytes, content_encoding: str) -> list[str | None]:
    """The ``_id`` of each action of a ``_bulk`` request body, in order."""
    raw = gzip.decompress(body) if "gzip" in content_encoding.lower() else body
    ids: list[str | None] = []
    expect_action = True
    for line in raw.splitlines():
        if not line.strip():
            continue
        if expect_action:
            action = json.loads(line)
            op, meta = next(iter(action.items()))
            ids.append(meta.get("_id") if isinstance(meta, dict) else None)
            # delete has no source line; every other op has one.
            expect_action = op == "delete"
        else:
            expect_action = True
    return ids


def error_body(status: int, error_type: str, reason: str) -> dict[str, Any]:
    """The JSON OpenSearch returns for a failed request."""
    cause = {"type": error_type, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


def reject_all_items(response: dict[str, Any], error_type: str = REJECTED_EXECUTION) -> int:
    """Turn every item of a ``_bulk`` response into a 429 rejection, in place.

    Returns how many items were rewritten.
    """
    items = response.get("items")
    if not isinstance(items, list):
        return 0
    count = 0
    for item in items:
        if not isinstance(item, dict):
            continue
        for op, result in item.items():
            if not isinstance(result, dict):
                continue
            rejected: dict[str, Any] = {k: result[k] for k in ("_index", "_id") if k in result}
            rejected["status"] = 429
            rejected["error"] = {
                "type": error_type,
                "reason": "rejected execution of primary operation on write thread pool "
                "(injected by logstream FaultProxy)",
            }
            item[op] = rejected
            count += 1
    if count:
        response["errors"] = True
    return count


class FaultProxy(LocalService):
    """Loopback reverse proxy to ``upstream`` with runtime-settable ``_bulk`` faults."""

    def __init__(
        self,
        upstream: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float = 120.0,
    ) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"upstream must be an http(s) URL, got {upstream!r}")
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"FaultProxy only listens on loopback, not {host}")
        self._upstream = parsed
        self._upstream_port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self._upstream_prefix = parsed.path.rstrip("/")
        self._upstream_auth: str | None = None
        if parsed.username is not None:
            creds = f"{urllib.parse.unquote(parsed.username)}:"
            creds += urllib.parse.unquote(parsed.password or "")
            self._upstream_auth = "Basic " + base64.b64encode(creds.encode()).decode()
        self._host = host
        self._port = port
        self._timeout = timeout
        self._lock = threading.Lock()
        self._stats = ProxyStats()
        self._reject_left = 0
        self._reject_status = 429
        self._reject_type = REJECTED_EXECUTION
        self._items_left = 0
        self._items_type = REJECTED_EXECUTION
        self._item_rule: _ItemRule | None = None
        self._slow_left = 0
        self._slow_kind = _FaultKind.NONE
        self._slow_bulk_only = True
        self._trickle_interval = 1.0
        # Set when hung requests may go: on clear_faults() and on stop().
        self._release = threading.Event()
        self._server: _ProxyHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL to give the client instead of the upstream's."""
        if self._server is None:
            raise RuntimeError("FaultProxy is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = _ProxyHTTPServer((self._host, self._port), self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"FaultProxy:{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        server, self._server = self._server, None
        thread, self._thread = self._thread, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    # -- faults ----------------------------------------------------------

    def reject_requests(self, n: int, status: int = 429, *, error_type: str | None = None) -> None:
        """Answer the next ``n`` ``_bulk`` requests with ``status`` without forwarding them."""
        if n < 0:
            raise ValueError("n must be >= 0")
        with self._lock:
            self._reject_left = n
            self._reject_status = status
            self._reject_type = error_type or (
                REJECTED_EXECUTION if status == 429 else "injected_fault_exception"
            )

    def reject_items(self, n: int, *, error_type: str = REJECTED_EXECUTION) -> None:
        """Forward the next ``n`` ``_bulk`` requests but report every item as a 429."""
        if n < 0:
            raise ValueError("n must be >= 0")
        with self._lock:
            self._items_left = n
            self._items_type = error_type

    def fail_items(
        self,
        *,
        status: int = 429,
        error_type: str | None = None,
        fraction: float = 1.0,
        ids: Collection[str] | None = None,
        times: int | None = None,
    ) -> None:
        """From now on, fail the ``_bulk`` items the rule picks (after forwarding them).

        ``ids`` names the documents; otherwise ``fraction`` of all ids is picked
        by a hash of the id (the same ids on every retry). Each picked id fails
        on its first ``times`` requests, or on every request when ``times`` is None.
        """
        if not 0.0 <= fraction <= 1.0:
            raise ValueError("fraction must be within [0, 1]")
        default_type = REJECTED_EXECUTION if status == 429 else "unavailable_shards_exception"
        with self._lock:
            self._item_rule = _ItemRule(
                status=status,
                error_type=error_type or default_type,
                fraction=fraction,
                ids=frozenset(ids) if ids is not None else None,
                times=times,
            )

    def hang(self, n: int, *, bulk_only: bool = True) -> None:
        """Never answer the next ``n`` requests (``_bulk`` only, or any) until cleared."""
        self._arm_slow(n, _FaultKind.HANG, bulk_only)

    def trickle(self, n: int, *, interval: float = 1.0, bulk_only: bool = True) -> None:
        """Execute the next ``n`` requests, then send each answer one byte per ``interval`` s."""
        if interval <= 0:
            raise ValueError("interval must be > 0")
        self._trickle_interval = interval
        self._arm_slow(n, _FaultKind.TRICKLE, bulk_only)

    def _arm_slow(self, n: int, kind: _FaultKind, bulk_only: bool) -> None:
        if n < 0:
            raise ValueError("n must be >= 0")
        with self._lock:
            self._release.clear()
            self._slow_left = n
            self._slow_kind = kind
            self._slow_bulk_only = bulk_only

    def clear_faults(self) -> None:
        """Cancel any pending faults and let hung requests go; counters are kept."""
        with self._lock:
            self._reject_left = 0
            self._items_left = 0
            self._item_rule = None
            self._slow_left = 0
        self._release.set()

    @property
    def stats(self) -> ProxyStats:
        with self._lock:
            return self._stats

    @property
    def requests_seen(self) -> int:
        return self.stats.requests_seen

    @property
    def faults_injected(self) -> int:
        return self.stats.faults_injected

    def _next_fault(self, is_bulk: bool) -> _Fault:
        # Whole-request rejections take precedence when both are armed.
        with self._lock:
            stats = self._stats
            fault = _NO_FAULT
            rejected = rewritten = hung = trickled = 0
            if is_bulk and self._reject_left > 0:
                self._reject_left -= 1
                rejected = 1
                fault = _Fault(_FaultKind.REJECT_REQUEST, self._reject_status, self._reject_type)
            elif self._slow_left > 0 and (is_bulk or not self._slow_bulk_only):
                self._slow_left -= 1
                fault = _Fault(self._slow_kind)
                hung = int(self._slow_kind is _FaultKind.HANG)
                trickled = int(self._slow_kind is _FaultKind.TRICKLE)
            elif is_bulk and self._items_left > 0:
                self._items_left -= 1
                rewritten = 1
                fault = _Fault(_FaultKind.REJECT_ITEMS, 200, self._items_type)
            elif is_bulk and self._item_rule is not None:
                fault = _Fault(_FaultKind.FAIL_ITEMS, 200, self._item_rule.error_type)
            self._stats = dataclasses.replace(
                stats,
                requests_seen=stats.requests_seen + 1,
                bulk_requests_seen=stats.bulk_requests_seen + int(is_bulk),
                requests_rejected=stats.requests_rejected + rejected,
                bulk_responses_rewritten=stats.bulk_responses_rewritten + rewritten,
                requests_hung=stats.requests_hung + hung,
                requests_trickled=stats.requests_trickled + trickled,
            )
            return fault

    def _fail_picked_items(self, response: dict[str, Any], ids: list[str | None]) -> bool:
        """Apply the ``fail_items`` rule to one parsed bulk response; whether it changed."""
        items = response.get("items")
        with self._lock:
            rule = self._item_rule
            if rule is None or not isinstance(items, list) or len(items) != len(ids):
                return False
            failed = 0
            for item, doc_id in zip(items, ids, strict=True):
                if doc_id is None or not isinstance(item, dict) or not rule.picks(doc_id):
                    continue
                rule.failed[doc_id] += 1
                for op, result in item.items():
                    source = result if isinstance(result, dict) else {}
                    item[op] = {
                        **{k: source[k] for k in ("_index", "_id") if k in source},
                        "status": rule.status,
                        "error": {
                            "type": rule.error_type,
                            "reason": "item failed (injected by logstream FaultProxy)",
                        },
                    }
                failed += 1
            if failed:
                response["errors"] = True
                self._stats = dataclasses.replace(
                    self._stats,
                    items_rejected=self._stats.items_rejected + failed,
                    bulk_responses_rewritten=self._stats.bulk_responses_rewritten + 1,
                )
            return failed > 0

    def _count_items(self, n: int) -> None:
        with self._lock:
            self._stats = dataclasses.replace(
                self._stats, items_rejected=self._stats.items_rejected + n
            )

    # -- forwarding ------------------------------------------------------

    def _forward(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn: http.client.HTTPConnection
        host = self._upstream.hostname or ""
        if self._upstream.scheme == "https":
            conn = http.client.HTTPSConnection(host, self._upstream_port, timeout=self._timeout)
        else:
            conn = http.client.HTTPConnection(host, self._upstream_port, timeout=self._timeout)
        try:
            # skip_*: the client's own Host/Accept-Encoding are in `headers` already.
            conn.putrequest(
                method, self._upstream_prefix + target, skip_host=True, skip_accept_encoding=True
            )
            for name, value in headers:
                conn.putheader(name, value)
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.reason, resp.getheaders(), data
        finally:
            conn.close()

    def _upstream_headers(
        self, method: str, incoming: Message, body: bytes, *, strip_encoding: bool
    ) -> list[tuple[str, str]]:
        connection_tokens = {
            t.strip().lower() for t in (incoming.get("Connection") or "").split(",") if t.strip()
        }
        out: list[tuple[str, str]] = []
        for name, value in incoming.items():
            lower = name.lower()
            if lower in _HOP_BY_HOP or lower in connection_tokens:
                continue
            if lower in ("host", "content-length", "expect"):
                continue
            if strip_encoding and lower == "accept-encoding":
                continue
            out.append((name, value))
        out.append(("Host", self._upstream.netloc.rpartition("@")[2]))
        if body or method in ("POST", "PUT", "PATCH"):
            # Re-framed: a chunked request body was de-chunked while reading it.
            out.append(("Content-Length", str(len(body))))
        if self._upstream_auth and incoming.get("Authorization") is None:
            out.append(("Authorization", self._upstream_auth))
        return out


class _ProxyHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # open keep-alive connections must not block shutdown
    request_queue_size = 128  # benchmarks open many connections at once

    def __init__(self, address: tuple[str, int], proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up mid-response is normal in retry tests; stay quiet.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like OpenSearch itself

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read the counters; per-request access lines are noise

    def _proxy(self) -> None:
        proxy = cast(_ProxyHTTPServer, self.server).proxy
        body = self._read_body()
        split = urllib.parse.urlsplit(self.path)
        target = (split.path or "/") + (f"?{split.query}" if split.query else "")
        fault = proxy._next_fault("_bulk" in split.path)

        if fault.kind is _FaultKind.REJECT_REQUEST:
            reason = "rejected execution of bulk request (injected by logstream FaultProxy)"
            payload = error_body(fault.status, fault.error_type, reason)
            self._respond(
                fault.status,
                None,
                [("Content-Type", "application/json; charset=UTF-8")],
                json.dumps(payload).encode(),
            )
            return

        if fault.kind is _FaultKind.HANG:
            # Say nothing until released, then hang up: the client sees no answer at all.
            proxy._release.wait()
            self.close_connection = True
            return

        rewrite = fault.kind in (_FaultKind.REJECT_ITEMS, _FaultKind.FAIL_ITEMS)
        ids: list[str | None] = []
        if fault.kind is _FaultKind.FAIL_ITEMS:
            try:
                ids = bulk_ids(body, self.headers.get("Content-Encoding") or "")
            except (OSError, ValueError, StopIteration, AttributeError):
                rewrite = False  # not a bulk body we can read; pass it on untouched
        # Ask upstream for an identity body we can edit; re-gzip below if the client wants it.
        headers = proxy._upstream_headers(self.command, self.headers, body, strip_encoding=rewrite)
        try:
            status, reason_phrase, resp_headers, data = proxy._forward(
                self.command, target, headers, body
            )
        except (OSError, http.client.HTTPException) as exc:
            payload = error_body(502, "proxy_exception", f"upstream unreachable: {exc!r}")
            self._respond(
                502, None, [("Content-Type", "application/json")], json.dumps(payload).encode()
            )
            return
        if rewrite and status == 200:
            accepts_gzip = "gzip" in (self.headers.get("Accept-Encoding") or "").lower()
            resp_headers, data = self._rewrite_items(
                proxy, resp_headers, data, fault.error_type, accepts_gzip, ids=ids
            )
        if fault.kind is _FaultKind.TRICKLE:
            self._trickle(proxy, status, reason_phrase, resp_headers, data)
            return
        self._respond(status, reason_phrase, resp_headers, data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _proxy

    @staticmethod
    def _rewrite_items(
        proxy: FaultProxy,
        headers: list[tuple[str, str]],
        data: bytes,
        error_type: str,
        accepts_gzip: bool,
        *,
        ids: list[str | None],
    ) -> tuple[list[tuple[str, str]], bytes]:
        encoding = next((v for k, v in headers if k.lower() == "content-encoding"), "")
        try:
            raw = gzip.decompress(data) if encoding.lower() == "gzip" else data
            doc = json.loads(raw)
        except (OSError, ValueError):
            return headers, data  # not a JSON bulk response; pass it on untouched
        if not isinstance(doc, dict):
            return headers, data
        if ids:
            if not proxy._fail_picked_items(doc, ids):
                return headers, data
        else:
            proxy._count_items(reject_all_items(doc, error_type))
        out = json.dumps(doc).encode()
        kept = [(k, v) for k, v in headers if k.lower() != "content-encoding"]
        if accepts_gzip:
            out = gzip.compress(out)
            kept.append(("Content-Encoding", "gzip"))
        return kept, out

    def _trickle(
        self,
        proxy: FaultProxy,
        status: int,
        reason: str | None,
        headers: list[tuple[str, str]],
        data: bytes,
    ) -> None:
        """Send the real answer's head at once and its body one byte at a time."""
        self.send_response_only(status, reason)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.flush()
        for offset in range(len(data)):
            # A released fault (or a stopped proxy) sends the rest at once.
            if not proxy._release.is_set():
                proxy._release.wait(proxy._trickle_interval)
            try:
                self.wfile.write(data[offset : offset + 1])
                self.wfile.flush()
            except OSError:
                self.close_connection = True
                return  # the client gave up: exactly what the fault is for

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline(_MAX_LINE).split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Skip trailers up to the blank line that ends the message.
                    while self.rfile.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(_MAX_LINE)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _respond(
        self, status: int, reason: str | None, headers: list[tuple[str, str]], data: bytes
    ) -> None:
        # send_response_only: no extra Server/Date headers, the upstream's go through as-is.
        self.send_response_only(status, reason)
        upstream_length: str | None = None
        for name, value in headers:
            lower = name.lower()
            if lower == "content-length":
                upstream_length = value
                continue
            if lower in _HOP_BY_HOP:
                continue
            self.send_header(name, value)
        has_body = status >= 200 and status not in _NO_BODY_STATUSES
        if self.command == "HEAD":
            # HEAD carries the length the GET would have had, but no body.
            if upstream_length is not None:
                self.send_header("Content-Length", upstream_length)
        elif has_body:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD" and has_body and data:
            self.wfile.write(data)
        self.wfile.flush()
