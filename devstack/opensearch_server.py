"""Run a real single-node OpenSearch on loopback for tests and the demo.

(:class:`OpenSearchServer` is also the base of ``devstack.elasticsearch_server``:
the two engines differ only in names, environment variables and settings.)

Each ``OpenSearchServer`` gets free HTTP/transport ports and a private work
directory holding a copy of the distribution's config plus its data, logs and
JVM temp dirs, so several servers (e.g. pytest-xdist workers) can share one
cached distribution without touching it. OpenSearch refuses to run as root;
as root we run it as an unprivileged system user through ``runuser``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Self

from devstack.lifecycle import LocalService
from devstack.opensearch_dist import DEFAULT_VERSION, OPENSEARCH, Product, ensure_distribution

SERVICE_USER = "logstream"
DEFAULT_HEAP = "512m"
DEFAULT_STARTUP_TIMEOUT_S = 120.0

# OpenSearch 2.19 needs the Java security manager, which JDK 24 removed, so
# only LTS JDKs 11-21 (and 22/23) qualify. 17 is the one verified here.
_JDK_PREFERENCE = (17, 21, 11)
_MIN_JDK, _MAX_JDK = 11, 23
_BIND_FAILURE = re.compile(r"BindException|Address already in use|BindTransportException")
_START_ATTEMPTS = 3
_STOP_GRACE_S = 30.0


class OpenSearchStartError(RuntimeError):
    """The server did not become healthy; the message carries its log tail."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _jdk_major(home: Path) -> int | None:
    # Every JDK since 9 ships a `release` file; cheaper than running java.
    try:
        text = (home / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="(\d+)', text, re.MULTILINE)
    return int(match.group(1)) if match else None


def _usable_jdk(home: Path, low: int = _MIN_JDK, high: int = _MAX_JDK) -> bool:
    major = _jdk_major(home)
    return (home / "bin" / "java").is_file() and major is not None and low <= major <= high


def find_java_home(
    explicit_env: str = "OPENSEARCH_JAVA_HOME",
    preference: tuple[int, ...] = _JDK_PREFERENCE,
    supported: tuple[int, int] = (_MIN_JDK, _MAX_JDK),
) -> Path:
    """The JDK to run the engine with.

    ``explicit_env`` (``OPENSEARCH_JAVA_HOME``) wins outright (explicit choice);
    then ``JAVA_HOME`` if it is a supported version; then /usr/lib/jvm, by ``preference``.
    """
    explicit = os.environ.get(explicit_env)
    if explicit:
        if not (Path(explicit) / "bin" / "java").is_file():
            raise OpenSearchStartError(f"{explicit_env}={explicit} has no bin/java")
        return Path(explicit)
    low, high = supported
    java_home = os.environ.get("JAVA_HOME")
    if java_home and _usable_jdk(Path(java_home), low, high):
        return Path(java_home)
    jvm_root = Path("/usr/lib/jvm")
    found = sorted(p for p in jvm_root.glob("*") if p.is_dir() and not p.is_symlink())
    usable = [p for p in found if _usable_jdk(p, low, high)]

    def rank(home: Path) -> int:
        major = _jdk_major(home)
        return preference.index(major) if major in preference else len(preference)

    if usable:
        return min(usable, key=rank)
    raise OpenSearchStartError(
        f"no JDK {low}-{high} found (set {explicit_env}); "
        f"looked at JAVA_HOME={java_home!r} and {[str(p) for p in found]}"
    )


def ensure_service_user(name: str = SERVICE_USER) -> pwd.struct_passwd:
    """The unprivileged account OpenSearch runs as when we are root."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    # Exit 9 = already exists: a parallel worker won the race, which is fine.
    if result.returncode not in (0, 9):
        raise OpenSearchStartError(f"useradd {name} failed: {result.stderr.strip()}")
    return pwd.getpwnam(name)


def _check_traversable(path: Path) -> None:
    # The service user reads the shared distribution as "other"; a 0700 parent
    # (e.g. a home directory) would make the JVM fail with a confusing error.
    for parent in [path, *path.parents]:
        if not parent.stat().st_mode & stat.S_IXOTH:
            raise OpenSearchStartError(
                f"{parent} is not world-traversable, so user {SERVICE_USER!r} cannot read "
                f"the distribution at {path}; move the cache (LOGSTREAM_CACHE_DIR) or chmod o+x"
            )


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            os.chown(Path(dirpath) / name, uid, gid, follow_symlinks=False)


def _die_with_parent_prefix() -> list[str]:
    # If the test runner is killed outright (SIGKILL, OOM), the kernel sends
    # SIGTERM to our direct child (runuser forwards it to the JVM) instead of
    # leaving a 512 MB JVM behind. setpriv (util-linux) sets that up and execs,
    # which avoids a preexec_fn in a process that already runs threads.
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


class OpenSearchServer(LocalService):
    """A real OpenSearch on 127.0.0.1; use as a context manager.

    ``url`` is ``http://127.0.0.1:<port>`` once started. Startup takes ~7-15 s.
    A subclass for another engine overrides the class attributes below.
    """

    PRODUCT: Product = OPENSEARCH
    DEFAULT_VERSION: str = DEFAULT_VERSION
    #: Prefix of the launcher's variables: OPENSEARCH_JAVA_HOME, OPENSEARCH_PATH_CONF...
    ENV_PREFIX: str = "OPENSEARCH"
    JDK_PREFERENCE: tuple[int, ...] = _JDK_PREFERENCE
    JDK_SUPPORTED: tuple[int, int] = (_MIN_JDK, _MAX_JDK)
    #: Settings this engine needs on a throwaway loopback node (before the caller's).
    ENGINE_SETTINGS: Mapping[str, str] = {}

    def __init__(
        self,
        *,
        version: str | None = None,
        distribution: Path | None = None,
        heap: str = DEFAULT_HEAP,
        startup_timeout: float = DEFAULT_STARTUP_TIMEOUT_S,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self._version = version or self.DEFAULT_VERSION
        self._distribution = distribution
        self._heap = heap
        self._startup_timeout = startup_timeout
        self._extra_settings = dict(settings or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._console: IO[bytes] | None = None
        self._launch_args: tuple[Path, Path, pwd.struct_passwd | None] | None = None
        self.http_port = 0
        self.transport_port = 0

    @property
    def url(self) -> str:
        if self._proc is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def workdir(self) -> Path:
        """Private dir with ``config``, ``data``, ``logs``, ``tmp`` (removed on stop)."""
        if self._workdir is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return self._workdir

    def start(self) -> Self:
        if self._proc is not None:
            return self
        dist = self._distribution or ensure_distribution(self._version, product=self.PRODUCT)
        java_home = find_java_home(
            f"{self.ENV_PREFIX}_JAVA_HOME", self.JDK_PREFERENCE, self.JDK_SUPPORTED
        )
        user = ensure_service_user() if os.geteuid() == 0 else None
        if user is not None:
            _check_traversable(dist)

        # Ports are picked then released, so another process can grab one in
        # between; a bind failure is retried with fresh ports.
        self._launch_args = (dist, java_home, user)
        for attempt in range(1, _START_ATTEMPTS + 1):
            self._launch(dist, java_home, user)
            try:
                self._wait_until_healthy()
            except OpenSearchStartError as exc:
                retry = attempt < _START_ATTEMPTS and bool(_BIND_FAILURE.search(self.log_tail(200)))
                logs = self.workdir / "logs"
                self.stop(keep_logs=not retry)
                if retry:
                    continue
                # The log tail may not show the root cause; keep the full logs for CI artifacts.
                raise OpenSearchStartError(f"{exc}\n(full server logs kept in {logs})") from None
            except BaseException:
                self.stop()
                raise
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def _launch(self, dist: Path, java_home: Path, user: pwd.struct_passwd | None) -> None:
        self.http_port = free_port()
        self.transport_port = free_port()
        work = Path(tempfile.mkdtemp(prefix=f"logstream-{self.PRODUCT.name}-"))
        self._workdir = work
        conf, data, logs, tmp = (work / n for n in ("config", "data", "logs", "tmp"))
        # A fresh keystore per run: a copied one could be password-protected.
        keystore = f"{self.PRODUCT.name}.keystore"
        shutil.copytree(dist / "config", conf, ignore=shutil.ignore_patterns(keystore))
        for d in (data, logs, tmp):
            d.mkdir()
        self._point_jvm_files_at(conf / "jvm.options", data, logs)
        if user is not None:
            _chown_tree(work, user.pw_uid, user.pw_gid)
        self._spawn(dist, java_home, user)

    def _spawn(self, dist: Path, java_home: Path, user: pwd.struct_passwd | None) -> None:
        """Run the node on this server's workdir and ports (a first start or a restart)."""
        work = self.workdir
        conf, data, logs, tmp = (work / n for n in ("config", "data", "logs", "tmp"))
        prefix = self.ENV_PREFIX
        env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            f"{prefix}_JAVA_HOME": str(java_home),
            f"{prefix}_PATH_CONF": str(conf),
            f"{prefix}_TMPDIR": str(tmp),
            f"{prefix}_JAVA_OPTS": f"-Xms{self._heap} -Xmx{self._heap}",
        }
        settings = {
            "cluster.name": "logstream-devstack",
            "node.name": f"devstack-{self.http_port}",
            "discovery.type": "single-node",
            "network.host": "127.0.0.1",
            "http.port": str(self.http_port),
            "transport.port": str(self.transport_port),
            "path.data": str(data),
            "path.logs": str(logs),
            # Dev disks are often >90% full; watermarks would block all writes.
            "cluster.routing.allocation.disk.threshold_enabled": "false",
            **self.ENGINE_SETTINGS,
            **self._extra_settings,
        }
        flags = [f"-E{key}={value}" for key, value in settings.items()]
        server_cmd = [str(dist / "bin" / self.PRODUCT.name), *flags]
        cmd = _die_with_parent_prefix()
        if user is not None:
            # env -i: runuser would otherwise pass root's whole environment through.
            runuser = shutil.which("runuser") or "/usr/sbin/runuser"
            cmd += [runuser, "-u", user.pw_name, "--", "env", "-i"]
            cmd += [f"{k}={v}" for k, v in env.items()] + server_cmd
            popen_env: dict[str, str] | None = None
        else:
            cmd += server_cmd
            popen_env = env

        if not (conf / ".prepared").exists():  # once per workdir: a restart keeps it
            self._prepare_config(dist, conf, env, user)
            (conf / ".prepared").touch()
        self._console = (logs / "console.log").open("ab")
        self._proc = subprocess.Popen(  # noqa: S603 - argv built above, no shell
            cmd,
            env=popen_env,
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=self._console,
            stderr=subprocess.STDOUT,
            # Own process group so stop() can signal runuser, the script and the JVM together.
            start_new_session=True,
        )

    def _prepare_config(
        self, dist: Path, conf: Path, env: Mapping[str, str], user: pwd.struct_passwd | None
    ) -> None:
        """A hook to finish ``conf`` before the server starts (users, keystore)."""

    def _health_headers(self) -> dict[str, str]:
        """Headers for the health probe (credentials where security is on)."""
        return {}

    @staticmethod
    def _point_jvm_files_at(jvm_options: Path, data: Path, logs: Path) -> None:
        # The stock file writes gc logs / heap dumps relative to the shared
        # distribution directory; redirect them into this server's workdir.
        text = jvm_options.read_text(encoding="utf-8")
        text = text.replace("file=logs/", f"file={logs}/")
        text = text.replace("-Xloggc:logs/", f"-Xloggc:{logs}/")
        text = text.replace("-XX:ErrorFile=logs/", f"-XX:ErrorFile={logs}/")
        text = text.replace("-XX:HeapDumpPath=data", f"-XX:HeapDumpPath={data}")
        jvm_options.write_text(text, encoding="utf-8")

    def _wait_until_healthy(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self._startup_timeout
        health = f"{self.url}/_cluster/health?wait_for_status=yellow&timeout=1s"
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            code = self._proc.poll()
            if code is not None:
                raise OpenSearchStartError(
                    f"{self.PRODUCT.name} exited with code {code} during startup.\n"
                    f"--- server log tail ---\n{self.log_tail()}"
                )
            try:
                request = urllib.request.Request(health, headers=self._health_headers())  # noqa: S310
                with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310 - our own loopback URL
                    status = json.load(resp).get("status")
                if status in ("yellow", "green"):
                    return
                last_error = f"cluster status {status}"
            except urllib.error.HTTPError as exc:
                # 408 = health wait timed out: HTTP is up but not yellow yet.
                last_error = f"HTTP {exc.code}"
            except (OSError, ValueError) as exc:
                last_error = repr(exc)
            time.sleep(0.25)
        raise OpenSearchStartError(
            f"{self.PRODUCT.name} at {self.url} not healthy after {self._startup_timeout:.0f}s "
            f"(last: {last_error}).\n--- server log tail ---\n{self.log_tail()}"
        )

    def kill(self) -> None:
        """SIGKILL the node, as a crash would: no shutdown, no flush.

        The workdir (data, translog, logs) and the ports are kept, so
        :meth:`restart` brings the same node back on the same URL.
        """
        proc = self._proc
        if proc is None:
            raise RuntimeError("OpenSearchServer is not running")
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait()
        # The leader is reaped; the JVM under it may still hold the ports for a moment.
        gone_by = time.monotonic() + _STOP_GRACE_S
        while _group_alive(proc.pid) and time.monotonic() < gone_by:
            time.sleep(0.05)
        if self._console is not None:
            self._console.close()
            self._console = None

    def restart(self) -> Self:
        """Start a killed node again on its own data and ports; wait until it is healthy.

        Call it from a thread that outlives the node (the main thread): the node
        is started with a parent-death signal, which fires when the starting
        *thread* ends.
        """
        if self._proc is None or self._launch_args is None:
            raise RuntimeError("OpenSearchServer was never started")
        if self._proc.poll() is None:
            raise RuntimeError("OpenSearchServer is still running; kill() it first")
        self._spawn(*self._launch_args)
        self._wait_until_healthy()
        return self

    def log_tail(self, lines: int = 60) -> str:
        """Last lines of the server's console output (stdout + stderr)."""
        if self._workdir is None:
            return "(no log: server not started)"
        try:
            raw = (self._workdir / "logs" / "console.log").read_bytes()
        except OSError as exc:
            return f"(log unreadable: {exc})"
        return "\n".join(raw.decode("utf-8", errors="replace").splitlines()[-lines:])

    def stop(self, *, keep_logs: bool = False) -> None:
        """SIGTERM the process group, SIGKILL after a grace period, delete the workdir.

        ``keep_logs`` leaves ``workdir/logs`` in place (used when startup fails).
        """
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.poll() is None:
                _signal_group(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=_STOP_GRACE_S)
                except subprocess.TimeoutExpired:
                    _signal_group(proc.pid, signal.SIGKILL)
                    proc.wait()
            # The leader exiting does not prove the JVM did; sweep the group.
            _signal_group(proc.pid, signal.SIGKILL)
        if self._console is not None:
            self._console.close()
            self._console = None
        work, self._workdir = self._workdir, None
        if work is not None:
            doomed = [p for p in work.iterdir() if p.name != "logs"] if keep_logs else [work]
            for path in doomed:
                shutil.rmtree(path, ignore_errors=True)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # group already gone
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
