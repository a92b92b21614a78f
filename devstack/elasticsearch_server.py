"""Run a real single-node Elasticsearch 8 on loopback for tests and the demo.

The same machinery as :class:`~devstack.opensearch_server.OpenSearchServer`
(free ports, a private config and data directory, an unprivileged user when
run as root, a process group stopped as one); only names and settings differ.

Security is off by default, as on the OpenSearch node. With ``user=(name,
password)`` it is on, with plain HTTP (a single-node cluster needs no
transport TLS), and the user is created in the file realm as a superuser
(not ``elastic``: that name is reserved for the built-in user):
enough to check basic auth and to create API keys against a real server.
"""

from __future__ import annotations

import base64
import pwd
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from devstack.opensearch_dist import ELASTICSEARCH, ELASTICSEARCH_VERSION
from devstack.opensearch_server import OpenSearchServer, OpenSearchStartError

DEFAULT_ES_VERSION = ELASTICSEARCH_VERSION


class ElasticsearchServer(OpenSearchServer):
    """A real Elasticsearch on 127.0.0.1; use as a context manager."""

    PRODUCT = ELASTICSEARCH
    DEFAULT_VERSION = DEFAULT_ES_VERSION
    ENV_PREFIX = "ES"
    # 8.x runs on 17 and later; 17 is the one verified here.
    JDK_PREFERENCE = (17, 21)
    JDK_SUPPORTED = (17, 24)
    ENGINE_SETTINGS: Mapping[str, str] = {"xpack.security.enabled": "false"}

    def __init__(self, *, user: tuple[str, str] | None = None, **options: Any) -> None:
        settings = dict(options.pop("settings", None) or {})
        if user is not None:
            settings.setdefault("xpack.security.enabled", "true")
            settings.setdefault("xpack.security.http.ssl.enabled", "false")
            settings.setdefault("xpack.security.transport.ssl.enabled", "false")
            settings.setdefault("xpack.security.authc.api_key.enabled", "true")
        super().__init__(settings=settings, **options)
        self._user = user

    def _prepare_config(
        self, dist: Path, conf: Path, env: Mapping[str, str], user: pwd.struct_passwd | None
    ) -> None:
        if self._user is None:
            return
        name, password = self._user
        tool = [str(dist / "bin" / "elasticsearch-users"), "useradd", name, "-p", password]
        tool += ["-r", "superuser"]
        popen_env: dict[str, str] | None = dict(env)
        cmd = tool
        if user is not None:
            # As the service user, so the realm files stay readable by the server.
            cmd = ["runuser", "-u", user.pw_name, "--", "env", "-i"]
            cmd += [f"{k}={v}" for k, v in env.items()] + tool
            popen_env = None
        result = subprocess.run(  # noqa: S603 - argv built above, no shell
            cmd, env=popen_env, capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            self.stop()  # nothing runs yet: this only removes the work directory
            raise OpenSearchStartError(f"elasticsearch-users failed: {result.stderr.strip()}")

    def _health_headers(self) -> dict[str, str]:
        if self._user is None:
            return {}
        pair = f"{self._user[0]}:{self._user[1]}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
