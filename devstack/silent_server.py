"""Endpoints that fail the way a dead or wedged service does, on loopback only.

* :class:`SilentServer` accepts TCP connections, reads whatever is sent and
  never answers: a hung DynamoDB endpoint or a cluster whose HTTP threads are
  all stuck. Clients without a read timeout wait forever.
* :func:`dead_endpoint` is a URL on which nothing listens: connections are
  refused at once, like a service whose process is gone.

Both exist for the fault suite (tests/faults); the server runs in daemon
threads, so it can never outlive the test process, and ``stop`` closes every
connection it is holding so that blocked clients wake up.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from typing import Self

from devstack.lifecycle import LocalService
from devstack.opensearch_server import free_port


def dead_endpoint(host: str = "127.0.0.1") -> str:
    """An ``http://`` URL on loopback where nothing listens (a port that was just free)."""
    return f"http://{host}:{free_port(host)}"


class SilentServer(LocalService):
    """A TCP listener on loopback that accepts, reads and never says a word."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"SilentServer only listens on loopback, not {host}")
        self._host = host
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self.accepted = 0

    @property
    def url(self) -> str:
        if self._listener is None:
            raise RuntimeError("SilentServer is not running")
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        if self._listener is not None:
            return self
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self._host, 0))
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener
        self._stopped.clear()
        threading.Thread(target=self._accept, name="SilentServer", daemon=True).start()
        return self

    def _accept(self) -> None:
        listener = self._listener
        while listener is not None and not self._stopped.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._connections.append(connection)
                self.accepted += 1
            threading.Thread(target=self._swallow, args=(connection,), daemon=True).start()

    def _swallow(self, connection: socket.socket) -> None:
        # Read so the client's send never blocks on a full buffer; answer nothing.
        connection.settimeout(0.2)
        while not self._stopped.is_set():
            try:
                if not connection.recv(65536):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def stop(self) -> None:
        self._stopped.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()
