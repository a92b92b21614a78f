"""moto in server mode on loopback: boto3 talks real HTTP to it.

Server mode (rather than ``mock_aws`` patching) means the code under test and
any subprocess it starts reach "AWS" through ``AWS_ENDPOINT_URL`` exactly as
they would reach the real endpoint, and botocore's serialisation, signing and
retry logic all run.
"""

from __future__ import annotations

import urllib.request
from types import TracebackType
from typing import Self

from moto.server import ThreadedMotoServer

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


class MotoServer:
    """A moto server on 127.0.0.1 with an OS-chosen port; use as a context manager.

    moto keeps its backends in module globals, so servers started in the same
    process share state; use ``reset()`` (or distinct names) to isolate tests.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: ThreadedMotoServer | None = None
        self._endpoint: str | None = None

    @property
    def endpoint_url(self) -> str:
        if self._endpoint is None:
            raise RuntimeError("MotoServer is not running")
        return self._endpoint

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> Self:
        if self._server is not None:
            return self
        server = ThreadedMotoServer(ip_address=self._host, port=self._port, verbose=False)
        # start() returns once the socket is bound, so requests succeed right away.
        server.start()
        host, port = server.get_host_and_port()
        self._server = server
        self._endpoint = f"http://{host}:{port}"
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
            server.stop()
