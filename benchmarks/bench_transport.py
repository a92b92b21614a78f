"""The decoder end to end against a raw-bytes ``_bulk`` ceiling, in one run; request sizing.

Three kinds of round, each a fresh subprocess, taking turns (the order rotates
every round, so the machine's noise falls on every side):

- ``before``: the decoder handler of ``--before REF`` (default ``db9332c``, the
  opensearch-py / requests ``_bulk`` path before the lean transport), from a
  ``git worktree`` of it;
- ``after``: the decoder handler of the working tree;
- ``ceiling``: the same payloads' gzip ``_bulk`` bodies, built beforehand by the
  working tree's production path (so exactly the bodies logstream sends), posted
  by MAX_IN_FLIGHT plain keep-alive ``http.client`` threads, each waiting for its
  answer. No logstream code is on the timed path.

Handler rounds: one warm-up invocation (imports, templates, index creation, the
keep-alive connections), then ``--invocations`` measured ones with fresh event
ids: wall seconds from the call to the return (every ``_bulk`` acknowledged)
and process CPU seconds (``time.process_time``: all threads). The ceiling
round first runs one working-tree invocation into its own INDEX_PREFIX (so the
templates and index exist, as for the handler), posts one warm-up payload's
bodies, then times each measured payload's bodies the same way.

Reported: docs/s end to end, and its ratio to the ceiling per round; client CPU
per 1,000 ``_bulk`` requests, and its ratio to the ceiling per round; billed
milliseconds per 10,000 events and the Lambda cost per GB of raw log data that
follows from them (``--price-*``, ``--memory-mb``). Medians (min..max).

``--paired`` (working tree only): each round is one subprocess running the
handler and its ceiling in turns, one invocation apart, so both sides see the
same load on a busy machine (:func:`paired_round`).

``--refresh-interval 30s``: each round's indices refresh every 30 s after the
warm-up instead of every second, so the cluster's own refreshes and merges
stop swinging the invocations of either side (see benchmarks/README.md).
When the cluster runs on this machine, its JVM's CPU is read around every
invocation too (:class:`ClusterCpu`).

``--sweep``: instead, the working tree's handler alone at each BATCH_SIZE x
BATCH_MAX_BYTES of ``--sizes`` x ``--max-bytes``, rounds rotating over them.
Nothing is asserted.

    PYTHONPATH=layers/common:. python -m benchmarks.bench_transport [--rounds 5]
    PYTHONPATH=layers/common:. python -m benchmarks.bench_transport --sweep [--rounds 3]
    PYTHONPATH=layers/common:. python -m benchmarks.bench_transport --paired --before '' \\
        --refresh-interval 30s [--pin]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import http.client
import json
import math
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from textwrap import shorten
from typing import Any, cast
from urllib.parse import urlsplit

from benchmarks import ROOT
from benchmarks._common import RESULTS_DIR, Spread, machine_header, table, write_result
from benchmarks.bench_invocation import (
    URL_ENV,
    Handler,
    delete_run_data,
    function_env,
    git,
    http_json,
    load_handler,
    opensearch,
    payload,
    run_worker,
    worktree_of,
)
from devstack.lambda_context import FakeLambdaContext

MODULE = "benchmarks.bench_transport"
DEFAULT_BEFORE = "db9332c"
PER = 10_000
FILTER = "took,errors,items.*.status,items.*.error"  # what logstream asks for
#: AWS Lambda list prices, arm64, us-east-1 (first pricing tier).
PRICE_GB_SECOND = 0.0000133334
PRICE_PER_MILLION_REQUESTS = 0.20
MIB = 1024 * 1024


@dataclass(slots=True)
class RoundResult:
    side: str
    wall: list[float] = field(default_factory=list)  # seconds per invocation
    cpu: list[float] = field(default_factory=list)  # process CPU seconds per invocation
    requests: list[int] = field(default_factory=list)  # _bulk requests per invocation
    events: int = 0
    #: thread CPU seconds spent inside ``_bulk`` posts (headers, signing, connection,
    #: send, receive, parse), summed over the sending threads of one invocation
    send_cpu: list[float] = field(default_factory=list)
    raw_bytes: int = 0  # message bytes (UTF-8) per invocation's payload
    body_bytes: int = 0  # gzip bytes posted per invocation
    #: seconds from the start of an invocation to its first ``_bulk`` request (the
    #: handler decodes and builds before it; the ceiling's bodies are ready)
    first_request: list[float] = field(default_factory=list)
    #: seconds from the last ``_bulk`` answer to the return (the handler settles,
    #: emits metrics and returns; the ceiling joins its threads)
    after_last_answer: list[float] = field(default_factory=list)
    #: CPU seconds the local cluster's JVM (every thread) spent during the invocation
    cluster_cpu: list[float] = field(default_factory=list)

    def add(
        self,
        *,
        wall: float,
        cpu: float,
        send_cpu: float,
        requests: int,
        body_bytes: int,
        first_request: float,
        after_last_answer: float,
        cluster_cpu: float | None,
    ) -> None:
        """One measured invocation (``cluster_cpu`` None: the cluster is not local)."""
        self.wall.append(wall)
        self.cpu.append(cpu)
        self.send_cpu.append(send_cpu)
        self.requests.append(requests)
        self.body_bytes = body_bytes
        self.first_request.append(first_request)
        self.after_last_answer.append(after_last_answer)
        if cluster_cpu is not None:
            self.cluster_cpu.append(cluster_cpu)


# --------------------------------------------------------------------------- workers


def message_bytes(event: dict[str, Any]) -> int:
    import base64  # noqa: PLC0415
    import gzip  # noqa: PLC0415

    data = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    return sum(len(e["message"].encode()) for e in data["logEvents"])


class ClusterCpu:
    """CPU seconds of the local cluster's JVM, all threads, read from ``/proc`` (Linux).

    Each thread's ``schedstat`` gives its time on a CPU in nanoseconds; the JVM's
    own ``stat`` counts in clock ticks (10 ms), too coarse for one invocation.
    Read outside the timed window: it costs about a millisecond for ~100 threads.
    """

    def __init__(self) -> None:
        self.pid = 0

    def read(self) -> float | None:
        """The JVM's CPU seconds so far; None when its pid is unknown or not local."""
        if not self.pid:
            return None
        total = 0
        try:
            tasks = list(Path(f"/proc/{self.pid}/task").iterdir())
        except OSError:
            return None
        for task in tasks:
            with contextlib.suppress(OSError):  # a thread may end between list and read
                total += int((task / "schedstat").read_text().split()[0])
        return total / 1e9


CLUSTER_CPU = ClusterCpu()


def cluster_pid(url: str) -> int:
    """The process id of the one-node cluster at ``url``, 0 if it does not run here."""
    nodes = http_json("GET", url.rstrip("/") + "/_nodes/_local/process")["nodes"]
    pid = int(next(iter(nodes.values()))["process"]["id"])
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return 0
    # A remote cluster's pid may belong to some other process here.
    return pid if b"org.opensearch." in command or b"org.elasticsearch." in command else 0


def quiet_refresh(url: str, interval: str) -> None:
    """Set this round's indices' ``refresh_interval`` ('' leaves the cluster's default).

    Called after the warm-up created them. A refresh every second writes a
    segment and starts merges on the cluster's cores: on a one-core cluster
    about a third of the invocations, of either side, took twice as long.
    """
    if interval:
        pattern = os.environ["INDEX_PREFIX"] + "-*"
        http_json(
            "PUT",
            f"{url.rstrip('/')}/{pattern}/_settings",
            {"index": {"refresh_interval": interval}},
        )


def handler_round(
    tree: Path, url: str, side: str, events: int, invocations: int, *, refresh: str
) -> RoundResult:
    import logstream  # noqa: PLC0415 - whichever tree PYTHONPATH put first

    where = Path(logstream.__file__).resolve()
    if not where.is_relative_to(tree):
        raise SystemExit(f"logstream came from {where}, not from {tree}: check PYTHONPATH")
    deliveries = [payload(n, events) for n in range(invocations + 1)]
    result = RoundResult(side, events=events, raw_bytes=message_bytes(deliveries[1]))
    handler = load_handler(tree)
    for number, event in enumerate(deliveries):
        time_handler(handler, event, events, into=result if number else None)
        if not number:
            quiet_refresh(url, refresh)
    return result


def time_handler(
    handler: Handler, event: dict[str, Any], events: int, *, into: RoundResult | None
) -> None:
    """One handler invocation, measured into ``into`` (None: a warm-up)."""
    send_cpu = SEND_CPU.install()
    gc.collect()
    send_cpu.clear()
    SEND_CPU.clear_times()
    cluster = CLUSTER_CPU.read()
    cpu, wall = time.process_time(), time.perf_counter()
    report = handler(event, FakeLambdaContext())
    first_request, after_last_answer = SEND_CPU.first_and_last(wall, time.perf_counter())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    cluster_cpu = _since(cluster, CLUSTER_CPU.read())
    if report.get("delivered") != events:
        raise SystemExit(f"an invocation did not deliver every event: {report}")
    if into is not None:
        into.add(
            wall=wall,
            cpu=cpu,
            send_cpu=sum(send_cpu),
            requests=int(report["requests"]),
            body_bytes=int(report.get("bytes_sent", 0)),
            first_request=first_request,
            after_last_answer=after_last_answer,
            cluster_cpu=cluster_cpu,
        )


def _since(before: float | None, now: float | None) -> float | None:
    return None if before is None or now is None else now - before


class SendCpu:
    """Thread CPU of every ``_bulk`` post, as it happens, in the threads that send.

    Wraps the transport's post in the benchmark's process (instrumentation
    only: the call is unchanged): ``BulkTransport.post`` in trees that have
    the lean transport, opensearch-py's ``Transport.perform_request`` for
    ``_bulk`` URLs in older ones. The HTTP path's CPU is read where it is
    spent, not estimated by subtracting a separately measured build.
    """

    def __init__(self) -> None:
        self._seconds: list[float] = []
        #: ``time.perf_counter`` at the start and at the end of each post
        self.starts: list[float] = []
        self.ends: list[float] = []
        self._installed = False

    def install(self) -> list[float]:
        if not self._installed:
            try:
                from logstream.cluster import bulk_transport  # noqa: PLC0415
            except ImportError:
                self._wrap_opensearch_py()
            else:
                owner: Any = bulk_transport.BulkTransport
                owner.post = self._timed(owner.post, lambda *_: True)
            self._installed = True
        return self._seconds

    def _wrap_opensearch_py(self) -> None:
        from opensearchpy import transport  # noqa: PLC0415

        owner: Any = transport.Transport
        owner.perform_request = self._timed(
            owner.perform_request, lambda _self, _method, url, *_, **__: "_bulk" in url
        )

    def _timed(self, call: Any, counts: Callable[..., bool]) -> Any:
        seconds, starts, ends = self._seconds, self.starts, self.ends

        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, started = time.perf_counter(), time.thread_time()
            try:
                return call(*args, **kwargs)
            finally:
                if counts(*args, **kwargs):
                    seconds.append(time.thread_time() - started)
                    starts.append(wall)
                    ends.append(time.perf_counter())

        return timed

    def clear_times(self) -> None:
        self.starts.clear()
        self.ends.clear()

    def first_and_last(self, called: float, returned: float) -> tuple[float, float]:
        """Seconds from the call to the first post, and from the last answer to the return."""
        return (
            min(self.starts, default=called) - called,
            returned - max(self.ends, default=returned),
        )


SEND_CPU = SendCpu()


def production_bodies(data: str) -> list[bytes]:
    """Exactly the gzip bodies the working tree's decoder sends for one payload."""
    from logstream.settings import load_settings  # noqa: PLC0415
    from logstream.shipping import bulk, documents  # noqa: PLC0415
    from logstream.shipping.payload import decode_payload  # noqa: PLC0415

    settings = load_settings()
    batch = decode_payload(data)
    origin = documents.EventOrigin(
        batch.log_group, batch.log_stream, batch.owner, settings.aws_region
    )
    built = documents.build_documents(batch.events, origin, settings.index_prefix)
    # Split as the decoder's stream splits it: equal parts, each within the bounds.
    part = bulk.balanced_part_size(
        len(built.documents), settings.max_in_flight, settings.batch_size
    )
    parts = [built.documents[i : i + part] for i in range(0, len(built.documents), part)]
    return [
        bulk.gzip_body(bulk.encode_bulk_body(chunk), settings.gzip_level)
        for each in parts
        for chunk in bulk.chunk_documents(each, settings.batch_size, settings.batch_max_bytes)
    ]


class PlainThreads:
    """MAX_IN_FLIGHT threads, each with one keep-alive connection, posting bodies in turn."""

    def __init__(self, url: str, threads: int) -> None:
        parts = urlsplit(url)
        self._path = parts.path.rstrip("/") + "/_bulk?filter_path=" + FILTER
        self._connections = [
            http.client.HTTPConnection(parts.hostname or "localhost", parts.port or 80, timeout=60)
            for _ in range(threads)
        ]
        self._headers = {
            "Content-Type": "application/x-ndjson",
            "Content-Encoding": "gzip",
            "Accept": "application/json",
        }

    def post_all(self, bodies: Sequence[bytes]) -> tuple[float, float, float]:
        """Posts every body; the thread CPU seconds spent in the posts, the seconds
        from the call to the first request and from the last answer to the return."""
        called = time.perf_counter()
        starts: list[float] = []
        ends: list[float] = []
        lock = threading.Lock()
        position = iter(range(len(bodies)))
        failures: list[str] = []
        send_cpu: list[float] = []

        def work(connection: http.client.HTTPConnection) -> None:
            while True:
                with lock:
                    index = next(position, None)
                if index is None:
                    return
                starts.append(time.perf_counter())
                started = time.thread_time()
                connection.request("POST", self._path, bodies[index], self._headers)
                response = connection.getresponse()
                answer = response.read()
                send_cpu.append(time.thread_time() - started)
                ends.append(time.perf_counter())
                if response.status != 200 or not answer.startswith(b'{"took"'):
                    failures.append(f"{response.status} {answer[:200]!r}")
                elif b'"errors":false' not in answer[:40]:
                    failures.append(f"item errors {answer[:200]!r}")

        threads = [threading.Thread(target=work, args=(c,)) for c in self._connections]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise SystemExit(f"ceiling request failed: {failures[0]}")
        returned = time.perf_counter()
        return (
            sum(send_cpu),
            min(starts, default=called) - called,
            returned - max(ends, default=returned),
        )


def ceiling_round(
    tree: Path, url: str, events: int, invocations: int, *, refresh: str
) -> RoundResult:
    deliveries = [payload(n, events) for n in range(invocations + 2)]
    handler = load_handler(tree)  # only to create the templates and index, as the handler does
    handler(deliveries[0], FakeLambdaContext())
    quiet_refresh(url, refresh)
    from logstream.settings import load_settings  # noqa: PLC0415

    poster = PlainThreads(url, load_settings().max_in_flight)
    bodies = [production_bodies(d["awslogs"]["data"]) for d in deliveries[1:]]
    result = RoundResult("ceiling", events=events, raw_bytes=message_bytes(deliveries[2]))
    for number, batch in enumerate(bodies):
        # The first posts warm the connections up.
        time_ceiling(poster, batch, into=result if number else None)
    return result


def time_ceiling(poster: PlainThreads, bodies: list[bytes], *, into: RoundResult | None) -> None:
    """One payload's bodies posted, measured into ``into`` (None: a warm-up)."""
    gc.collect()
    cluster = CLUSTER_CPU.read()
    cpu, wall = time.process_time(), time.perf_counter()
    sending, first_request, after_last_answer = poster.post_all(bodies)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    cluster_cpu = _since(cluster, CLUSTER_CPU.read())
    if into is not None:
        into.add(
            wall=wall,
            cpu=cpu,
            send_cpu=sending,
            requests=len(bodies),
            body_bytes=sum(len(b) for b in bodies),
            first_request=first_request,
            after_last_answer=after_last_answer,
            cluster_cpu=cluster_cpu,
        )


def paired_round(
    tree: Path, url: str, events: int, invocations: int, *, refresh: str
) -> list[RoundResult]:
    """The handler and the ceiling in one process, taking turns invocation by invocation.

    A busy machine's load changes within seconds; measured side by side, one
    invocation apart, both sides see the same load. Each side gets its own fresh
    payloads; the ceiling's bodies are built beforehand, as in :func:`ceiling_round`.
    """
    import logstream  # noqa: PLC0415 - whichever tree PYTHONPATH put first
    from logstream.settings import load_settings  # noqa: PLC0415

    where = Path(logstream.__file__).resolve()
    if not where.is_relative_to(tree):
        raise SystemExit(f"logstream came from {where}, not from {tree}: check PYTHONPATH")
    deliveries = [payload(n, events) for n in range(2 * invocations + 2)]
    handler = load_handler(tree)
    poster = PlainThreads(url, load_settings().max_in_flight)
    # Payloads are numbered in the order of the calls, so every call writes the newest
    # event ids, as the live decoder does (an id starts with the event time). A side
    # writing ids below those just indexed pays for slower `_id` checks on `create`.
    handler_first = [number % 2 == 1 or number == 0 for number in range(invocations + 1)]
    mine = [deliveries[2 * n + (0 if first else 1)] for n, first in enumerate(handler_first)]
    theirs = [deliveries[2 * n + (1 if first else 0)] for n, first in enumerate(handler_first)]
    bodies = [production_bodies(d["awslogs"]["data"]) for d in theirs]
    after = RoundResult("after", events=events, raw_bytes=message_bytes(mine[1]))
    ceiling = RoundResult("ceiling", events=events, raw_bytes=message_bytes(theirs[1]))
    # Warm-up (templates, index, connections), then pairs, the first of each pair alternating.
    time_handler(handler, mine[0], events, into=None)
    quiet_refresh(url, refresh)
    time_ceiling(poster, bodies[0], into=None)
    for number in range(1, invocations + 1):
        if handler_first[number]:
            time_handler(handler, mine[number], events, into=after)
            time_ceiling(poster, bodies[number], into=ceiling)
        else:
            time_ceiling(poster, bodies[number], into=ceiling)
            time_handler(handler, mine[number], events, into=after)
    return [after, ceiling]


#: ``--pin``: the cluster's core, and the benchmark's (the client's) own.
CLUSTER_CORE, CLIENT_CORE = 0, 1


def pin_cluster(url: str, cores: set[int]) -> int:
    """Every thread of the local cluster's JVM onto ``cores``; its process id.

    Threads the JVM starts later inherit the affinity of the thread that starts them.
    """
    pid = cluster_pid(url)
    if not pid:
        raise SystemExit(f"--pin needs the cluster on this machine; {url} is not")
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), cores)
    return pid


def worker_main(args: argparse.Namespace) -> None:
    tree = Path(args.tree).resolve()
    if args.pin:
        os.sched_setaffinity(0, {CLIENT_CORE})  # before any thread starts: they inherit it
    CLUSTER_CPU.pid = cluster_pid(args.url)
    if args.side == "paired":
        pair = paired_round(
            tree, args.url, args.events, args.invocations, refresh=args.refresh_interval
        )
        Path(args.result).write_text(json.dumps([asdict(r) for r in pair]), encoding="utf-8")
        return
    if args.side == "ceiling":
        result = ceiling_round(
            tree, args.url, args.events, args.invocations, refresh=args.refresh_interval
        )
    else:
        result = handler_round(
            tree, args.url, args.side, args.events, args.invocations, refresh=args.refresh_interval
        )
    Path(args.result).write_text(json.dumps(asdict(result)), encoding="utf-8")


# --------------------------------------------------------------------------- sides


@dataclass(slots=True)
class Side:
    name: str
    tree: Path
    label: str
    env: dict[str, str] = field(default_factory=dict)
    #: the name of the ceiling side it is compared with (same request sizing)
    partner: str = "ceiling"
    rounds: list[RoundResult] = field(default_factory=list)

    @property
    def is_ceiling(self) -> bool:
        return self.name.startswith("ceiling")

    def pooled(self, pick: Callable[[RoundResult], list[float]]) -> Spread:
        return Spread.of([v for r in self.rounds for v in pick(r)])

    def per_round(self, pick: Callable[[RoundResult], list[float]]) -> list[float]:
        return [Spread.of(pick(r)).median for r in self.rounds]


def docs_per_second(r: RoundResult) -> list[float]:
    return [r.events / w for w in r.wall]


def cpu_per_thousand_requests(r: RoundResult) -> list[float]:
    return [c / n * 1000 for c, n in zip(r.cpu, r.requests, strict=True)]


def http_cpu_per_thousand_requests(r: RoundResult) -> list[float]:
    """Thread CPU inside the ``_bulk`` posts (the HTTP path), per 1,000 requests."""
    return [c / n * 1000 for c, n in zip(r.send_cpu, r.requests, strict=True)]


def wall_ms_per_ten_thousand(r: RoundResult) -> list[float]:
    return [w * 1e3 * PER / r.events for w in r.wall]


def cpu_ms_per_ten_thousand(r: RoundResult) -> list[float]:
    return [c * 1e3 * PER / r.events for c in r.cpu]


def first_request_ms(r: RoundResult) -> list[float]:
    return [f * 1e3 for f in r.first_request]


def after_last_answer_ms(r: RoundResult) -> list[float]:
    return [a * 1e3 for a in r.after_last_answer]


def cluster_cpu_ms_per_ten_thousand(r: RoundResult) -> list[float]:
    return [c * 1e3 * PER / r.events for c in r.cluster_cpu]


def all_cpu_ms_per_ten_thousand(r: RoundResult) -> list[float]:
    """Client and cluster CPU together, per 10,000 events."""
    return [(c + k) * 1e3 * PER / r.events for c, k in zip(r.cpu, r.cluster_cpu, strict=True)]


def cores_busy(r: RoundResult) -> list[float]:
    """Client and cluster CPU seconds per wall second: the cores the invocation kept busy."""
    return [(c + k) / w for c, k, w in zip(r.cpu, r.cluster_cpu, r.wall, strict=True)]


def docs_per_second_once_sending(r: RoundResult) -> list[float]:
    """Events / the wall time from the first ``_bulk`` request to the return."""
    return [r.events / (w - f) for w, f in zip(r.wall, r.first_request, strict=True)]


def run_side(
    side: Side,
    args: argparse.Namespace,
    url: str,
    prefix: str,
    workdir: Path,
    *,
    partner: Side | None = None,
) -> None:
    """One round of ``side``; with ``--paired``, also its ``partner`` ceiling's round."""
    result_file = workdir / f"{prefix}.json"
    env = {
        **{k: v for k, v in os.environ.items() if k != "STATE_TABLE"},
        **function_env(url, prefix),
        **side.env,
        "PYTHONPATH": os.pathsep.join([str(side.tree / "layers" / "common"), str(ROOT)]),
    }
    command = [
        sys.executable,
        "-m",
        MODULE,
        "--worker",
        "--side",
        "paired" if args.paired else "ceiling" if side.is_ceiling else side.name,
        "--tree",
        str(side.tree),
        "--url",
        url,
        "--result",
        str(result_file),
        "--events",
        str(args.events),
        "--invocations",
        str(args.invocations),
        *(["--pin"] if args.pin else []),
        *(["--refresh-interval", args.refresh_interval] if args.refresh_interval else []),
    ]
    result = run_worker(command, env, side.name, result_file)
    if partner is not None:
        after, ceiling = (RoundResult(**r) for r in cast("list[dict[str, Any]]", result))
        side.rounds.append(after)
        partner.rounds.append(ceiling)
    else:
        side.rounds.append(RoundResult(**result))


def per_round_ratio(top: Side, bottom: Side, pick: Callable[[RoundResult], list[float]]) -> Spread:
    pairs = zip(top.per_round(pick), bottom.per_round(pick), strict=True)
    return Spread.of([a / b for a, b in pairs])


def ratio_cell(
    side: Side,
    by_name: dict[str, Side],
    pick: Callable[[RoundResult], list[float]],
    digits: str = ".3f",
    *,
    less_is_faster: bool = False,
) -> str:
    """A table cell: ``side`` over its ceiling per round ("1" for a ceiling itself).

    ``less_is_faster`` (CPU totals): the ceiling's over this side's, so that
    above 1 still means faster than the ceiling.
    """
    if side.is_ceiling:
        return "1"
    partner = by_name[side.partner]
    top, bottom = (partner, side) if less_is_faster else (side, partner)
    return per_round_ratio(top, bottom, pick).text(digits)


# --------------------------------------------------------------------------- report


def billed_ms(wall_ms: float) -> int:
    """Lambda bills the handler's wall time rounded up to the next millisecond."""
    return math.ceil(wall_ms)


def cost_per_gb(billed: float, raw_bytes: int, memory_mb: int) -> float:
    """USD per GB (10^9 bytes) of raw log data: one invocation per ``raw_bytes``."""
    per_invocation = (
        billed / 1e3 * memory_mb / 1024 * PRICE_GB_SECOND + PRICE_PER_MILLION_REQUESTS / 1e6
    )
    return per_invocation * 1e9 / raw_bytes


def comparison_report(sides: Sequence[Side], args: argparse.Namespace) -> list[str]:
    by_name = {s.name: s for s in sides}
    ceiling = by_name["ceiling"]
    rows = [
        [
            side.label,
            side.pooled(docs_per_second).text(",.0f"),
            ratio_cell(side, by_name, docs_per_second),
            side.pooled(cpu_per_thousand_requests).text(".2f"),
            ratio_cell(side, by_name, cpu_per_thousand_requests, ".2f"),
            side.pooled(http_cpu_per_thousand_requests).text(".2f"),
            ratio_cell(side, by_name, http_cpu_per_thousand_requests, ".2f"),
            side.pooled(cpu_ms_per_ten_thousand).text(",.0f"),
            side.pooled(wall_ms_per_ten_thousand).text(",.0f"),
            f"{Spread.of([n for r in side.rounds for n in r.requests]).median:,.0f}",
        ]
        for side in sides
    ]
    lines = [
        "## Headline: end to end against the raw-bytes ceiling",
        "",
        table(
            [
                "mode",
                "docs/s end to end",
                "÷ ceiling, per round",
                "client CPU s per 1,000 requests",
                "÷ ceiling, per round",
                "of which HTTP path (in the sending threads)",
                "÷ ceiling, per round",
                f"CPU ms per {PER:,} events",
                f"wall ms per {PER:,} events",
                "requests per invocation",
            ],
            rows,
        ),
        "",
        "docs/s = events of one invocation / its wall time (decode through the last "
        "acknowledged `_bulk` for the handler; the posts alone for the ceiling, whose bodies "
        "were built beforehand). Client CPU = process CPU time (all threads) of the "
        "invocation / its `_bulk` requests x 1,000. Ratios are taken per round (each round's "
        "median over its ceiling's round next to it: the ceiling with the same request sizing), "
        "then the median (min..max) of those. "
        "HTTP path = the thread CPU spent inside the `_bulk` posts, read in the threads that "
        "send (`time.thread_time` around the transport's `post` for the handler: headers, "
        "connection, send, receive, JSON parse of the answer; around request + read for the "
        "ceiling); body building (decode -> documents -> NDJSON -> gzip) is not in it.",
        "",
    ]
    after = by_name.get("after")
    if after is not None:
        rate = per_round_ratio(after, ceiling, docs_per_second).median
        cpu = per_round_ratio(after, ceiling, cpu_per_thousand_requests).median
        http = per_round_ratio(after, ceiling, http_cpu_per_thousand_requests).median
        lines += [
            "Issue 14's bars: end to end at least 0.9 of the ceiling: "
            f"**{rate:.3f}, {'MET' if rate >= 0.9 else 'NOT MET'}**; client CPU per 1,000 "
            f"requests at most 1.5x the plain threads: **{cpu:.2f}x, "
            f"{'MET' if cpu <= 1.5 else 'NOT MET'}** counting the whole invocation (decode "
            f"included), **{http:.2f}x, {'MET' if http <= 1.5 else 'NOT MET'}** for the HTTP "
            "path alone.",
            "",
        ]
        lines += cost_lines(sides, args)
    if all(len(r.after_last_answer) == len(r.wall) for s in sides for r in s.rounds):
        lines += first_and_last_lines(sides)
    if all(len(r.cluster_cpu) == len(r.wall) for s in sides for r in s.rounds):
        lines += cpu_budget_lines(sides, args)
    lines += ["## Per round", "", round_table(sides)]
    return lines


def first_and_last_lines(sides: Sequence[Side]) -> list[str]:
    """Where the end-to-end gap is: before the first request, after the last answer, between."""
    by_name = {s.name: s for s in sides}
    rows = [
        [
            side.label,
            side.pooled(first_request_ms).text(",.1f"),
            side.pooled(after_last_answer_ms).text(",.1f"),
            side.pooled(docs_per_second_once_sending).text(",.0f"),
            ratio_cell(side, by_name, docs_per_second_once_sending),
        ]
        for side in sides
    ]
    return [
        "## Before the first request, after the last answer",
        "",
        table(
            [
                "mode",
                "first `_bulk` request leaves after, ms",
                "return after the last answer, ms",
                "docs/s from the first request to the return",
                "÷ ceiling, per round",
            ],
            rows,
        ),
        "",
        "The handler cannot send before it has decoded the payload and built its first "
        "part; the ceiling's bodies are ready when its clock starts. The first column is "
        "that wait (from the call to the start of the first `_bulk` post); the second is "
        "the time from the last answer to the return (the handler settles, emits its "
        "metrics and returns); the others measure each invocation from its first request "
        "to its return.",
        "",
    ]


def cpu_budget_lines(sides: Sequence[Side], args: argparse.Namespace) -> list[str]:
    """Where the CPU goes, the cluster's included, and what it allows on shared cores."""
    by_name = {s.name: s for s in sides}
    rows = [
        [
            side.label,
            side.pooled(cpu_ms_per_ten_thousand).text(",.0f"),
            side.pooled(cluster_cpu_ms_per_ten_thousand).text(",.0f"),
            side.pooled(all_cpu_ms_per_ten_thousand).text(",.0f"),
            side.pooled(wall_ms_per_ten_thousand).text(",.0f"),
            side.pooled(cores_busy).text(".2f"),
            ratio_cell(side, by_name, all_cpu_ms_per_ten_thousand, less_is_faster=True),
        ]
        for side in sides
    ]
    cores = len(os.sched_getaffinity(0))
    where = (
        f"Here the cluster has core {CLUSTER_CORE} and the client core {CLIENT_CORE}: "
        "neither takes CPU from the other, and the last column limits nothing."
        if args.pin
        else f"Here the client and the cluster share the same {cores} cores."
    )
    return [
        "## Where the CPU goes",
        "",
        table(
            [
                "mode",
                f"client CPU ms per {PER:,} events",
                "cluster CPU ms (the JVM, every thread)",
                "both",
                "wall ms",
                "cores kept busy (both / wall)",
                "ceiling's CPU ÷ this side's, per round",
            ],
            rows,
        ),
        "",
        "The cluster's CPU is read from `/proc/<pid>/task/*/schedstat` of the local JVM "
        "around each invocation. On cores that the client and the cluster share, "
        "whatever CPU the client spends is taken from the cluster: keeping the cores as "
        "busy as the ceiling does, the handler reaches the ratio in the last column, and "
        f"more only by keeping them busier than the ceiling. {where}",
        "",
    ]


#: Lambda gives a function one full vCPU at 1,769 MB, and CPU in proportion to memory below it.
FULL_VCPU_MB = 1769


def cost_lines(sides: Sequence[Side], args: argparse.Namespace) -> list[str]:
    by_name = {s.name: s for s in sides}
    after = by_name["after"]
    raw = after.rounds[0].raw_bytes * PER // after.rounds[0].events
    share = min(1.0, args.memory_mb / FULL_VCPU_MB)
    rows = []
    for side in sides:
        wall = side.pooled(wall_ms_per_ten_thousand)
        billed = billed_ms(wall.median)
        low, high = (cost_per_gb(billed_ms(x), raw, args.memory_mb) for x in (wall.low, wall.high))
        cpu = side.pooled(cpu_ms_per_ten_thousand).median
        cpu_bound = billed_ms(cpu / share)
        rows.append(
            [
                side.label,
                f"**{billed:,}** ({billed_ms(wall.low):,}..{billed_ms(wall.high):,})",
                f"**${cost_per_gb(billed, raw, args.memory_mb):.4f}** (${low:.4f}..${high:.4f})",
                ratio_cell(side, by_name, docs_per_second),
                f"{cpu:,.0f} -> {cpu_bound:,} ms, "
                f"${cost_per_gb(cpu_bound, raw, args.memory_mb):.4f}",
            ]
        )
    return [
        "## Cost",
        "",
        f"Raw log data per {PER:,} events of the mix: **{raw:,} bytes** ({raw / MIB:.2f} MiB; "
        "the UTF-8 bytes of the messages).",
        "",
        table(
            [
                "mode",
                f"billed ms per {PER:,} events (wall, rounded up)",
                f"Lambda $ per GB of raw log data (arm64, {args.memory_mb} MB)",
                "docs/s ÷ ceiling, per round",
                f"client CPU ms per {PER:,} -> floor on a {args.memory_mb} MB function",
            ],
            rows,
        ),
        "",
        "How wall time maps to billed duration: Lambda bills the handler's wall time from "
        "invoke to return, rounded up to the next 1 ms (plus the init phase on a cold start, "
        "not counted here: one container serves many deliveries). The handler returns once "
        "every `_bulk` request is acknowledged, so the wall time measured around the handler "
        "call, per delivery of 10,000 events, is the billed duration of that delivery. "
        "Here the cluster is local (no network round trip; its cores: see the header) and "
        "the client runs on a full core. A function with "
        f"{args.memory_mb} MB gets {share:.2f} of a vCPU ({args.memory_mb}/{FULL_VCPU_MB} MB), "
        "so its own CPU work takes longer than here: the last column scales the measured "
        "client CPU by that share, a floor for the billed time on Lambda whatever the cluster.",
        "",
        f"Price: arm64 ${PRICE_GB_SECOND:.10f} per GB-second and "
        f"${PRICE_PER_MILLION_REQUESTS:.2f} per 1M requests (us-east-1 list price); memory "
        f"{args.memory_mb} MB (template.yaml Globals MemorySize); one invocation per "
        f"{PER:,} events (one subscription delivery). Cost per invocation = billed s x "
        f"{args.memory_mb}/1024 GB x GB-second price + one request, divided by the raw bytes "
        "it ships, times 10^9 (GB = 10^9 bytes). Ranges come from the fastest and slowest "
        "measured invocation.",
        "",
    ]


def sweep_report(sides: Sequence[Side], args: argparse.Namespace) -> list[str]:
    best = max(sides, key=lambda s: s.pooled(docs_per_second).median)
    rows = [
        [
            side.label,
            f"{Spread.of([n for r in side.rounds for n in r.requests]).median:,.0f}",
            side.pooled(docs_per_second).text(",.0f"),
            f"{side.pooled(docs_per_second).median / best.pooled(docs_per_second).median:.3f}",
            side.pooled(cpu_ms_per_ten_thousand).text(",.0f"),
            side.pooled(wall_ms_per_ten_thousand).text(",.0f"),
            f"{side.rounds[0].body_bytes / max(1, side.rounds[0].requests[0]) / 1024:,.0f}",
        ]
        for side in sides
    ]
    return [
        "## Sweep: documents per request x BATCH_MAX_BYTES",
        "",
        table(
            [
                "BATCH_SIZE / BATCH_MAX_BYTES",
                "requests per invocation",
                "docs/s end to end",
                "÷ best median",
                f"process CPU ms per {PER:,} events",
                f"wall ms per {PER:,} events",
                "gzip KiB per request",
            ],
            rows,
        ),
        "",
        "Each configuration is the working tree's decoder handler with BATCH_SIZE and "
        "BATCH_MAX_BYTES set in its environment (every other setting at its default, "
        "MAX_IN_FLIGHT=2); rounds rotate over the configurations.",
        "",
    ]


def round_table(sides: Sequence[Side]) -> str:
    rows = []
    for number in range(len(sides[0].rounds)):
        for side in sides:
            r = side.rounds[number]
            rows.append(
                [
                    f"{number + 1} {side.name}",
                    Spread.of(docs_per_second(r)).text(",.0f"),
                    Spread.of(cpu_per_thousand_requests(r)).text(".2f"),
                    Spread.of(wall_ms_per_ten_thousand(r)).text(",.0f"),
                ]
            )
    return table(["round", "docs/s", "CPU s / 1,000 requests", f"wall ms / {PER:,}"], rows)


# --------------------------------------------------------------------------- main


def build_sides(args: argparse.Namespace, stack: contextlib.ExitStack) -> tuple[list[Side], str]:
    head = git("rev-parse", "--short", "HEAD")
    if args.sweep:
        sides = [
            Side(
                f"b{size}-m{mib}",
                ROOT,
                f"{size:,} / {mib:g} MiB",
                env={"BATCH_SIZE": str(size), "BATCH_MAX_BYTES": str(int(mib * MIB))},
            )
            for size in args.sizes
            for mib in args.max_bytes
        ]
        return sides, ""
    from logstream.settings import Settings  # noqa: PLC0415

    size = Settings.from_env({"AWS_REGION": "us-east-1"}).batch_size
    sides = [
        Side("after", ROOT, f"logstream after (working tree, {head}), BATCH_SIZE={size:,}"),
        Side("ceiling", ROOT, f"ceiling, BATCH_SIZE={size:,}: pre-built bodies, plain threads"),
    ]
    old = {"BATCH_SIZE": str(args.old_size)} if args.old_size else {}
    if args.old_size and args.old_size != size:
        partner = f"ceiling-{args.old_size}"
        sides += [
            Side(
                f"after-{args.old_size}",
                ROOT,
                f"logstream after ({head}), BATCH_SIZE={args.old_size:,}",
                env=old,
                partner=partner,
            ),
            Side(partner, ROOT, f"ceiling, BATCH_SIZE={args.old_size:,}", env=old),
        ]
    before_ref = ""
    if args.before:
        subject = git("log", "-1", "--format=%s", args.before)
        before_ref = f"{git('rev-parse', '--short', args.before)} {shorten(subject, 90)}"
        tree = stack.enter_context(worktree_of(args.before))
        sides.insert(
            0,
            Side(
                "before",
                tree,
                f"logstream before ({before_ref.split()[0]})"
                + (f", BATCH_SIZE={args.old_size:,}" if old else ""),
                env=old,
                partner=f"ceiling-{args.old_size}" if old and args.old_size != size else "ceiling",
            ),
        )
    return sides, before_ref


def measure(args: argparse.Namespace) -> tuple[str, str]:
    """The whole report, and its cost part (with the same header) for ``cost.md``."""
    run_prefix = f"bench-tr-{secrets.token_hex(3)}"
    title = (
        "Request sizing sweep, decoder end to end"
        if args.sweep
        else f"Decoder end to end against the raw-bytes `_bulk` ceiling, per {PER:,} events"
    )
    header = machine_header(title, MODULE, ["orjson", "isal", "opensearch-py", "requests"])
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(opensearch(args.opensearch_url or os.environ.get(URL_ENV)))
        version = str(http_json("GET", url)["version"]["number"])
        placement = "shares the machine's 2 cores with the client"
        if args.pin:
            pid = pin_cluster(url, {CLUSTER_CORE})
            everything = os.sched_getaffinity(0)
            stack.callback(lambda: pin_cluster(url, everything))
            placement = (
                f"pinned to core {CLUSTER_CORE} (JVM pid {pid}, every thread), the client "
                f"to core {CLIENT_CORE}: the two never compete for a core, as a Lambda "
                "function and its cluster never do"
            )
        sides, before_ref = build_sides(args, stack)
        by_name = {side.name: side for side in sides}
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-tr-")))
        stack.callback(lambda: print(f"deleted {delete_run_data(url, run_prefix)} indices"))
        for number in range(args.rounds):
            shift = number % len(sides)
            order = sides[shift:] + sides[:shift]
            if number % 2:
                order = order[::-1]
            for side in order:
                if args.paired and side.is_ceiling:
                    continue  # measured in its partner's process
                print(f"round {number + 1}/{args.rounds}: {side.name}...", flush=True)
                partner = by_name[side.partner] if args.paired else None
                prefix = f"{run_prefix}-{side.name}-{number}"
                run_side(side, args, url, prefix, workdir, partner=partner)
                # A round's documents go with it: rounds stay alike (no growing heap and
                # background merges of earlier rounds' indices falling on later ones).
                delete_run_data(url, prefix + "-")
                last = side.rounds[-1]
                print(
                    f"  {Spread.of(docs_per_second(last)).median:,.0f} docs/s, "
                    f"{Spread.of(cpu_per_thousand_requests(last)).median:.2f} s CPU / 1,000 req, "
                    f"{last.requests[0]} req",
                    flush=True,
                )
        lines = [
            header,
            f"- Load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
            f"- OpenSearch: {version} at {url} (local, one node); it {placement}",
            f"- Rounds: {args.rounds} per side, order rotating; per round 1 warm-up and "
            f"{args.invocations} measured invocations of {args.events:,} events",
            "- Refresh: "
            + (
                f"each round's indices at refresh_interval {args.refresh_interval} after "
                "the warm-up (`--refresh-interval`)"
                if args.refresh_interval
                else "the cluster's default (every second)"
            ),
        ]
        if args.paired:
            lines.append(
                "- Paired: each round is one process running the handler and its ceiling "
                "in turns, one invocation apart (the first of each pair alternating), so "
                "both see the same load"
            )
        if before_ref:
            lines.append(f"- before = `{before_ref}`")
        lines += [
            "",
            "## Workload",
            "",
            "Subscription payloads from `devstack.payloads` (the same on every side): "
            f"{args.events:,} events each, fresh event ids per invocation, JSON app logs "
            "with nested objects, plain text and Lambda START / END / REPORT lines (with "
            "their trailing newline). Decoder environment as `bench_invocation`: no state "
            "table, BACKFILL_DAYS=0, ES_AUTH=none, a fresh INDEX_PREFIX per round, metrics "
            "on, POWERTOOLS_LOG_LEVEL=WARNING, tracing off; other settings at their "
            "defaults unless the table says otherwise.",
            "",
        ]
        if args.sweep:
            return "\n".join(lines + sweep_report(sides, args)), ""
        cost = lines + cost_lines(sides, args)
        return "\n".join(lines + comparison_report(sides, args)), "\n".join(cost)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--invocations", type=int, default=3, help="measured ones per round")
    parser.add_argument("--events", type=int, default=PER)
    parser.add_argument("--before", default=DEFAULT_BEFORE, help="git ref; '' for none")
    parser.add_argument("--opensearch-url", default=None)
    parser.add_argument(
        "--old-size",
        type=int,
        default=100,
        help="BATCH_SIZE of the before side, also measured on the working tree (0: skip)",
    )
    parser.add_argument("--memory-mb", type=int, default=512, help="template.yaml MemorySize")
    parser.add_argument("--sweep", action="store_true", help="request sizing sweep instead")
    parser.add_argument(
        "--pin",
        action="store_true",
        help=f"cluster on core {CLUSTER_CORE}, client on core {CLIENT_CORE} (Linux)",
    )
    parser.add_argument(
        "--paired",
        action="store_true",
        help="handler and ceiling in one process per round, taking turns (needs --before '')",
    )
    parser.add_argument(
        "--refresh-interval",
        default="",
        help="refresh_interval of each round's indices after its warm-up, e.g. 30s "
        "(default: the cluster's, 1s)",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 250, 500, 1000, 2000, 5000])
    parser.add_argument("--max-bytes", type=float, nargs="+", default=[1, 5, 10], help="MiB")
    parser.add_argument("--quick", action="store_true", help="1 round, 2,000 events, no file")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args)
        return
    if args.paired and (args.before or args.sweep):
        parser.error("--paired measures the working tree against its ceiling: add --before ''")
    if args.quick:
        args.rounds, args.invocations, args.events = 1, 1, min(args.events, 2_000)
    text, cost = measure(args)
    print(text, flush=True)
    default = RESULTS_DIR / ("request_sizing.md" if args.sweep else "transport.md")
    output = args.output or (None if args.quick else default)
    if output is not None:
        write_result(output, text)
        if cost:
            write_result(output.with_name("cost.md"), cost)


if __name__ == "__main__":
    main()
