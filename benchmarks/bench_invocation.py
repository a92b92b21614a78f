"""Whole decoder invocation cost per 10,000 events, before and after a change, in one run.

One invocation is what Lambda runs for one subscription delivery: the decoder
handler (``functions/decoder/app.py``, loaded by path as the tests do, with its
Powertools decorators and a ``FakeLambdaContext``) decodes a realistic payload
of ``--events`` events (``devstack.payloads``), builds the documents and ships
them to a real OpenSearch through ``_bulk``, returning once every request is
acknowledged. No state table: no checkpoints, no auto-backfill.

Two trees are measured: ``--before REF`` (a ``git worktree`` of REF, default
393456e, the last commit before issue 9's restructure; its compiled loop is not
built in a checkout, so its one-pass Python loop runs) and the working tree.
Two ``logstream`` packages cannot share a process, so every round of a side is
a fresh subprocess with that tree's ``layers/common`` first on ``PYTHONPATH``
(the payloads, the context and the naive baseline come from this tree, so both
sides get the same input). Rounds alternate before / after, and the order
within a pair flips every round, so the machine's noise falls on both sides.

A round: the decoder-loop measurement (``benchmarks._naive.measure_pair``: the
production path decode -> ``build_documents`` -> chunks -> gzip against the
naive baseline, per-trial ratios by this thread's CPU time, as
``bench_decoder``), then one warm-up invocation (imports, templates, index
creation), then ``--invocations`` measured ones with fresh event ids into the
round's own INDEX_PREFIX. Per invocation: process CPU seconds
(``time.process_time``, which includes the bulk sender threads) and wall
seconds, scaled to 10,000 events; then one more, under cProfile, to count the
Python calls it makes (work that other processes cannot inflate). The report
gives medians (min..max) and the after / before ratio taken per round pair.
Indices and templates made by the run are deleted at the end. Nothing is
asserted.

    PYTHONPATH=layers/common:. python -m benchmarks.bench_invocation [--rounds 5] [--before REF]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import importlib
import importlib.util
import json
import os
import pstats
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from textwrap import shorten
from typing import Any

from benchmarks import ROOT
from benchmarks._common import RESULTS_DIR, Spread, machine_header, table, write_result
from benchmarks._naive import REGION, baseline, measure_pair
from devstack.environment import local_function_env
from devstack.lambda_context import FakeLambdaContext
from devstack.payloads import make_events, subscription_payload

MODULE = "benchmarks.bench_invocation"
DEFAULT_BEFORE = "393456e"
PER = 10_000  # figures are per this many events
LOG_GROUP = "/aws/lambda/orders-api"
LOG_STREAM = "2026/11/24/[$LATEST]0f1e2d3c4b5a69788796a5b4c3d2e1f0"
START_MS = 1_764_000_000_000  # 2025-11-24T16:00:00Z; every payload lands in one daily index
URL_ENV = "LOGSTREAM_BENCH_OPENSEARCH_URL"
WORKER_TIMEOUT_S = 900

Handler = Callable[[dict[str, Any], Any], Any]


# --------------------------------------------------------------------------- one round (worker)


@dataclass(slots=True)
class RoundResult:
    """What one subprocess measured for one tree; seconds are per :data:`PER` events."""

    logstream_path: str
    per_event_loop: str
    invocation_cpu: list[float] = field(default_factory=list)
    invocation_wall: list[float] = field(default_factory=list)
    loop_ratios: list[float] = field(default_factory=list)  # naive / production, per trial
    loop_cpu: list[float] = field(default_factory=list)  # production path, per trial
    naive_cpu: list[float] = field(default_factory=list)
    documents_cpu: list[float] = field(default_factory=list)  # build_documents alone
    #: Python calls in the invoking thread during one more invocation (cProfile): work
    #: counted rather than timed, so other processes on the machine cannot move it.
    calls: list[float] = field(default_factory=list)


def payload(number: int, events: int) -> dict[str, Any]:
    """The ``number``-th delivery: ``events`` fresh events, the same on both sides."""
    first = number * events
    return subscription_payload(
        LOG_GROUP,
        LOG_STREAM,
        make_events(events, START_MS + first, seed=7 + number, first_sequence=first),
    )


@dataclass(frozen=True, slots=True)
class TreeLoop:
    """The production path of whichever ``logstream`` is on ``sys.path``.

    Before issue 9 the modules sat at the top of the package (``logstream.documents``),
    after it under ``logstream.shipping``; the functions and their signatures are the same.
    """

    production: Callable[[str], list[bytes]]
    documents_only: Callable[[], object]
    description: str

    @classmethod
    def load(cls, data: str) -> TreeLoop:
        try:
            documents = importlib.import_module("logstream.shipping.documents")
            package = "logstream.shipping"
        except ModuleNotFoundError:  # before the restructure `logstream.shipping` is a module
            documents = importlib.import_module("logstream.documents")
            package = "logstream"
        bulk = importlib.import_module(f"{package}.bulk")
        decode = importlib.import_module(f"{package}.payload").decode_payload
        settings = importlib.import_module("logstream.settings").Settings.from_env(
            {"AWS_REGION": REGION}
        )

        def production(data: str) -> list[bytes]:
            batch = decode(data)
            origin = documents.EventOrigin(
                batch.log_group,
                batch.log_stream,
                batch.owner,
                settings.aws_region,
                batch.repaired_utf8,
            )
            built = documents.build_documents(batch.events, origin, settings.index_prefix)
            return [
                bulk.gzip_body(bulk.encode_bulk_body(chunk), settings.gzip_level)
                for chunk in bulk.chunk_documents(
                    built.documents, settings.batch_size, settings.batch_max_bytes
                )
            ]

        batch = decode(data)
        origin = documents.EventOrigin(batch.log_group, batch.log_stream, batch.owner, REGION)
        native = bool(getattr(documents, "NATIVE_HOT_PATH", False))
        description = f"`{documents.__name__}.build_documents`, " + (
            "COMPILED `_hotpath` (not the Python loop!)" if native else "Python loop"
        )
        return cls(
            production,
            lambda: documents.build_documents(batch.events, origin, settings.index_prefix),
            description,
        )


def load_handler(tree: Path) -> Handler:
    """``lambda_handler`` of ``tree``'s decoder, loaded by path as the tests load it."""
    path = tree / "functions" / "decoder" / "app.py"
    spec = importlib.util.spec_from_file_location("decoder_app", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Handler = module.lambda_handler
    return handler


def run_worker(
    command: Sequence[str], env: Mapping[str, str], name: str, result_file: Path
) -> dict[str, Any]:
    """Run one worker subprocess and return the JSON it wrote to ``result_file``."""
    # stdout carries the handler's EMF metrics and logs, as on Lambda; nobody reads them here.
    done = subprocess.run(
        list(command),
        cwd=ROOT,
        env=dict(env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=WORKER_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{name} round failed ({done.returncode}):\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(result_file.read_text(encoding="utf-8"))
    return result


def run_round(tree: Path, events: int, invocations: int, loop_trials: int) -> RoundResult:
    import logstream  # noqa: PLC0415 - whichever tree PYTHONPATH put first

    where = Path(logstream.__file__).resolve()
    if not where.is_relative_to(tree):
        raise SystemExit(f"logstream came from {where}, not from {tree}: check PYTHONPATH")
    deliveries = [payload(number, events) for number in range(invocations + 1)]
    first = deliveries[0]
    loop = TreeLoop.load(first["awslogs"]["data"])
    result = RoundResult(str(where.parent), loop.description)
    per = PER / events

    head = measure_pair(
        lambda: baseline(first), lambda: loop.production(first["awslogs"]["data"]), loop_trials
    )
    result.loop_ratios = head.ratios(cpu=True)
    result.loop_cpu = [s * per for s in head.optimized_cpu]
    result.naive_cpu = [s * per for s in head.baseline_cpu]
    for _ in range(loop_trials):
        gc.collect()
        started = time.thread_time()
        loop.documents_only()
        result.documents_cpu.append((time.thread_time() - started) * per)

    handler = load_handler(tree)
    for number, event in enumerate(deliveries):
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        report = handler(event, FakeLambdaContext())
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if report.get("delivered") != events:
            raise SystemExit(f"invocation {number} did not deliver every event: {report}")
        if number > 0:  # the first one is the warm-up
            result.invocation_cpu.append(cpu * per)
            result.invocation_wall.append(wall * per)
    profiled, context = payload(invocations + 1, events), FakeLambdaContext()
    profiler = cProfile.Profile()
    profiler.runcall(handler, profiled, context)
    result.calls.append(pstats.Stats(profiler).total_calls * per)  # type: ignore[attr-defined]
    return result


def worker_main(args: argparse.Namespace) -> None:
    result = run_round(Path(args.tree).resolve(), args.events, args.invocations, args.loop_trials)
    Path(args.result).write_text(json.dumps(asdict(result)), encoding="utf-8")


# --------------------------------------------------------------------------- the two sides


@dataclass(slots=True)
class Side:
    name: str
    tree: Path
    label: str
    rounds: list[RoundResult] = field(default_factory=list)

    def per_round(self, pick: Callable[[RoundResult], list[float]]) -> list[float]:
        """One figure per round: the median of that round's samples."""
        return [Spread.of(pick(r)).median for r in self.rounds]

    def pooled(self, pick: Callable[[RoundResult], list[float]]) -> Spread:
        return Spread.of([value for r in self.rounds for value in pick(r)])


def function_env(opensearch_url: str, index_prefix: str) -> dict[str, str]:
    """The decoder's environment without a state table, quiet, pointed at the cluster."""
    env = local_function_env(
        {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION},
        opensearch_url=opensearch_url,
        index_prefix=index_prefix,
        state_table="",
        BACKFILL_DAYS="0",
        POWERTOOLS_METRICS_NAMESPACE="LogstreamBench",
        POWERTOOLS_SERVICE_NAME="logstream-bench",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )
    del env["STATE_TABLE"]
    return env


def run_side(side: Side, args: argparse.Namespace, url: str, prefix: str, workdir: Path) -> None:
    result_file = workdir / f"{prefix}.json"
    env = {
        **{k: v for k, v in os.environ.items() if k != "STATE_TABLE"},
        **function_env(url, prefix),
        "PYTHONPATH": os.pathsep.join([str(side.tree / "layers" / "common"), str(ROOT)]),
    }
    command = [
        sys.executable,
        "-m",
        MODULE,
        "--worker",
        "--tree",
        str(side.tree),
        "--result",
        str(result_file),
        "--events",
        str(args.events),
        "--invocations",
        str(args.invocations),
        "--loop-trials",
        str(args.loop_trials),
    ]
    side.rounds.append(RoundResult(**run_worker(command, env, side.name, result_file)))


@contextlib.contextmanager
def worktree_of(ref: str) -> Iterator[Path]:
    """A detached ``git worktree`` of ``ref`` in a temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-before-") as parent:
        path = Path(parent) / "tree"
        git("worktree", "add", "--detach", "--quiet", str(path), ref)
        try:
            yield path
        finally:
            git("worktree", "remove", "--force", str(path))


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


@contextlib.contextmanager
def opensearch(url: str | None) -> Iterator[str]:
    """The given cluster, or a fresh local one for the length of the run."""
    if url:
        yield url.rstrip("/")
        return
    from devstack.opensearch_server import OpenSearchServer  # noqa: PLC0415 - only when needed

    print("starting a local OpenSearch...", flush=True)
    with OpenSearchServer() as server:
        yield server.url


def http_json(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {} if body is None else {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        body = response.read()
    return json.loads(body) if body else None


def delete_run_data(url: str, run_prefix: str) -> int:
    """Delete the indices and index templates whose names start with ``run_prefix``."""
    pattern = f"{run_prefix}*"
    indices = http_json(
        "GET", f"{url}/_cat/indices/{pattern}?format=json&h=index&expand_wildcards=all"
    )
    names = sorted(row["index"] for row in indices or [])
    for start in range(0, len(names), 20):
        http_json("DELETE", f"{url}/{','.join(names[start : start + 20])}")
    try:
        templates = http_json("GET", f"{url}/_index_template/{pattern}")["index_templates"]
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise
        templates = []
    for template in templates:
        http_json("DELETE", f"{url}/_index_template/{template['name']}")
    return len(names)


# --------------------------------------------------------------------------- report


def ratio_spread(after: Side, before: Side, pick: Callable[[RoundResult], list[float]]) -> Spread:
    """after / before of each round pair."""
    pairs = zip(after.per_round(pick), before.per_round(pick), strict=True)
    return Spread.of([a / b for a, b in pairs])


def ms(spread: Spread) -> str:
    return spread.scaled(1e3).text(",.0f")


def us_per_event(spread: Spread) -> str:
    return spread.scaled(1e6 / PER).text(".2f")


def report(
    header: str,
    args: argparse.Namespace,
    *,
    sides: Sequence[Side],
    url: str,
    cluster_version: str,
    before_ref: str,
) -> str:
    lines = [
        header,
        f"- Load average at end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- OpenSearch: {cluster_version} at {url} (local, one node, shared with other jobs)",
        f"- Rounds: {args.rounds} per side, alternating (order flips every round); per round "
        f"{args.loop_trials} decoder-loop trials, 1 warm-up and {args.invocations} measured "
        f"invocations of {args.events:,} events; figures are median (min..max), scaled to "
        f"{PER:,} events",
    ]
    for side in sides:
        loops = sorted({r.per_event_loop for r in side.rounds})
        lines.append(f"- {side.label}: `logstream` from `{side.rounds[0].logstream_path}`")
        lines.append(f"  - per-event loop: {'; '.join(loops)}")
    lines += [
        "",
        "## Workload",
        "",
        f"Subscription payloads from `devstack.payloads` (this tree's, for both sides): "
        f"{args.events:,} events each from log group `{LOG_GROUP}`, a fresh set of event ids "
        "per invocation, all in one daily index; JSON app logs with nested objects, plain "
        "text lines and Lambda START / END / REPORT lines (with their trailing newline). "
        "Decoder environment: `devstack.environment.local_function_env` without STATE_TABLE "
        "(no checkpoints), BACKFILL_DAYS=0, ES_AUTH=none, a fresh INDEX_PREFIX per round, "
        "metrics on (EMF to stdout), POWERTOOLS_LOG_LEVEL=WARNING, tracing off; "
        "every other setting at its default (BATCH_SIZE, MAX_IN_FLIGHT=2, GZIP_LEVEL=1).",
        "",
    ]
    if len(sides) == 2:
        before, after = sides
        lines += comparison(before, after, before_ref)
    else:
        (after,) = sides
        lines += single(after)
    return "\n".join(lines)


def _pick_cpu(r: RoundResult) -> list[float]:
    return r.invocation_cpu


def _pick_wall(r: RoundResult) -> list[float]:
    return r.invocation_wall


def _pick_loop_ratio(r: RoundResult) -> list[float]:
    return r.loop_ratios


@dataclass(frozen=True, slots=True)
class Measure:
    """One headline row: what to pick from a round, how to show it, which way is better."""

    label: str
    pick: Callable[[RoundResult], list[float]]
    show: Callable[[Spread], str]
    higher_is_better: bool = False

    def row(self, before: Side, after: Side) -> list[str]:
        b, a = before.pooled(self.pick), after.pooled(self.pick)
        best_b, best_a = (b.high, a.high) if self.higher_is_better else (b.low, a.low)
        return [
            self.label,
            self.show(b),
            self.show(a),
            ratio_spread(after, before, self.pick).text(".3f"),
            f"{best_a / best_b:.3f}",
        ]


def _speed_up(spread: Spread) -> str:
    return spread.text(".2f")


HEADLINE = [
    Measure(
        f"**invocation CPU ms per {PER:,} events** (process, incl. bulk threads)", _pick_cpu, ms
    ),
    Measure(f"invocation wall ms per {PER:,} events (until `_bulk` acknowledged)", _pick_wall, ms),
    Measure(
        "**decoder loop speed-up over the naive baseline** (x, thread CPU)",
        _pick_loop_ratio,
        _speed_up,
        higher_is_better=True,
    ),
    Measure(
        "decoder loop: production path µs/event (thread CPU)", lambda r: r.loop_cpu, us_per_event
    ),
    Measure(
        "decoder loop: `build_documents` alone µs/event (thread CPU)",
        lambda r: r.documents_cpu,
        us_per_event,
    ),
    Measure(
        f"Python calls per invocation of {PER:,} events (invoking thread, cProfile)",
        lambda r: r.calls,
        lambda spread: spread.text(",.0f"),
    ),
    Measure(
        "naive baseline µs/event (thread CPU), same code both sides",
        lambda r: r.naive_cpu,
        us_per_event,
    ),
]


def comparison(before: Side, after: Side, before_ref: str) -> list[str]:
    cpu_ratio = ratio_spread(after, before, _pick_cpu)
    loop_ratio = ratio_spread(after, before, _pick_loop_ratio)
    cpu_b, cpu_a = before.pooled(_pick_cpu), after.pooled(_pick_cpu)
    loop_b, loop_a = before.pooled(_pick_loop_ratio), after.pooled(_pick_loop_ratio)
    change = (cpu_a.median / cpu_b.median - 1) * 100
    return [
        "## Headline",
        "",
        table(
            [
                "measure",
                before.label,
                after.label,
                "after / before, per round pair",
                "best after / best before",
            ],
            [measure.row(before, after) for measure in HEADLINE],
        ),
        "",
        f"Invocation CPU per {PER:,} events: after is {abs(change):.1f}% "
        f"{'below' if change <= 0 else 'above'} before (medians of all measured invocations); "
        f"the per-round-pair ratio after / before is {cpu_ratio.text('.3f')} (below 1 = "
        "cheaper after). Decoder-loop speed-up over the naive baseline: "
        f"{loop_b.median:.2f}x before, {loop_a.median:.2f}x after (ratio of the two, per "
        f"round pair: {loop_ratio.text('.3f')}; above 1 = faster after).",
        "",
        "Other processes on the machine only ever add time, so the last column (each "
        "side's best sample: the lowest time, the highest speed-up) is the figure least "
        "disturbed by them; the medians show what a busy machine gives.",
        "",
        f"Before = `{before_ref}`; after = the working tree. The naive baseline is the same "
        "code on both sides, so its row shows how much the machine drifted between the sides.",
        "",
        "## Per round",
        "",
        round_table([before, after]),
    ]


def single(after: Side) -> list[str]:
    return [
        "## Headline",
        "",
        table(
            ["measure", after.label],
            [
                [f"invocation CPU ms per {PER:,} events", ms(after.pooled(_pick_cpu))],
                [f"invocation wall ms per {PER:,} events", ms(after.pooled(_pick_wall))],
                [
                    "decoder loop speed-up over the naive baseline (x)",
                    after.pooled(_pick_loop_ratio).text(".2f"),
                ],
            ],
        ),
        "",
        "## Per round",
        "",
        round_table([after]),
    ]


def round_table(sides: Sequence[Side]) -> str:
    rows = []
    for number in range(len(sides[0].rounds)):
        for side in sides:
            r = side.rounds[number]
            rows.append(
                [
                    f"{number + 1} {side.name}",
                    ms(Spread.of(r.invocation_cpu)),
                    ms(Spread.of(r.invocation_wall)),
                    Spread.of(r.loop_ratios).text(".2f"),
                ]
            )
    return table(
        ["round", f"CPU ms / {PER:,}", f"wall ms / {PER:,}", "loop speed-up over naive (x)"], rows
    )


# --------------------------------------------------------------------------- main


def measure(args: argparse.Namespace) -> str:
    run_prefix = f"bench-inv-{secrets.token_hex(3)}"
    header = machine_header(  # now, for the load average at the start
        f"Decoder invocation cost per {PER:,} events, before and after",
        MODULE,
        ["orjson", "isal", "aws-lambda-powertools", "opensearch-py"],
    )
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(opensearch(args.opensearch_url or os.environ.get(URL_ENV)))
        cluster_version = str(http_json("GET", url)["version"]["number"])
        after = Side("after", ROOT, f"after (working tree, {git('rev-parse', '--short', 'HEAD')})")
        sides = [after]
        before_ref = ""
        if args.before:
            subject = git("log", "-1", "--format=%s", args.before)
            before_ref = f"{git('rev-parse', '--short', args.before)} {shorten(subject, 90)}"
            tree = stack.enter_context(worktree_of(args.before))
            sides = [Side("before", tree, f"before ({before_ref.split()[0]})"), after]
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-inv-")))
        stack.callback(lambda: print(f"deleted {delete_run_data(url, run_prefix)} indices"))
        for number in range(args.rounds):
            for side in sides if number % 2 == 0 else sides[::-1]:
                prefix = f"{run_prefix}-{side.name}-{number}"
                print(f"round {number + 1}/{args.rounds}: {side.name}...", flush=True)
                run_side(side, args, url, prefix, workdir)
                last = side.rounds[-1]
                print(
                    f"  CPU {Spread.of(last.invocation_cpu).median * 1e3:,.0f} ms, wall "
                    f"{Spread.of(last.invocation_wall).median * 1e3:,.0f} ms per {PER:,}; "
                    f"loop {Spread.of(last.loop_ratios).median:.2f}x naive",
                    flush=True,
                )
        return report(
            header,
            args,
            sides=sides,
            url=url,
            cluster_version=cluster_version,
            before_ref=before_ref,
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5, help="subprocess rounds per side")
    parser.add_argument("--invocations", type=int, default=3, help="measured ones per round")
    parser.add_argument("--events", type=int, default=PER, help="events per invocation")
    parser.add_argument("--loop-trials", type=int, default=3, help="decoder-loop trials per round")
    parser.add_argument(
        "--before",
        default=DEFAULT_BEFORE,
        help=f"git ref to measure beside the working tree (default {DEFAULT_BEFORE}; '' for none)",
    )
    parser.add_argument(
        "--opensearch-url", default=None, help=f"cluster to use (else ${URL_ENV}, else start one)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 1 round, 2,000 events, no results file"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="markdown file (default benchmarks/results/invocation.md; none with --quick)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main(args)
        return
    if args.quick:
        args.rounds, args.invocations, args.loop_trials = 1, 1, 1
        args.events = min(args.events, 2_000)
    if min(args.rounds, args.invocations, args.events, args.loop_trials) < 1:
        parser.error("--rounds, --invocations, --events and --loop-trials must be positive")
    text = measure(args)
    print(text, flush=True)
    output = args.output or (None if args.quick else RESULTS_DIR / "invocation.md")
    if output is not None:
        write_result(output, text)


if __name__ == "__main__":
    main()
