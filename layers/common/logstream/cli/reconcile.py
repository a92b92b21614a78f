"""``logstream reconcile run|report``: reconcile log groups now, or read stored reports.

``run`` without ``--start``/``--end`` checks each group from its
reconciled-through watermark, as the scheduled function does (and the
watermark advances). With a range, that range is checked and repaired; the
watermark moves only when the range starts at or before it. ``report`` shows
what earlier runs stored, as a table.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from logstream.cli.output import print_json, table
from logstream.cli.wiring import state_table
from logstream.clients import dynamodb_client, reconciler
from logstream.errors import InputError
from logstream.observability import metrics
from logstream.reconcile.report import GroupReport, RunReport, Status
from logstream.reconcile.store import DynamoReconcileState
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
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser("run", help="reconcile now and print the report")
    run.add_argument(
        "--group",
        action="append",
        dest="groups",
        default=[],
        help="log group name, or prefix ending in *; repeatable (default LOG_GROUPS)",
    )
    run.add_argument("--start", help="ISO-8601 or epoch ms (default: the watermark)")
    run.add_argument("--end", help="ISO-8601 or epoch ms (default: now - settle lag)")
    run.add_argument("--seconds", type=float, default=900.0, help="time budget (default 900)")
    run.add_argument("--json", action="store_true", help="print the full report as JSON")
    run.set_defaults(run=_run)
    report = actions.add_parser("report", help="the reports earlier runs stored, as a table")
    report.add_argument("--group", dest="report_group", required=True)
    report.add_argument("--limit", type=int, default=10)
    report.add_argument("--json", action="store_true", help="print the stored reports as JSON")
    report.set_defaults(run=_reports)


def _run(args: argparse.Namespace) -> int:
    settings = load_settings()
    groups = args.groups or list(settings.log_groups)
    if not groups:
        raise InputError("no log groups: pass --group or set LOG_GROUPS")
    try:
        start = parse_time(args.start, "--start") if args.start else None
        end = parse_time(args.end, "--end") if args.end else None
    except ValueError as error:
        raise InputError(str(error)) from None
    if start is not None and end is not None and end <= start:
        raise InputError("--end must be after --start")
    report = reconciler().run(
        groups, Deadline.after_seconds(args.seconds), start_ms=start, end_ms=end
    )
    # The CLI prints its report; EMF metrics are for the functions.
    metrics.clear_metrics()
    if args.json:
        print_json(report.as_dict())
    else:
        print(summary_table([g.as_dict() for g in report.groups]))
        print(describe(report))
    return 1 if any(g.status in _BAD_STATUSES for g in report.groups) else 0


def _reports(args: argparse.Namespace) -> int:
    stored = DynamoReconcileState(dynamodb_client(), state_table()).reports(
        args.report_group, args.limit
    )
    if args.json:
        print_json(stored)
    else:
        print(summary_table(stored, first_column="run_started"))
    return 0


def summary_table(reports: list[dict[str, Any]], *, first_column: str = "log_group") -> str:
    """One row per group report: status, range, proven through, counts on both sides, gaps."""
    rows = [
        (
            r.get(first_column),
            r.get("status"),
            f"{r.get('start_iso') or '-'} .. {r.get('end_iso') or '-'}",
            r.get("proven_through_iso"),
            r.get("events_in_source"),
            r.get("events_in_index"),
            r.get("gaps_found"),
            r.get("events_reshipped"),
            r.get("events_still_missing"),
        )
        for r in reports
    ]
    header = (
        "group" if first_column == "log_group" else "run",
        "status",
        "range",
        "verified through",
        "source",
        "index",
        "gaps",
        "re-shipped",
        "still missing",
    )
    return table(header, rows, empty="no reconciliation reports")


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
