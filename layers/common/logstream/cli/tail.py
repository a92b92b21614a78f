"""``logstream tail GROUP``: follow a group's documents as they are indexed (Ctrl-C stops)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from logstream.cli.wiring import tail
from logstream.operations.tail import TailLine
from logstream.times import iso


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "tail", help="follow new documents of a log group"
    )
    parser.add_argument("group", help="the log group name")
    parser.add_argument("--lines", type=int, default=10, help="show the last N first")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    parser.add_argument("--max-polls", type=int, help="stop after N polls (default: Ctrl-C)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(run=_tail)


def _tail(args: argparse.Namespace) -> int:
    follower = tail(args.group)
    show = _json_line if args.json else _human_line
    try:
        for line in follower.last(args.lines):
            show(line)
        polls = 0
        while args.max_polls is None or polls < args.max_polls:
            time.sleep(args.interval)
            for line in follower.poll():
                show(line)
            polls += 1
    except KeyboardInterrupt:
        return 0
    return 0


def _human_line(line: TailLine) -> None:
    print(f"{iso(line.timestamp)} {line.log_stream} {line.message}", flush=True)


def _json_line(line: TailLine) -> None:
    sys.stdout.write(json.dumps(line.as_dict()) + "\n")
    sys.stdout.flush()
