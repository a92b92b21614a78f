"""``python -m logstream.cli reconcile``: reconcile log groups now and print the report.

Without ``--start``/``--end`` each group is checked from its reconciled-through
watermark, as the scheduled function does (and the watermark advances). With a
range, that range is checked and repaired; the watermark moves only when the
range starts at or before it. ``reports`` shows what earlier runs stored.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from logstream.clients import reconciler
from logstream.observability import metrics
from logstream.reconcile.report import GroupReport, RunReport, Status
from logstream.retry import Deadline
from logstream.settings import load_settings
from logstream.times import iso, parse_time

#: Exit codes: 0 everything proven (or repaired), 1 gaps still open or a group
#: missing or failed, 2 bad arguments.
_BAD_STATUSES = frozenset({Status.GAPS_OPEN, Status.FAILED, Status.GROUP_MISSING})


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "reconcile", help="check that the index holds every CloudWatch event; repair gaps"
    )
    parser.add_argument(
        "--group",
        action="append",
        dest="groups",
        default=[],
        help="log group name, or prefix ending in *; repeatable (default LOG_GROUPS)",
    )
    parser.add_argument("--start", help="ISO-8601 or epoch ms (default: the watermark)")
    parser.add_argument("--end", help="ISO-8601 or epoch ms (default: now - settle lag)")
    parser.add_argument("--seconds", type=float, default=900.0, help="time budget (default 900)")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.set_defaults(run=_run)
    sub = parser.add_subparsers(dest="action")
    reports = sub.add_parser("reports", help="show the reports earlier runs stored")
    reports.add_argument("--group", dest="report_group", required=True)
    reports.add_argument("--limit", type=int, default=5)
    reports.set_defaults(run=_reports)


def _run(args: argparse.Namespace) -> int:
    settings = load_settings()
    groups = args.groups or list(settings.log_groups)
    if not groups:
        print("error: no log groups: pass --group or set LOG_GROUPS")
        return 2
    try:
        start = parse_time(args.start, "--start") if args.start else None
        end = parse_time(args.end, "--end") if args.end else None
    except ValueError as error:
        print(f"error: {error}")
        return 2
    if start is not None and end is not None and end <= start:
        print("error: --end must be after --start")
        return 2
    report = reconciler().run(
        groups, Deadline.after_seconds(args.seconds), start_ms=start, end_ms=end
    )
    # The CLI prints its report; EMF metrics are for the functions.
    metrics.clear_metrics()
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(describe(report))
    return 1 if any(g.status in _BAD_STATUSES for g in report.groups) else 0


def _reports(args: argparse.Namespace) -> int:
    settings = load_settings()
    if settings.state_table is None:
        print("error: STATE_TABLE is not set")
        return 2
    from logstream.clients import dynamodb_client  # noqa: PLC0415 - only this action needs it
    from logstream.reconcile.store import DynamoReconcileState  # noqa: PLC0415 - same

    stored = DynamoReconcileState(dynamodb_client(), settings.state_table).reports(
        args.report_group, args.limit
    )
    print(json.dumps(stored, indent=2))
    return 0


def describe(report: RunReport) -> str:
    """A human summary: one block per group, every gap named."""
    lines = [f"reconciliation run {report.run_started}"]
    for group in report.groups:
        lines += _describe_group(group)
    return "\n".join(lines)


def _describe_group(group: GroupReport) -> list[str]:
    span = (
        f"{iso(group.start_ms)} .. {iso(group.end_ms)}"
        if group.start_ms is not None and group.end_ms is not None
        else "-"
    )
    lines = [
        "",
        f"{group.log_group}: {group.status.value}",
        f"  range           {span}",
        f"  proven through  {iso(group.proven_through) if group.proven_through else '-'}",
        f"  windows checked {group.windows_checked} "
        f"(count queries {group.count_queries}, refinements {group.refinements}, "
        f"ranges fetched {group.ranges_fetched})",
        f"  events          source {group.events_in_source}, index {group.events_in_index}",
        f"  gaps            {group.gaps_found}: {group.events_missing} missing, "
        f"{group.events_reshipped} re-shipped, {group.events_duplicate} already there, "
        f"{group.events_parked} parked, {group.events_still_missing} still missing",
        f"  CloudWatch API  {group.cloudwatch_calls} calls "
        + json.dumps(dict(sorted(group.api_calls.items()))),
    ]
    if group.insights_fallbacks:
        lines.append("  Insights unavailable: counted with FilterLogEvents")
    for gap in group.gaps:
        lines.append(
            f"  gap {gap['start']} .. {gap['end']}: {gap['missing']} missing"
            + (f", {gap['still_missing']} still missing" if gap["still_missing"] else "")
        )
    for extra in group.unexpected:
        lines.append(
            f"  not in CloudWatch: {extra['count']} documents in {extra['start']} .. "
            f"{extra['end']} (kept; e.g. {', '.join(extra['doc_ids'][:3])})"
        )
    lines += [f"  note: {note}" for note in group.notes]
    if group.error:
        lines.append(f"  error: {group.error}")
    return lines
