"""moto in server mode on loopback: boto3 talks real HTTP to it.

Server mode (rather than ``mock_aws`` patching) means the code under test and
any subprocess it starts reach "AWS" through ``AWS_ENDPOINT_URL`` exactly as
they would reach the real endpoint, and botocore's serialisation, signing and
retry logic all run.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any, Self

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from devstack.lifecycle import LocalService

DEFAULT_REGION = "us-east-1"


def aws_env(endpoint: str, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Environment variables that point boto3 (and the AWS CLI) at ``endpoint``.

    boto3 >= 1.28 reads ``AWS_ENDPOINT_URL`` itself. Dummy credentials (and a
    dummy session token, which shadows any real one in the caller's
    environment) ensure nothing is ever signed with real keys.
    """
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }


class _OneRequestAtATime:
    """Serialises requests into moto.

    AWS applies each request atomically (a DynamoDB conditional write either
    wins or fails), but moto's backends are plain Python objects that a
    threaded server would let two requests interleave inside. One lock around
    the application gives moto the atomicity the code under test relies on,
    while keep-alive connections from many clients still work.
    """

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with self._lock:
            return list(self._app(environ, start_response))


class MotoServer(LocalService):
    """A moto server on 127.0.0.1 with an OS-chosen port; use as a context manager.

    moto keeps its backends in module globals, so servers started in the same
    process share state; use ``reset()`` (or distinct names) to isolate tests.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._endpoint: str | None = None

    @property
    def endpoint_url(self) -> str:
        if self._endpoint is None:
            raise RuntimeError("MotoServer is not running")
        return self._endpoint

    def start(self) -> Self:
        if self._server is not None:
            return self
        app = _OneRequestAtATime(DomainDispatcherApplication(create_backend_app))
        # make_server binds the socket before returning: requests succeed right away.
        server = make_server(
            self._host, self._port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(target=server.serve_forever, daemon=True, name="moto")
        self._thread.start()
        port = server.server_address[1]
        self._server = server
        self._endpoint = f"http://{self._host}:{port}"
        return self

    def reset(self) -> None:
        """Drop every resource in every moto backend (moto's own reset API)."""
        # Our own loopback URL, so the scheme audit (S310) does not apply.
        url = f"{self.endpoint_url}/moto-api/reset"
        request = urllib.request.Request(url, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=30):  # noqa: S310
            pass

    def stop(self) -> None:
        server, self._server = self._server, None
        self._endpoint = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


def create_state_table(dynamodb: Any, name: str) -> str:
    """The state table as template.yaml's StateTable declares it (pk/sk strings)."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name
