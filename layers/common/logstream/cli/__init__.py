"""``logstream``: the operator command (``pip install .``; also ``python -m logstream.cli``).

``--stack-name NAME`` reads the deployed stack's outputs (table, cluster
endpoint, index prefix, queues, functions); without it the same variables as
the functions (STATE_TABLE, ES_HOST...) are read from the environment, which
is how the local devstack is reached too. Each capability registers its
subcommand from a module of this package. Errors are one line on stderr and
a non-zero exit (2: fix the request or the configuration; 1: a dependency
failed); ``--json`` prints machine output.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from logstream.cli.output import error_line
from logstream.errors import InputError, LogstreamError

#: Subcommand modules, each with ``register(subparsers)``.
COMMANDS: tuple[str, ...] = (
    "status",
    "backfill",
    "reconcile",
    "quarantine",
    "failures",
    "tail",
    "drift",
    "report",
    "dashboards",
    "retention",
)
#: Exit codes.
EXIT_INPUT = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logstream",
        description="See and steer a logstream deployment: status, backfill, reconciliation, "
        "quarantine, failed batches, live tail.",
    )
    parser.add_argument(
        "--stack-name",
        default=os.environ.get("LOGSTREAM_STACK_NAME"),
        help="the deployed stack; its outputs give the settings (default $LOGSTREAM_STACK_NAME; "
        "without it the functions' variables are read: STATE_TABLE, ES_HOST...)",
    )
    parser.add_argument("--region", help="AWS region of the stack (default AWS_REGION)")
    parser.add_argument(
        "--json", dest="global_json", action="store_true", help="machine output (JSON)"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"logstream.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # EMF metrics and Powertools JSON logs are for Lambda's log pipeline; on a
    # terminal they would interleave with the output (set the variables to keep them).
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    args = build_parser().parse_args(argv)
    args.json = bool(getattr(args, "json", False) or args.global_json)
    _logs_to_stderr()
    try:
        _use_stack(args.stack_name, args.region)
        result: int = args.run(args)
    except InputError as error:
        print(error_line(str(error)), file=sys.stderr)
        return EXIT_INPUT
    except (LogstreamError, ClientError, BotoCoreError) as error:
        print(error_line(f"{type(error).__name__}: {error}"), file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    return result


def run() -> None:
    """The ``logstream`` console script."""
    sys.exit(main())


def _use_stack(stack_name: str | None, region: str | None) -> None:
    """Point every client at the stack: its outputs become the settings variables."""
    import boto3  # noqa: PLC0415 - not needed for --help

    if region:
        os.environ["AWS_REGION"] = region
    elif not os.environ.get("AWS_REGION"):
        # The functions read AWS_REGION; a CLI user may have only a profile's region.
        found = boto3.session.Session().region_name
        if found:
            os.environ["AWS_REGION"] = found
    if not stack_name:
        return

    from logstream import clients  # noqa: PLC0415 - after the region is set
    from logstream.operations.stack import describe_stack  # noqa: PLC0415

    cloudformation = boto3.client("cloudformation", region_name=os.environ.get("AWS_REGION"))
    os.environ.update(describe_stack(cloudformation, stack_name).settings_env())
    clients.reset()


def _logs_to_stderr() -> None:
    """Whatever the services log goes to stderr, never into the output."""
    from logstream.observability import SERVICE  # noqa: PLC0415 - after the env defaults

    for handler in logging.getLogger(SERVICE).handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.stream = _STDERR


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written (it may be replaced meanwhile)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


_STDERR = _CurrentStderr()
