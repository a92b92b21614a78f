"""One backfill worker's throughput against moto and the real OpenSearch.

Baseline, measured in the same run: paging the same windows with
FilterLogEvents alone (what the source can give at best). The ratio says how
much of the source's pace the worker keeps while shipping, leasing and
checkpointing.

    PYTHONPATH=layers/common:. python -m benchmarks.bench_backfill [--events N]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from datetime import UTC, datetime, timedelta

import boto3

from benchmarks._common import RESULTS_DIR, machine_header, table, write_result
from devstack.cloudwatch import put_events
from devstack.moto_server import MotoServer, aws_env, create_state_table
from devstack.opensearch_server import OpenSearchServer
from devstack.payloads import make_events

GROUP = "/aws/lambda/bench-backfill"


def _configure(opensearch_url: str, moto_url: str) -> None:
    os.environ.update(aws_env(moto_url))
    os.environ.update(
        {
            "ES_HOST": opensearch_url,
            "ES_AUTH": "none",
            "INDEX_PREFIX": "bench",
            "INDEX_REPLICAS": "0",
            "STATE_TABLE": "bench-state",
            "BACKFILL_DAYS": "0",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )
    create_state_table(boto3.client("dynamodb"), "bench-state")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=30_000)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    with OpenSearchServer() as opensearch, MotoServer() as moto:
        _configure(opensearch.url, moto.endpoint_url)
        from logstream.clients import backfill_service  # noqa: PLC0415 - after the env is set
        from logstream.retry import Deadline  # noqa: PLC0415

        now = datetime.now(UTC)
        start = int((now - timedelta(days=1)).timestamp() * 1000)
        step = (int(now.timestamp() * 1000) - 60_000 - start) // args.events
        put_events(boto3.client("logs"), GROUP, "s", make_events(args.events, start, step_ms=step))

        service = backfill_service()
        job = service.start({"log_groups": [GROUP], "days": 1}, Deadline.after_seconds(60))
        chunks = service.store.open_chunks(job.job_id)

        # Baseline: the source alone, same windows, same page size.
        started = time.perf_counter()
        paged = 0
        for chunk in chunks:
            token = None
            while True:
                page = service.source.filter_page(
                    GROUP,
                    chunk.start_ms,
                    chunk.end_ms,
                    Deadline.after_seconds(600),
                    next_token=token,
                )
                paged += len(page.events)
                if page.next_token is None:
                    break
                token = page.next_token
        source_seconds = time.perf_counter() - started

        report = service.work(Deadline.after_seconds(1800), job_ids=[job.job_id])
        assert report.events == args.events == paged, (report.events, paged)

    source_rate = paged / source_seconds
    rows = [
        ["FilterLogEvents paging alone (baseline)", f"{source_rate:,.0f}", "1.00x"],
        [
            "one backfill worker (page, ship, lease, checkpoint)",
            f"{report.events_per_second:,.0f}",
            f"{report.events_per_second / source_rate:.2f}x",
        ],
    ]
    text = "\n".join(
        [
            machine_header(
                "Backfill worker throughput (moto + real OpenSearch)",
                "benchmarks.bench_backfill",
                ["moto", "opensearch-py"],
            ),
            f"{args.events:,} events in one group over one day, {len(chunks)} chunks, "
            f"{report.pages} pages.",
            "",
            table(["path", "events/s", "vs baseline"], rows),
            "",
            "moto answers FilterLogEvents by scanning the whole group on every call, so both",
            "rates are far below what CloudWatch itself serves; the ratio is the figure to read.",
        ]
    )
    print(text)
    write_result(RESULTS_DIR / "backfill.md", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
