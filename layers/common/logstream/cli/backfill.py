"""``python -m logstream.cli backfill ...``: start, watch and cancel backfill jobs.

Reads the same settings as the functions (STATE_TABLE, LOG_GROUPS, ES_HOST...)
and calls the same service. ``start`` only plans: the scheduled workers ship,
unless ``--work`` asks this process to work the job off itself.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from logstream.backfill.model import JobView
from logstream.clients import backfill_service
from logstream.errors import InputError
from logstream.retry import Deadline


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "backfill", help="plan, inspect and cancel backfill jobs"
    )
    actions = parser.add_subparsers(dest="action", required=True)

    start = actions.add_parser("start", help="plan a job (and optionally work it here)")
    start.add_argument(
        "--group",
        action="append",
        dest="groups",
        default=[],
        help="log group name, or prefix ending in *; repeatable",
    )
    span = start.add_mutually_exclusive_group()
    span.add_argument("--days", type=int, help="the last N days (default BACKFILL_DAYS)")
    span.add_argument("--start", help="ISO-8601 or epoch ms; with --end (default now)")
    start.add_argument("--end", help="ISO-8601 or epoch ms")
    start.add_argument(
        "--work",
        type=float,
        metavar="SECONDS",
        help="work the job in this process for up to SECONDS",
    )
    start.set_defaults(run=_start)

    for name, helptext in (("status", "show a job's progress"), ("cancel", "cancel a job")):
        sub = actions.add_parser(name, help=helptext)
        sub.add_argument("job_id")
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.set_defaults(run=_status if name == "status" else _cancel)

    listing = actions.add_parser("list", help="list jobs, newest last")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=_list)

    work = actions.add_parser("work", help="work open jobs in this process")
    work.add_argument("--seconds", type=float, default=600.0)
    work.set_defaults(run=_work)


def _start(args: argparse.Namespace) -> int:
    payload: dict[str, Any] = {}
    if args.groups:
        payload["log_groups"] = args.groups
    if args.days is not None:
        payload["days"] = args.days
    if args.start:
        payload["start"] = args.start
        if args.end:
            payload["end"] = args.end
    service = backfill_service()
    try:
        view = service.start(payload, Deadline.after_seconds(300))
    except InputError as error:
        print(f"error: {error}")
        return 2
    print(_describe(view))
    if args.work:
        report = service.work(Deadline.after_seconds(args.work), job_ids=[view.job_id])
        print(json.dumps(report.as_dict(), indent=2))
        print(_describe(service.status(view.job_id)))
    return 0


def _status(args: argparse.Namespace) -> int:
    return _show_job(args, cancel=False)


def _cancel(args: argparse.Namespace) -> int:
    return _show_job(args, cancel=True)


def _show_job(args: argparse.Namespace, *, cancel: bool) -> int:
    service = backfill_service()
    try:
        view = service.cancel(args.job_id) if cancel else service.status(args.job_id)
    except InputError as error:
        print(f"error: {error}")
        return 2
    print(json.dumps(view.as_dict(), indent=2) if args.json else _describe(view))
    return 0


def _list(args: argparse.Namespace) -> int:
    views = backfill_service().list_jobs()
    if args.json:
        print(json.dumps([v.as_dict() for v in views], indent=2))
    for view in views if not args.json else []:
        print(_describe(view))
    return 0


def _work(args: argparse.Namespace) -> int:
    report = backfill_service().work(Deadline.after_seconds(args.seconds))
    print(json.dumps(report.as_dict(), indent=2))
    return 0


def _describe(view: JobView) -> str:
    total = max(view.chunks_total, 1)
    filled = int(20 * view.chunks_done / total)
    bar = "#" * filled + "." * (20 - filled)
    eta = f", ETA {view.eta_seconds}s" if view.eta_seconds is not None else ""
    lines = [
        f"job {view.job_id} [{bar}] {view.chunks_done}/{view.chunks_total} chunks, "
        f"{view.events_shipped} events, {view.quarantined} quarantined, {view.status}{eta}",
        f"  groups: {', '.join(view.log_groups) or '-'}   range: {view.start} .. {view.end}",
    ]
    lines += [f"  warning: {w}" for w in view.warnings]
    return "\n".join(lines)
