"""Cluster authentication: the password from Secrets Manager (moto), and SigV4 over
gzip bodies, checked on the wire by a loopback server that records what it got.

No AWS endpoint runs here, so the SigV4 test cannot ask AWS to verify the
signature; it checks what AWS checks first: the signed payload hash is the
hash of the exact (compressed) bytes sent, and the auth header names the
right service and region.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import boto3
import pytest

from logstream import clients
from logstream.retry import Deadline
from logstream.shipping.documents import Document


class _Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append(({k.lower(): v for k, v in self.headers.items()}, body))
        answer = json.dumps({"took": 1, "errors": False, "items": [{"create": {"status": 201}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(("mode", "service"), [("sigv4", "es"), ("sigv4-aoss", "aoss")])
@pytest.mark.usefixtures("deployment")
def test_sigv4_signs_the_gzip_body_that_is_sent(
    monkeypatch: pytest.MonkeyPatch,
    recorder: str,
    mode: str,
    service: str,
) -> None:
    monkeypatch.setenv("ES_HOST", recorder)
    monkeypatch.setenv("ES_AUTH", mode)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    clients.reset()
    document = _document(b'{"message":"hi"}')
    report = clients.bulk_sink().deliver([document], Deadline.after_seconds(30))
    assert len(report.delivered) == 1
    ((headers, body),) = _Recorder.seen
    assert headers["content-encoding"] == "gzip"
    assert headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
    assert f"/eu-west-1/{service}/aws4_request" in headers["authorization"]
    assert headers["x-amz-content-sha256"] == hashlib.sha256(body).hexdigest()
    assert headers["x-amz-security-token"] == "testing"  # the session's token is sent


@pytest.mark.parametrize(
    ("secret", "password"),
    [
        ("plain-secret-value", "plain-secret-value"),
        ('{"password": "from-json"}', "from-json"),
        ("{plain-but-braced", "{plain-but-braced"),
    ],
)
@pytest.mark.usefixtures("deployment")
def test_the_basic_auth_password_comes_from_secrets_manager(
    monkeypatch: pytest.MonkeyPatch,
    aws_env: dict[str, str],
    recorder: str,
    secret: str,
    password: str,
) -> None:
    secrets = boto3.client(
        "secretsmanager",
        endpoint_url=aws_env["AWS_ENDPOINT_URL"],
        region_name=aws_env["AWS_REGION"],
    )
    arn = secrets.create_secret(Name=f"logstream-{password}", SecretString=secret)["ARN"]
    monkeypatch.setenv("ES_HOST", recorder)
    monkeypatch.setenv("ES_AUTH", "basic")
    monkeypatch.setenv("ES_USER", "shipper")
    monkeypatch.setenv("ES_PASS_SECRET_ARN", arn)
    clients.reset()
    clients.bulk_sink().deliver([_document(b"{}")], Deadline.after_seconds(30))
    ((headers, _),) = _Recorder.seen
    assert (
        headers["authorization"]
        == "Basic " + base64.b64encode(f"shipper:{password}".encode()).decode()
    )


def _document(source: bytes) -> Document:
    return Document.from_source(
        index="logs-x-2026.11.24", doc_id="1", timestamp=1, log_group="x", log_stream="s",
        source=source,
    )  # fmt: skip
