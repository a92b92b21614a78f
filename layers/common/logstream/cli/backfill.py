"""``logstream backfill start|list|show|cancel|work``: plan, watch and steer backfill jobs.

``start`` plans the job and answers at once with its id (a client token,
generated unless ``--client-token`` is given, makes a retried start answer
with the same job); the scheduled workers ship it. ``--watch`` follows the
job with a live progress bar; ``--work SECONDS`` ships it from this process
meanwhile (where no scheduled worker runs, e.g. the local devstack).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from typing import Any

from logstream.backfill.model import JobStatus, JobView
from logstream.backfill.service import BackfillService
from logstream.cli.output import print_json, table
from logstream.cli.progress import ProgressLine
from logstream.clients import backfill_service
from logstream.retry import Deadline


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "backfill", help="plan, watch and cancel backfill jobs"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    start = actions.add_parser("start", help="plan a job; it answers at once with the job id")
    start.add_argument(
        "--group",
        action="append",
        dest="groups",
        default=[],
        help="log group name, or prefix ending in *; repeatable (default LOG_GROUPS)",
    )
    span = start.add_mutually_exclusive_group()
    span.add_argument("--days", type=int, help="the last N days (default BACKFILL_DAYS)")
    span.add_argument("--start", help="ISO-8601 or epoch ms; with --end (default now)")
    start.add_argument("--end", help="ISO-8601 or epoch ms")
    start.add_argument("--client-token", help="the same token answers with the same job")
    start.add_argument(
        "--work", type=float, metavar="SECONDS", help="ship the job in this process too"
    )
    _watch_options(start)
    start.set_defaults(run=_start)

    for name, helptext, run in (
        ("show", "a job's progress", _show),
        ("status", "the same as show", _show),
        ("cancel", "cancel a job", _cancel),
    ):
        sub = actions.add_parser(name, help=helptext)
        sub.add_argument("job_id")
        if name != "cancel":
            _watch_options(sub)
        else:
            sub.add_argument("--json", action="store_true", help="print JSON")
        sub.set_defaults(run=run)

    listing = actions.add_parser("list", help="every job, newest last")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=_list)

    work = actions.add_parser("work", help="work open jobs in this process")
    work.add_argument("--seconds", type=float, default=600.0)
    work.add_argument("--json", action="store_true", help="print JSON")
    work.set_defaults(run=_work)


def _watch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--watch", action="store_true", help="follow the job with a progress bar")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    parser.add_argument(
        "--max-polls", type=int, default=None, help="stop watching after N polls (default: done)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def _start(args: argparse.Namespace) -> int:
    payload: dict[str, Any] = {"client_token": args.client_token or uuid.uuid4().hex}
    if args.groups:
        payload["log_groups"] = args.groups
    if args.days is not None:
        payload["days"] = args.days
    if args.start:
        payload["start"] = args.start
        if args.end:
            payload["end"] = args.end
    service = backfill_service()
    view = service.start(payload, Deadline.after_seconds(300))
    worker = _BackgroundWork(service, view.job_id, args.work) if args.work else None
    if args.watch or worker is not None:
        view = _follow(service, view, args, worker.thread if worker else None)
    if worker is not None:
        worker.raise_failure()
    if args.json:
        print_json(view.as_dict())
    else:
        print(describe(view))
    return 0


class _BackgroundWork:
    """The job worked in a thread while the main thread draws its progress."""

    def __init__(self, service: BackfillService, job_id: str, seconds: float) -> None:
        self.error: BaseException | None = None
        self.thread = threading.Thread(
            target=self._run, args=(service, job_id, seconds), name="backfill-worker", daemon=True
        )
        self.thread.start()

    def _run(self, service: BackfillService, job_id: str, seconds: float) -> None:
        try:
            service.work(Deadline.after_seconds(seconds), job_ids=[job_id])
        except BaseException as error:  # noqa: BLE001 - raised again in the main thread
            self.error = error

    def raise_failure(self) -> None:
        self.thread.join()
        if self.error is not None:
            raise self.error


def _follow(
    service: BackfillService,
    view: JobView,
    args: argparse.Namespace,
    worker: threading.Thread | None,
) -> JobView:
    """Poll the job and draw its progress until it finishes (or the worker, or the polls, stop)."""
    progress = ProgressLine(sys.stderr if args.json else sys.stdout)
    polls = 0
    while True:
        view = service.status(view.job_id)
        progress.update(
            f"job {view.job_id}",
            view.chunks_done,
            view.chunks_total,
            view.events_shipped,
            eta_seconds=view.eta_seconds,
        )
        polls += 1
        worker_done = worker is not None and not worker.is_alive()
        if view.status != JobStatus.ACTIVE or worker_done:
            break
        if args.max_polls is not None and polls >= args.max_polls:
            break
        if worker is not None:
            worker.join(args.interval)
        else:
            time.sleep(args.interval)
    progress.finish()
    return view


def _show(args: argparse.Namespace) -> int:
    service = backfill_service()
    view = service.status(args.job_id)
    if args.watch:
        view = _follow(service, view, args, None)
    print_json(view.as_dict()) if args.json else print(describe(view))
    return 0


def _cancel(args: argparse.Namespace) -> int:
    view = backfill_service().cancel(args.job_id)
    print_json(view.as_dict()) if args.json else print(describe(view))
    return 0


def _list(args: argparse.Namespace) -> int:
    views = backfill_service().list_jobs()
    if args.json:
        print_json([v.as_dict() for v in views])
        return 0
    rows = [
        (
            v.job_id,
            v.status,
            f"{v.chunks_done}/{v.chunks_total}",
            v.events_shipped,
            v.quarantined,
            v.created_at,
            ", ".join(v.log_groups) or "-",
        )
        for v in views
    ]
    header = ("job", "status", "chunks", "events", "quarantined", "created", "groups")
    print(table(header, rows, empty="no backfill jobs"))
    return 0


def _work(args: argparse.Namespace) -> int:
    report = backfill_service().work(Deadline.after_seconds(args.seconds))
    if args.json:
        print_json(report.as_dict())
    else:
        print(table(("what", "count"), sorted(report.as_dict().items())))
    return 0


def describe(view: JobView) -> str:
    eta = f", ETA {view.eta_seconds}s" if view.eta_seconds is not None else ""
    lines = [
        f"job {view.job_id} {view.status}: {view.chunks_done}/{view.chunks_total} chunks, "
        f"{view.events_shipped} events, {view.quarantined} quarantined{eta}",
        f"  groups: {', '.join(view.log_groups) or '-'}   range: {view.start} .. {view.end}",
    ]
    lines += [f"  warning: {w}" for w in view.warnings]
    return "\n".join(lines)
