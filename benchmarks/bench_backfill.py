"""One backfill worker's throughput against moto and the real OpenSearch.

Baselines, measured in the same run: paging the same windows with
FilterLogEvents alone, and shipping the same events with the Shipper alone
(into other indices). The worker can go no faster than the slower of the two;
the ratio says how much of that pace it keeps while leasing and checkpointing.

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
from devstack.environment import local_function_env
from devstack.moto_server import MotoServer, aws_env, create_state_table
from devstack.opensearch_server import OpenSearchServer
from devstack.payloads import make_events

GROUP = "/aws/lambda/bench-backfill"


def _configure(opensearch_url: str, moto_url: str) -> None:
    os.environ.update(
        local_function_env(
            aws_env(moto_url),
            opensearch_url=opensearch_url,
            index_prefix="bench",
            state_table="bench-state",
            BACKFILL_DAYS="0",
            POWERTOOLS_METRICS_DISABLED="true",
            POWERTOOLS_LOG_LEVEL="ERROR",
        )
    )
    create_state_table(boto3.client("dynamodb"), "bench-state")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=30_000)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    with OpenSearchServer() as opensearch, MotoServer() as moto:
        _configure(opensearch.url, moto.endpoint_url)
        from logstream.clients import backfill_service, bulk_sink  # noqa: PLC0415 - env first
        from logstream.retry import Deadline  # noqa: PLC0415
        from logstream.shipping.documents import EventOrigin  # noqa: PLC0415
        from logstream.shipping.parking import Parking  # noqa: PLC0415
        from logstream.shipping.service import Shipper  # noqa: PLC0415

        now = datetime.now(UTC)
        start = int((now - timedelta(days=1) + timedelta(minutes=1)).timestamp() * 1000)
        step = (int(now.timestamp() * 1000) - 120_000 - start) // args.events
        put_events(boto3.client("logs"), GROUP, "s", make_events(args.events, start, step_ms=step))

        service = backfill_service()
        job = service.start({"log_groups": [GROUP], "days": 1}, Deadline.after_seconds(60))
        chunks = service.chunks.open_chunks(job.job_id)

        # Baseline 1: the source alone, same windows, same page size.
        started = time.perf_counter()
        paged = 0
        pages = []
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
                pages.append(page.events)
                if page.next_token is None:
                    break
                token = page.next_token
        source_seconds = time.perf_counter() - started

        # Baseline 2: the cluster alone, the same pages shipped into other indices.
        # Run twice, the first to warm the cluster up (new indices, templates).
        origin = EventOrigin(log_group=GROUP, log_stream="", owner="123456789012", region="x")
        for attempt in range(2):
            sink_only = Shipper(
                bulk_sink(),
                Parking(bulk_sink(), f"benchsink{attempt}-quarantine", rescue=None),
                index_prefix=f"benchsink{attempt}",
                region="us-east-1",
            )
            started = time.perf_counter()
            for events in pages:
                sink_only.ship_events(events, origin, Deadline.after_seconds(600))
            sink_seconds = time.perf_counter() - started

        report = service.work(Deadline.after_seconds(1800), job_ids=[job.job_id])
        assert report.events == args.events == paged, (report.events, paged)

    source_rate = paged / source_seconds
    sink_rate = paged / sink_seconds
    worker = report.events_per_second
    rows = [
        ["FilterLogEvents paging alone (moto)", f"{source_rate:,.0f}", "-"],
        ["bulk shipping alone (the cluster's pace; baseline)", f"{sink_rate:,.0f}", "1.00x"],
        [
            "one backfill worker (page, ship, lease, checkpoint)",
            f"{worker:,.0f}",
            f"{worker / sink_rate:.2f}x",
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
            "The worker can go no faster than the slower of its source and its cluster; here the",
            "single-node OpenSearch on the same 2 cores sets the pace, so the worker is compared",
            "with shipping alone. The ratio is the figure to read, not the absolute rates.",
        ]
    )
    print(text)
    write_result(RESULTS_DIR / "backfill.md", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
