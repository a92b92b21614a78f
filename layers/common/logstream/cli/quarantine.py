"""``logstream quarantine list|show|redrive``: what the cluster refused, and sending it again.

``redrive`` is for after the cause is fixed (a template, a field limit, a
drift decision): each parked document goes again to its own index under its
own ``_id``, and its record is deleted only once the cluster acknowledged it
(see :mod:`logstream.shipping.redrive`).
"""

from __future__ import annotations

import argparse
from typing import Any

from logstream.cli.output import print_json, table
from logstream.cli.wiring import parked_documents, quarantine_view, redrive
from logstream.retry import Deadline


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "quarantine", help="list, show and redrive refused documents"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="the newest records, with their reason")
    listing.add_argument("--group", help="only this log group")
    listing.add_argument("--reason", help="only this reason (type_conflict, bad_payload...)")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=_list)

    show = actions.add_parser("show", help="one record in full, its parked document included")
    show.add_argument("record_id")
    show.add_argument("--json", action="store_true", help="print JSON (the default)")
    show.set_defaults(run=_show)

    again = actions.add_parser("redrive", help="send parked documents again, once fixed")
    again.add_argument(
        "--group",
        action="append",
        dest="groups",
        default=[],
        help="repeatable (default: every group with refused documents)",
    )
    again.add_argument("--reason", help="only records of this reason")
    again.add_argument("--seconds", type=float, default=600.0, help="time budget")
    again.add_argument("--json", action="store_true", help="print JSON")
    again.set_defaults(run=_redrive)


def _list(args: argparse.Namespace) -> int:
    records = quarantine_view().records(log_group=args.group, reason=args.reason, limit=args.limit)
    if args.json:
        print_json([r.as_dict() for r in records])
        return 0
    rows = [(r.record_id, r.reason, r.log_group, r.parked_at, r.detail[:80]) for r in records]
    print(table(("record", "reason", "group", "parked", "detail"), rows, empty="quarantine empty"))
    return 0


def _show(args: argparse.Namespace) -> int:
    print_json(quarantine_view().record(args.record_id))
    return 0


def _redrive(args: argparse.Namespace) -> int:
    groups = args.groups or sorted(parked_documents().counts())
    report = redrive().run(groups, Deadline.after_seconds(args.seconds), reason=args.reason)
    if args.json:
        print_json(report.as_dict())
    else:
        rows = [
            ("records", report.records),
            ("delivered (record deleted)", report.delivered),
            ("already in the index (record deleted)", report.already_present),
            ("refused again (parked with the new reason)", report.refused_again),
            ("not delivered (kept)", report.undelivered),
            ("not tried (no time left)", report.not_tried),
        ]
        print(f"redrive of {', '.join(report.groups) or 'no groups'}")
        print(table(("outcome", "count"), rows))
        for note in report.notes:
            print(f"note: {note}")
    return 0 if report.records == report.unparked else 1
