"""``logstream report --html out.html``: the completeness report as one page."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from logstream import clients
from logstream.cli.output import print_json
from logstream.cli.wiring import state_table
from logstream.errors import InputError
from logstream.report.html import render_html
from logstream.report.ledger import last_days
from logstream.report.sources import load_ledger
from logstream.settings import load_settings


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report", help="the completeness report: log groups by days, quarantine by reason"
    )
    parser.add_argument("--html", metavar="FILE", help="write the page to FILE")
    parser.add_argument("--days", type=int, default=14, help="how many days (default 14)")
    parser.add_argument(
        "--group", action="append", dest="groups", help="a log group (default: LOG_GROUPS)"
    )
    parser.add_argument("--json", action="store_true", help="the ledger as JSON")
    parser.set_defaults(run=_report)


def _report(args: argparse.Namespace) -> int:
    settings = load_settings()
    groups = args.groups or list(settings.log_groups)
    if not groups:
        raise InputError("no log groups: pass --group NAME or configure LOG_GROUPS")
    if not 1 <= args.days <= 400:
        raise InputError("--days must be between 1 and 400")
    now = datetime.now(UTC)
    ledger = load_ledger(
        clients.dynamodb_client(),
        state_table(),
        clients.cluster(),
        settings.quarantine_index,
        log_groups=groups,
        days=last_days(now.date(), args.days),
        now=now,
    )
    if args.html:
        Path(args.html).write_text(render_html(ledger), encoding="utf-8")
    totals = {state.value: n for state, n in ledger.totals().items()}
    if args.json:
        print_json({"groups": groups, "days": args.days, "totals": totals, "html": args.html})
    else:
        summary = ", ".join(f"{n} {state}" for state, n in totals.items())
        print(f"{len(groups)} groups x {args.days} days: {summary}")
        if args.html:
            print(f"written to {args.html}")
    return 0
