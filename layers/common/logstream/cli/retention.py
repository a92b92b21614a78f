"""``logstream retention``: delete the deployment's expired daily indices, or list them.

``--dry-run`` decides exactly as the scheduled run does and deletes nothing;
``--days N`` (only with ``--dry-run``) shows what a RETENTION_DAYS of N would delete.
"""

from __future__ import annotations

import argparse
from typing import Any

from logstream import clients
from logstream.cli.output import print_json, table
from logstream.errors import InputError
from logstream.retention.janitor import RetentionJanitor, RetentionReport, ownership_of
from logstream.retry import Deadline
from logstream.settings import load_settings


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "retention", help="delete daily indices older than RETENTION_DAYS (or list them)"
    )
    parser.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    parser.add_argument(
        "--days", type=int, help="with --dry-run: the RETENTION_DAYS to try (default: deployed)"
    )
    parser.add_argument("--seconds", type=float, default=300.0, help="time budget")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    if args.days is not None and not args.dry_run:
        raise InputError("--days only goes with --dry-run; deletion uses the deployed days")
    if args.days is not None and not 1 <= args.days <= 3650:
        raise InputError(f"--days {args.days} is outside 1..3650")
    settings = load_settings()
    days = settings.retention_days if args.days is None else args.days
    janitor = RetentionJanitor(clients.cluster(), ownership_of(settings), days)
    report = janitor.run(Deadline.after_seconds(args.seconds), dry_run=args.dry_run)
    if args.json:
        print_json(report.as_dict())
    else:
        print(_text(report))
    return 0 if not report.deferred else 1


def _text(report: RetentionReport) -> str:
    if report.retention_days == 0:
        return "RETENTION_DAYS is 0: every index is kept (nothing to do)"
    verb = "would delete" if report.dry_run else "deleted"
    rows: list[tuple[str, str]] = [(verb, name) for name in report.deleted]
    rows += [("kept: not this deployment's", name) for name in report.not_ours]
    rows += [("kept: empty, nothing proves whose", name) for name in report.unverified]
    rows += [("kept: date does not parse", name) for name in report.bad_dates]
    rows += [("left for the next run: no time", name) for name in report.deferred]
    summary = (
        f"keeping {report.retention_days} days from {report.first_kept_day}; "
        f"{report.retained} daily indices within them"
    )
    return "\n".join(filter(None, [summary, table(("outcome", "index"), rows)]))
