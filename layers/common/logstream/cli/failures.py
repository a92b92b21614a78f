"""``logstream failures replay``: ship again the batches the decoder gave up on.

Reads the on-failure queue (stack output ``DecoderFailureQueueUrl``), ships
each record's original subscription batch through the live path and deletes
the message only after the batch was delivered (see
:mod:`logstream.operations.failures`).
"""

from __future__ import annotations

import argparse
from typing import Any

from logstream.cli.output import print_json, table
from logstream.cli.wiring import failure_replay
from logstream.retry import Deadline


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "failures", help="the decoder's on-failure queue: replay what failed"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    replay = actions.add_parser("replay", help="re-ship the failed batches, then delete them")
    replay.add_argument("--queue-url", help="default: the stack output, or FAILURE_QUEUE_URL")
    replay.add_argument("--max-messages", type=int, help="stop after N messages")
    replay.add_argument("--seconds", type=float, default=600.0, help="time budget")
    replay.add_argument("--json", action="store_true", help="print JSON")
    replay.set_defaults(run=_replay)


def _replay(args: argparse.Namespace) -> int:
    report = failure_replay(args.queue_url).run(
        Deadline.after_seconds(args.seconds), max_messages=args.max_messages
    )
    if args.json:
        print_json(report.as_dict())
    else:
        rows = [
            ("messages", report.messages),
            ("replayed and deleted", report.replayed),
            ("failed again (kept)", report.failed),
            ("not a failure record (kept)", report.unreadable),
            ("events", report.events),
            ("delivered", report.delivered),
            ("already in the index", report.duplicates),
            ("quarantined", report.quarantined),
        ]
        print(table(("outcome", "count"), rows))
        for error in report.errors[:10]:
            print(f"error: {error}")
    return 0 if report.failed == 0 and report.unreadable == 0 else 1
