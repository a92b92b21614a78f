"""install_dashboards: the request it sends (the import API's multipart form, the
osd-xsrf header, basic auth) and how it reads answers. A recording stand-in
plays Dashboards; no Dashboards server runs here, so acceptance by a real one
is not shown by these tests."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import urllib.request

import pytest

from logstream.dashboards.install import install_dashboards
from logstream.dashboards.saved_objects import saved_objects, to_ndjson
from logstream.errors import InfrastructureError, InputError


class Recorder:
    def __init__(self, status: int, answer: object) -> None:
        self.status = status
        self.answer = answer
        self.requests: list[urllib.request.Request] = []

    def __call__(self, request: urllib.request.Request, timeout: float) -> tuple[int, bytes]:
        self.requests.append(request)
        body = self.answer if isinstance(self.answer, bytes) else json.dumps(self.answer).encode()
        return self.status, body


def test_posts_the_ndjson_as_a_multipart_file_with_the_xsrf_header() -> None:
    dashboards = Recorder(200, {"success": True, "successCount": 9})
    result = install_dashboards(
        "https://search.example.com/_dashboards/",
        "acme",
        username="admin",
        password="pw",
        send=dashboards,
    )
    assert (result.success, result.imported, result.errors) == (True, 9, [])
    (request,) = dashboards.requests
    assert request.get_method() == "POST"
    assert request.full_url == (
        "https://search.example.com/_dashboards/api/saved_objects/_import?overwrite=true"
    )
    headers = {k.lower(): v for k, v in request.header_items()}
    assert headers["osd-xsrf"] == "true"
    assert headers["authorization"] == "Basic " + base64.b64encode(b"admin:pw").decode()
    raw = f"Content-Type: {headers['content-type']}\r\n\r\n".encode() + bytes(request.data)  # type: ignore[arg-type]
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    (part,) = list(message.iter_parts())
    assert part.get_param("name", header="content-disposition") == "file"
    assert part.get_filename() == "logstream.ndjson"
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert payload.decode() == to_ndjson(saved_objects("acme"))


def test_object_errors_come_back_to_the_caller() -> None:
    errors = [{"id": "x", "type": "visualization", "error": {"type": "conflict"}}]
    result = install_dashboards(
        "http://localhost:5601",
        "logs",
        overwrite=False,
        send=Recorder(200, {"success": False, "successCount": 8, "errors": errors}),
    )
    assert (result.success, result.imported, result.errors) == (False, 8, errors)


@pytest.mark.parametrize(
    ("status", "error"), [(401, InputError), (404, InputError), (503, InfrastructureError)]
)
def test_refusals_are_one_clear_error(status: int, error: type[Exception]) -> None:
    with pytest.raises(error, match=str(status)):
        install_dashboards("http://localhost:5601", "logs", send=Recorder(status, b"nope"))


def test_a_bad_url_or_a_server_that_is_not_dashboards_is_input_error() -> None:
    with pytest.raises(InputError, match="http"):
        install_dashboards("localhost:5601", "logs", send=Recorder(200, {}))
    with pytest.raises(InputError, match="did not answer"):
        install_dashboards("http://localhost:9200", "logs", send=Recorder(200, b"<html>"))


def test_an_unreachable_dashboards_is_infrastructure_error() -> None:
    with pytest.raises(InfrastructureError, match="unreachable"):
        install_dashboards("http://127.0.0.1:9", "logs", timeout=2)
