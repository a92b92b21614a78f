"""``make demo``: the main job on the local stack, start to finish.

1. start the real engine (OpenSearch; ``ENGINE=elasticsearch`` or
   ``python -m devstack.demo --engine elasticsearch`` for Elasticsearch 8)
   and a moto server;
2. write sample logs into CloudWatch Logs (moto): JSON app logs, plain text,
   Lambda START / END / REPORT lines, an empty message, a field whose type
   flips (a mapping conflict), in two groups across two UTC days;
3. deliver them to the decoder handler as a subscription filter would;
4. print what landed where: indices and counts, a sample document, the
   quarantine, the watermarks.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from opensearchpy import OpenSearch

from devstack.cloudwatch import put_events, read_events, subscription_deliveries
from devstack.elasticsearch_server import ElasticsearchServer
from devstack.environment import local_function_env
from devstack.lambda_context import FakeLambdaContext
from devstack.moto_server import MotoServer, aws_env, create_state_table
from devstack.opensearch_server import OpenSearchServer
from devstack.payloads import make_events

GROUPS = ("/aws/lambda/orders-api", "/ecs/Payments#blue")
STATE_TABLE = "logstream-demo-state"


def _say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def _configure(engine: str, cluster_url: str, moto_url: str) -> None:
    os.environ.update(
        local_function_env(
            aws_env(moto_url),
            opensearch_url=cluster_url,
            index_prefix="logs",
            state_table=STATE_TABLE,
            ES_ENGINE=engine,
            POWERTOOLS_LOG_LEVEL="WARNING",
            # EMF blobs on stdout would bury the summary this prints.
            POWERTOOLS_METRICS_DISABLED="true",
        )
    )


def _create_state_table() -> None:
    create_state_table(boto3.client("dynamodb"), STATE_TABLE)


def _write_sample_logs() -> int:
    logs = boto3.client("logs")
    midnight = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = int((midnight - timedelta(hours=1)).timestamp() * 1000)  # yesterday's last hour
    written = 0
    for number, group in enumerate(GROUPS):
        events = make_events(600, start, step_ms=10_000, seed=number)
        # The same field as a number, then as a string: the cluster will refuse one.
        events.append({"timestamp": start + 5, "message": '{"http": {"status": "teapot"}}'})
        put_events(logs, group, "2026/11/24/[$LATEST]demo", events)
        written += len(events)
        print(f"  {group}: {len(events)} events")
    return written


def _ship() -> list[dict[str, Any]]:
    from functions.decoder.app import lambda_handler  # noqa: PLC0415 - after env is set

    logs = boto3.client("logs")
    reports = []
    for group in GROUPS:
        for delivery in subscription_deliveries(group, read_events(logs, group), max_events=250):
            reports.append(lambda_handler(delivery, FakeLambdaContext()))
    return reports


def _show(written: int, reports: list[dict[str, Any]]) -> None:
    from logstream.clients import dynamodb_client  # noqa: PLC0415
    from logstream.settings import load_settings  # noqa: PLC0415

    settings = load_settings()
    search = OpenSearch(hosts=[settings.es_host])
    search.indices.refresh(index=f"{settings.index_prefix}-*")
    _say("Shipping reports, added up")
    totals: dict[str, float] = {}
    for report in reports:
        for key, value in report.items():
            totals[key] = totals.get(key, 0) + value
    for key in ("events", "delivered", "duplicates", "quarantined", "undelivered", "requests"):
        print(f"  {key:<12} {int(totals.get(key, 0))}")
    print(f"  bytes sent   {int(totals.get('bytes_sent', 0))} (gzip)")

    _say(f"Indices behind the alias {settings.alias}")
    landed = 0
    for row in sorted(
        search.cat.indices(index=settings.alias, format="json"), key=lambda r: r["index"]
    ):
        count = int(search.count(index=row["index"])["count"])
        landed += count
        print(f"  {row['index']:<55} {count:>5} docs")
    quarantined = _count(search, settings.quarantine_index)
    print(f"  {settings.quarantine_index:<55} {quarantined:>5} parked")
    print(f"  written {written} = landed {landed} + quarantined {quarantined}")

    _say("A Lambda REPORT line, as stored")
    hit = search.search(
        index=settings.alias, body={"size": 1, "query": {"exists": {"field": "lambda.duration_ms"}}}
    )["hits"]["hits"][0]
    print(f"  _index={hit['_index']} _id={hit['_id']}")
    for key, value in hit["_source"].items():
        print(f"    {key}: {value!r}"[:160])

    _say("JSON fields keep their types: a numeric range query on json.http.status")
    errors = search.count(
        index=settings.alias, body={"query": {"range": {"json.http.status": {"gte": 500}}}}
    )
    print(f"  documents with json.http.status >= 500: {errors['count']}")

    _say("Quarantine")
    parked_hits = search.search(
        index=settings.quarantine_index, body={"size": 5}, ignore_unavailable=True
    )["hits"]["hits"]
    if not parked_hits:
        # Elasticsearch 8 settles the demo's mapping race on one type, so nothing is refused.
        print("  (empty: the cluster refused nothing)")
    for parked in parked_hits:
        source = parked["_source"]
        print(f"  {source['kind']}: {source['error_type']}: {source['reason'][:110]}")
        print(f"    target {source.get('target_index')} _id {source.get('doc_id')}")

    _say("Acknowledged watermarks (DynamoDB)")
    items = dynamodb_client().scan(TableName=STATE_TABLE)["Items"]
    for item in items:
        if item["pk"]["S"].startswith("checkpoint#"):
            mark = datetime.fromtimestamp(int(item["watermark"]["N"]) / 1000, tz=UTC)
            print(f"  {item['pk']['S']} {item['sk']['S']} -> {mark.isoformat()}")
    jobs = [item for item in items if item["sk"]["S"] == "job"]
    print(f"  auto-backfill: {len(jobs)} job(s) planned for the groups seen for the first time")


def _count(search: OpenSearch, index: str) -> int:
    """Documents in ``index``; 0 when it was never created."""
    return int(search.count(index=index, ignore_unavailable=True)["count"])


def _heal() -> None:
    from logstream.clients import schema_healer  # noqa: PLC0415
    from logstream.retry import Deadline  # noqa: PLC0415
    from logstream.settings import load_settings  # noqa: PLC0415

    _say("Schema healing: decide the conflicting field, replay the quarantine")
    report = schema_healer().heal(list(GROUPS), Deadline.after_seconds(120))
    for row in report.report:
        print(
            f"  {row['group']}: {row['field']} types seen {row['types_seen']}, "
            f"resolution {row['resolution']}"
        )
    settings = load_settings()
    search = OpenSearch(hosts=[settings.es_host])
    search.indices.refresh(index=f"{settings.index_prefix}-*")
    landed = _count(search, settings.alias)
    parked = _count(search, settings.quarantine_index)
    print(f"  now: landed {landed}, quarantined {parked}")


_SERVERS = {"opensearch": OpenSearchServer, "elasticsearch": ElasticsearchServer}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="logstream on the local stack")
    parser.add_argument(
        "--engine", choices=sorted(_SERVERS), default=os.environ.get("ENGINE") or "opensearch"
    )
    engine = parser.parse_args(argv).engine
    started = time.monotonic()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log
    _say(f"Starting {engine} (real server) and moto (AWS APIs)")
    with _SERVERS[engine]() as cluster, MotoServer() as moto:
        print(f"  {engine} {cluster.url}   moto {moto.endpoint_url}")
        _configure(engine, cluster.url, moto.endpoint_url)
        _create_state_table()
        _say("Writing sample logs to CloudWatch Logs")
        written = _write_sample_logs()
        _say("Delivering them to the decoder as subscription payloads")
        reports = _ship()
        _show(written, reports)
        _heal()
    print(f"\nDone in {time.monotonic() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
