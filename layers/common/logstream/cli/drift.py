"""``python -m logstream.cli drift ...``: the drift report, a scan, or a heal run.

* ``drift report [--group G]``: every decision (group, field, types seen,
  first seen, count, resolution), read from the state table;
* ``drift scan [--group G]``: field type conflicts and new fields across each
  group's daily indices, plus documents waiting in quarantine; changes nothing;
* ``drift heal [--group G] [--seconds N]``: what the scheduled function does.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from logstream.clients import schema_healer
from logstream.naming import SHARED_SCOPE
from logstream.retry import Deadline


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "drift", help="schema drift: report decisions, scan indices, heal"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    for name, helptext, run in (
        ("report", "the drift report: every decision per group and field", _report),
        ("scan", "conflicts and new fields across daily indices (read only)", _scan),
        ("heal", "decide, fix templates and indices, replay the quarantine", _heal),
    ):
        sub = actions.add_parser(name, help=helptext)
        sub.add_argument("--group", action="append", dest="groups", default=[], help="repeatable")
        sub.add_argument("--json", action="store_true", help="print JSON")
        if name == "heal":
            sub.add_argument("--seconds", type=float, default=840.0, help="time budget")
        sub.set_defaults(run=run)


def _report(args: argparse.Namespace) -> int:
    healer = schema_healer()
    rows = healer.report_rows(args.groups or healer.groups_to_heal())
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(_table(rows))
    return 0


def _scan(args: argparse.Namespace) -> int:
    healer = schema_healer()
    chosen = args.groups or healer.groups_to_heal()
    scans = [healer.scan(scope).as_dict() for scope in healer.scopes(chosen)]
    waiting = healer.quarantine_counts()
    waiting[SHARED_SCOPE] = sum(waiting.values())  # the shared scope holds every group's
    if args.json:
        print(json.dumps({"scans": scans, "quarantined": waiting}, indent=2))
        return 0
    for scan in scans:
        print(
            f"{scan['group']}: {scan['indices']} indices, {len(scan['conflicts'])} conflicts, "
            f"{scan['new_field_count']} new fields, {waiting.get(scan['group'], 0)} parked"
        )
        for conflict in scan["conflicts"]:
            print(f"  {conflict['field']}: {', '.join(conflict['types'])}")
    return 1 if any(s["conflicts"] for s in scans) else 0


def _heal(args: argparse.Namespace) -> int:
    healer = schema_healer()
    groups = args.groups or healer.groups_to_heal()
    report = healer.heal(groups, Deadline.after_seconds(args.seconds)).as_dict()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for group in report["groups"]:
            print(
                f"{group['group']}: replayed {group['replayed'] + group['already_present']}, "
                f"still parked {group['still_quarantined']}, rebuilt "
                f"{len(group['indices_rebuilt'])} indices, conflicts left "
                f"{group['conflicts_after']}, changes {group['changes']}"
            )
        print(_table(report["report"]))
    return 0 if report["conflicts_after"] == 0 and report["still_quarantined"] == 0 else 1


def _table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no drift decisions"
    header = ("group", "field", "types_seen", "first_seen", "count", "resolution")
    cells = [header] + [
        (
            r["group"],
            r["field"],
            ",".join(r["types_seen"]),
            r["first_seen"],
            str(r["count"]),
            f"{r['resolution']} (keep {r['established_type']})",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells
    )
