"""The lean ``_bulk`` transport against a real HTTP server on loopback."""

from __future__ import annotations

import gzip
import http.server
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import orjson
import pytest

from logstream.cluster.bulk_transport import BULK_RESPONSE_FILTER, BulkTransport
from logstream.cluster.port import ClusterError


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    mode: ClassVar[str] = "ok"
    seen: ClassVar[list[dict[str, Any]]] = []
    connections: ClassVar[set[int]] = set()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).connections.add(id(self.connection))
        type(self).seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if self.mode == "trickle":
            self._answer(200, b'{"errors":false,"items":[' + b" " * 400 + b"]}", trickle=True)
        elif self.mode == "busy":
            self._answer(429, b'{"error":{"type":"x","reason":"slow down"},"status":429}')
        elif self.mode == "not-json":
            self._answer(200, b"<html>proxy error</html>")
        elif self.mode == "cut":
            # Content-Length promises more than comes before the connection closes.
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b'{"took":1,"errors":false,"items":[{"create":{"status":201}}]}')
            self.close_connection = True
        elif self.mode in ("took", "took-after", "item-failed"):
            lines = gzip.decompress(body).splitlines()
            items: list[dict[str, Any]] = [{"create": {"status": 201}} for _ in lines[::2]]
            if self.mode == "item-failed":
                items[-1] = {"create": {"status": 400, "error": {"type": "mapper_parsing"}}}
            failed = self.mode == "item-failed"
            answer: dict[str, Any] = {"took": 3, "errors": failed, "items": items}
            if self.mode == "took-after":  # Elasticsearch 8's order
                answer = {"errors": failed, "took": 3, "items": items}
            self._answer(200, orjson.dumps(answer))
        else:
            lines = gzip.decompress(body).splitlines()
            items = [{"create": {"status": 201}} for _ in lines[::2]]
            self._answer(200, orjson.dumps({"errors": False, "items": items}))

    def _answer(self, status: int, payload: bytes, *, trickle: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if not trickle:
            self.wfile.write(payload)
            return
        for byte in payload:  # bounded: at most ~4 s, stops when the client hangs up
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return
            time.sleep(0.01)

    def log_message(self, *_: Any) -> None:
        return


@pytest.fixture
def server() -> Iterator[str]:
    _Handler.mode = "ok"
    _Handler.seen = []
    _Handler.connections = set()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _body(n: int) -> bytes:
    lines = b"".join(b'{"create":{"_index":"i","_id":"%d"}}\n{"m":1}\n' % i for i in range(n))
    return gzip.compress(lines)


def _transport(url: str, **overrides: Any) -> BulkTransport:
    options: dict[str, Any] = {
        "http_auth": None,
        "verify_certs": True,
        "ca_certs": None,
        "pool_size": 2,
        "engine": "OpenSearch",
    }
    options.update(overrides)
    return BulkTransport(url, **options)


def test_requests_reuse_one_keep_alive_connection_and_send_the_gzip_body(server: str) -> None:
    transport = _transport(server)
    for n in (1, 2, 3, 4, 5):
        answer = transport.post(_body(n), timeout=10)
        assert answer == {"errors": False, "item_count": n}
    assert len(_Handler.connections) == 1
    first = _Handler.seen[0]
    assert first["path"] == "/_bulk?filter_path=" + BULK_RESPONSE_FILTER
    assert first["headers"]["Content-Encoding"] == "gzip"
    assert first["headers"]["Content-Type"] == "application/x-ndjson"
    assert gzip.decompress(first["body"]).count(b"\n") == 2


def test_basic_auth_from_a_pair_and_from_the_url(server: str) -> None:
    _transport(server, http_auth=("shipper", "s3cret")).post(_body(1), timeout=10)
    with_user = server.replace("http://", "http://user:pw@")
    _transport(with_user).post(_body(1), timeout=10)
    assert _Handler.seen[0]["headers"]["Authorization"] == "Basic c2hpcHBlcjpzM2NyZXQ="
    assert _Handler.seen[1]["headers"]["Authorization"] == "Basic dXNlcjpwdw=="


def test_a_throttled_request_is_a_retryable_error_with_the_cluster_reason(server: str) -> None:
    _Handler.mode = "busy"
    with pytest.raises(
        ClusterError, match="OpenSearch request failed \\(429\\): x: slow down"
    ) as info:
        _transport(server).post(_body(1), timeout=10)
    assert info.value.retryable and info.value.status == 429


def test_an_answer_that_is_not_json_is_a_retryable_error(server: str) -> None:
    _Handler.mode = "not-json"
    with pytest.raises(ClusterError, match="not JSON") as info:
        _transport(server).post(_body(1), timeout=10)
    assert info.value.retryable


def test_a_trickling_answer_is_cut_at_the_timeout_not_read_to_the_end(server: str) -> None:
    # The server would finish its answer (400 bytes at 10 ms each) if the client waited:
    # the timeout covers the whole request, so the request fails instead.
    _Handler.mode = "trickle"
    transport = _transport(server)
    with pytest.raises(ClusterError, match=r"no complete answer within 0\.5 s") as info:
        transport.post(_body(1), timeout=0.5)
    assert info.value.retryable
    # The pool does not keep the cut connection: the next request opens a new one.
    _Handler.mode = "ok"
    assert transport.post(_body(1), timeout=10)["errors"] is False
    assert len(_Handler.connections) == 2


def test_a_refused_connection_is_a_retryable_error() -> None:
    with pytest.raises(ClusterError) as info:
        _transport("http://127.0.0.1:9").post(_body(1), timeout=5)
    assert info.value.retryable and info.value.status is None


@pytest.mark.parametrize("mode", ["took", "took-after"])
def test_an_answer_with_no_failed_item_is_counted_not_parsed(server: str, mode: str) -> None:
    _Handler.mode = mode
    assert _transport(server).post(_body(7), timeout=10) == {"errors": False, "item_count": 7}


def test_an_answer_with_a_failed_item_is_parsed_item_by_item(server: str) -> None:
    _Handler.mode = "item-failed"
    answer = _transport(server).post(_body(3), timeout=10)
    assert answer["errors"] is True
    assert [item["create"]["status"] for item in answer["items"]] == [201, 201, 400]


def test_an_answer_cut_before_its_content_length_is_a_retryable_error(server: str) -> None:
    _Handler.mode = "cut"
    with pytest.raises(ClusterError, match="IncompleteRead") as info:
        _transport(server).post(_body(1), timeout=10)
    assert info.value.retryable
