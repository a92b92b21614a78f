"""``make demo``: logstream's story on the local stack, start to finish, in plain text.

1. start a real OpenSearch and a moto server (AWS APIs), saying what it does;
2. write sample logs into CloudWatch Logs (moto): two live groups, and one
   group that only has history;
3. ship the live groups through the decoder handler, as a subscription would;
4. break things on purpose: delete documents of one group, ship a type drift;
5. reconciliation finds the gap and re-ships it; the schema healer fixes the drift;
6. a backfill brings the history-only group in, with its progress bar;
7. ``logstream status``, then the headline: every written event accounted
   for by ``_id``, nothing lost, nothing twice.

``make demo KEEP=1`` leaves the stack up afterwards and says how to connect;
``make demo ENGINE=elasticsearch`` tells the same story on Elasticsearch 8.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from opensearchpy import OpenSearch

from devstack.cloudwatch import put_events, read_events, subscription_deliveries
from devstack.demo_console import chapter, elapsed, quiet_logging, say, ticker
from devstack.demo_index import delete_ids, doc_ids, parked_ids, tally
from devstack.elasticsearch_server import ElasticsearchServer
from devstack.environment import local_function_env
from devstack.lambda_context import FakeLambdaContext
from devstack.moto_server import MotoServer, aws_env, create_state_table
from devstack.opensearch_dist import ELASTICSEARCH, default_cache_dir, ensure_distribution
from devstack.opensearch_server import OpenSearchServer
from devstack.payloads import make_events

ORDERS = "/aws/lambda/orders-api"
PAYMENTS = "/ecs/Payments#blue"
BILLING = "/aws/lambda/billing-worker"  # history only: the backfill brings it in
LIVE = (ORDERS, PAYMENTS)
STATE_TABLE = "logstream-demo-state"
HOUR_MS = 3_600_000


#: The engines the demo can run on (``--engine``, ``make demo ENGINE=...``).
SERVERS: dict[str, type[OpenSearchServer]] = {
    "opensearch": OpenSearchServer,
    "elasticsearch": ElasticsearchServer,
}


def start_search_server(stack: ExitStack, engine: str) -> str:
    """Fetch (first run only) and start the real search engine; its URL."""
    server_class = SERVERS[engine]
    product, version = server_class.PRODUCT, server_class.DEFAULT_VERSION
    title = "Elasticsearch" if product is ELASTICSEARCH else "OpenSearch"
    dist = default_cache_dir(product) / f"{product.name}-{version}"
    if not (dist / "bin" / product.name).is_file():
        say(f"fetching {title} {version} from Maven Central (first run only)")
        with ticker(lambda: "still fetching"):
            dist = ensure_distribution(version, product=product)
    server = server_class(distribution=dist)
    began = time.monotonic()
    say(f"starting {title} {version} (single node, 512 MB heap)")

    def progress() -> str:
        where = f" on 127.0.0.1:{server.http_port}" if server.http_port else ""
        return f"waiting for {title}{where} to report healthy"

    with ticker(progress):
        stack.enter_context(server)
    say(f"{title} is up at {server.url} after {time.monotonic() - began:.0f} s")
    return server.url


def _configure(engine: str, opensearch_url: str, moto_url: str) -> None:
    os.environ.update(
        local_function_env(
            aws_env(moto_url),
            opensearch_url=opensearch_url,
            ES_ENGINE=engine,
            index_prefix="logs",
            state_table=STATE_TABLE,
            LOG_GROUPS=",".join((*LIVE, BILLING)),
            BACKFILL_DAYS="2",
            BACKFILL_CHUNK_EVENTS="1000",
            RECONCILE_SETTLE_SECS="60",
            # Human output only: Powertools JSON lines and EMF blobs would bury the story.
            POWERTOOLS_LOG_LEVEL="ERROR",
            POWERTOOLS_METRICS_DISABLED="true",
        )
    )
    create_state_table(boto3.client("dynamodb"), STATE_TABLE)


def _cli(*argv: str) -> int:
    from logstream.cli import main as logstream  # noqa: PLC0415 - after the env is set

    print(f"\n    $ logstream {' '.join(_quote(a) for a in argv)}", flush=True)
    code = logstream(list(argv))
    sys.stdout.flush()
    if code:
        say(f"(exit code {code})")
    return code


def _quote(arg: str) -> str:
    return f"'{arg}'" if any(c in arg for c in " #*$") else arg


def _search() -> OpenSearch:
    return OpenSearch(hosts=[os.environ["ES_HOST"]])


def _first_hour() -> int:
    """The live logs start an hour before a UTC midnight at least an hour ago: two daily indices."""
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if now - midnight < timedelta(hours=1):
        midnight -= timedelta(days=1)
    return int(midnight.timestamp() * 1000) - HOUR_MS


def _write_sample_logs(start: int) -> None:
    logs = boto3.client("logs")
    for seed, group in enumerate(LIVE):
        put_events(
            logs,
            group,
            "2026/11/24/[$LATEST]demo",
            make_events(600, start, step_ms=10_000, seed=seed),
        )
        say(f"{group:<28} 600 events, live (a subscription delivers them)")
    history_start = int(time.time() * 1000) - 40 * HOUR_MS
    put_events(
        logs,
        BILLING,
        "2026/11/23/[$LATEST]old",
        make_events(2400, history_start, step_ms=60_000, seed=9),
    )
    say(f"{BILLING:<28} 2400 events over the last 40 hours, never delivered")


def _deliver(group: str, events: list[dict[str, Any]]) -> dict[str, int]:
    from functions.decoder.app import lambda_handler  # noqa: PLC0415 - after the env is set

    totals: dict[str, int] = {}
    for delivery in subscription_deliveries(group, events, max_events=250):
        for key, value in lambda_handler(delivery, FakeLambdaContext()).items():
            totals[key] = totals.get(key, 0) + int(value)
    return totals


def _ship() -> None:
    logs = boto3.client("logs")
    for group in LIVE:
        report = _deliver(group, read_events(logs, group))
        say(
            f"{group:<28} {report.get('events', 0)} events: {report.get('delivered', 0)} indexed, "
            f"{report.get('quarantined', 0)} quarantined, {report.get('requests', 0)} _bulk calls"
        )
    search = _search()
    search.indices.refresh(index="logs-*")
    say()
    for row in sorted(
        search.cat.indices(index="logs-all", format="json"), key=lambda r: r["index"]
    ):
        say(f"{row['index']:<52} {int(search.count(index=row['index'])['count']):>5} docs")
    hit = search.search(
        index="logs-all", body={"size": 1, "query": {"exists": {"field": "lambda.duration_ms"}}}
    )["hits"]["hits"][0]
    say()
    say(f"a Lambda REPORT line, as stored (_id {hit['_id']}, the CloudWatch event id):")
    for key, value in list(hit["_source"].items())[:9]:
        say(f"  {key}: {value!r}"[:110])


def _break_things(start: int) -> None:
    logs = boto3.client("logs")
    orders = read_events(logs, ORDERS)
    slice_start = start + 30 * 60_000
    doomed = [e["eventId"] for e in orders if slice_start <= e["timestamp"] < slice_start + 600_000]
    doomed += [e["eventId"] for e in orders[::97]]
    removed = delete_ids(_search(), "logs-all", doomed)
    say(f"deleted {removed} documents of {ORDERS} (a 10-minute slice and a few strays)")

    # http.status has been a number for 600 events; now a deploy logs it as a word.
    drift_at = start + HOUR_MS + 15 * 60_000
    drifted = [
        {
            "timestamp": drift_at + n,
            "message": f'{{"level": "WARN", "http": {{"status": "{word}"}}}}',
        }
        for n, word in enumerate(("teapot", "gone-fishing", "teapot"))
    ]
    put_events(logs, PAYMENTS, "2026/11/24/[$LATEST]drift", drifted)
    new = [e for e in read_events(logs, PAYMENTS) if '"status": "' in e["message"]]
    report = _deliver(PAYMENTS, new)
    say(
        f"{PAYMENTS}: shipped {len(new)} events logging http.status as a string: "
        f"{report.get('quarantined', 0)} refused by the cluster and quarantined"
    )
    say()
    say("counted by _id against CloudWatch:")
    _counts_by_id("now")


def _work_auto_jobs() -> None:
    from logstream.clients import backfill_service  # noqa: PLC0415 - after the env is set
    from logstream.retry import Deadline  # noqa: PLC0415

    say("the decoder planned a job for each live group when it first saw it; working them")
    say("re-reads their history, all of it already indexed under the same _id:")
    report = backfill_service().work(Deadline.after_seconds(120)).as_dict()
    say(
        f"{report['events']} events read, {report['delivered']} new, "
        f"{report['duplicates']} already there (overwritten in place, not added)"
    )


def _counts_by_id(when: str) -> None:
    logs = boto3.client("logs")
    search = _search()
    parked = parked_ids(search, "logs-quarantine")
    for group in LIVE:
        source = {e["eventId"] for e in read_events(logs, group)}
        indexed = set(doc_ids(search, "logs-all", group))
        missing = source - indexed - set(parked)
        say(
            f"{when:<6} {group:<23} CloudWatch {len(source)}, indexed {len(source & indexed)}, "
            f"quarantined {len(source & set(parked))}, missing {len(missing)}"
        )


def _headline() -> bool:
    logs = boto3.client("logs")
    source = {e["eventId"] for g in (*LIVE, BILLING) for e in read_events(logs, g)}
    search = _search()
    result = tally(source, doc_ids(search, "logs-all"), parked_ids(search, "logs-quarantine"))
    say(result.headline())
    if result.unexpected:
        say(f"({result.unexpected} documents in the index that CloudWatch does not have)")
    return result.lost == 0 and result.duplicated == 0 and result.unexpected == 0


def _keep_running(moto_url: str) -> None:
    names = (
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "ES_HOST",
        "ES_AUTH",
        "INDEX_PREFIX",
        "INDEX_REPLICAS",
        "STATE_TABLE",
        "LOG_GROUPS",
        "BACKFILL_DAYS",
    )
    chapter(10, "The stack stays up (KEEP=1); Ctrl-C stops it")
    say(f"OpenSearch  {os.environ['ES_HOST']}   (curl {os.environ['ES_HOST']}/_cat/indices?v)")
    say(f"moto (AWS)  {moto_url}")
    say()
    say("in another shell, from this directory:")
    say("  source .venv/bin/activate && export PYTHONPATH=layers/common:.")
    for name in names:
        say(f"  export {name}='{os.environ[name]}'")
    say()
    for example in (
        "status",
        f"reconcile run --group '{ORDERS}'",
        "drift report",
        "backfill list",
        "quarantine list",
        f"tail '{PAYMENTS}'",
    ):
        say(f"  python -m logstream.cli {example}")
    try:
        signal.pause()
    except KeyboardInterrupt:
        print()
        say("stopping OpenSearch and moto")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="logstream on the local stack")
    parser.add_argument(
        "--engine", choices=sorted(SERVERS), default=os.environ.get("ENGINE") or "opensearch"
    )
    engine = parser.parse_args(argv).engine
    quiet_logging()
    keep = os.environ.get("KEEP", "").lower() in {"1", "true", "yes"}
    with ExitStack() as stack:
        chapter(1, f"Starting the local stack: a real {engine}, and moto for the AWS APIs")
        opensearch_url = start_search_server(stack, engine)
        moto = stack.enter_context(MotoServer())
        say(f"moto (CloudWatch Logs, DynamoDB) is up at {moto.endpoint_url}")
        _configure(engine, opensearch_url, moto.endpoint_url)

        chapter(2, "Writing sample logs to CloudWatch Logs (moto)")
        start = _first_hour()
        _write_sample_logs(start)

        chapter(3, "Shipping the live groups through the decoder, as a subscription delivers them")
        _ship()

        chapter(4, "Breaking things on purpose")
        _break_things(start)

        chapter(5, "Reconciliation: count CloudWatch against the index, re-ship what is missing")
        _cli("reconcile", "run", "--group", ORDERS, "--group", PAYMENTS, "--start", str(start))
        chapter(6, "Schema healing: decide the drifted field, replay the quarantine")
        _cli("drift", "heal")
        say()
        say("counted by _id against CloudWatch:")
        _counts_by_id("after")
        chapter(7, "Reconciliation again, from the watermark as the schedule runs it: clean")
        _cli("reconcile", "run", "--group", ORDERS, "--group", PAYMENTS)

        chapter(8, "Backfill: a group that only has history")
        _cli(
            "backfill",
            "start",
            "--group",
            BILLING,
            "--days",
            "2",
            "--work",
            "120",
            "--interval",
            "1",
        )
        say()
        _work_auto_jobs()
        _cli("backfill", "list")

        chapter(9, "logstream status, and the headline")
        _cli("status")
        say("(subscribed NO: moto has no subscription filters; the demo delivered by hand)")
        say()
        clean = _headline()
        say(f"(demo ran for {elapsed()})")
        if keep:
            _keep_running(moto.endpoint_url)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
