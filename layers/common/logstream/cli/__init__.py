"""``python -m logstream.cli``: operator commands on the deployed state.

Each capability registers its own subcommand from a module of this package
(``backfill``, ``reconcile``, ``drift``...). They run where AWS credentials
are, read the same settings as the functions (STATE_TABLE, ES_HOST...) and
call the same services, so what the CLI reports is what the functions see.
"""

from __future__ import annotations

import argparse
import importlib
import os
from collections.abc import Sequence

#: Subcommand modules, each with ``register(subparsers)``.
COMMANDS: tuple[str, ...] = ("backfill", "drift", "reconcile")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m logstream.cli", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"logstream.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # EMF metrics are for Lambda's log pipeline; on a terminal they would only
    # interleave JSON blobs with the report (set the variable to false to keep them).
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    args = build_parser().parse_args(argv)
    result: int = args.run(args)
    return result
