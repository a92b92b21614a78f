"""``logstream status``: per log group, subscribed, lag, backfill, reconciliation, quarantine."""

from __future__ import annotations

import argparse
from typing import Any

from logstream.cli.output import print_json, table
from logstream.cli.wiring import status_reader
from logstream.operations.status import GroupStatus
from logstream.settings import load_settings


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "status", help="per log group: subscribed, lag, backfill, reconciliation, quarantine"
    )
    parser.add_argument(
        "--group",
        action="append",
        dest="groups",
        default=[],
        help="repeatable (default: LOG_GROUPS and every group the state table has seen)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=_status)


def _status(args: argparse.Namespace) -> int:
    reader = status_reader()
    groups = args.groups or reader.known_groups(load_settings().log_groups)
    statuses = reader.read(groups)
    if args.json:
        print_json([s.as_dict() for s in statuses])
    else:
        print(describe(statuses))
    return 0


def describe(statuses: list[GroupStatus]) -> str:
    rows = [
        (
            s.log_group,
            {True: "yes", False: "NO", None: "?"}[s.subscribed],
            s.last_acknowledged,
            _lag(s.lag_seconds),
            _backfill(s.backfill),
            s.verified_through,
            s.gaps_open if s.reconcile_status else None,
            ", ".join(f"{reason} {n}" for reason, n in sorted(s.quarantined.items())) or "0",
        )
        for s in statuses
    ]
    header = (
        "group",
        "subscribed",
        "last acknowledged",
        "lag",
        "backfill",
        "verified through",
        "gaps open",
        "quarantine",
    )
    return table(header, rows, empty="no log groups: pass --group, or set LOG_GROUPS")


def _lag(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h"


def _backfill(job: dict[str, Any] | None) -> str | None:
    if job is None:
        return None
    progress = f"{job['chunks_done']}/{job['chunks_total']}"
    return f"{job['status']} {progress} ({job['events_shipped']} events)"
