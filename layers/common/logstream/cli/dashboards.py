"""``logstream dashboards install URL``: import the OpenSearch Dashboards objects."""

from __future__ import annotations

import argparse
import os
from typing import Any

from logstream.cli.output import print_json
from logstream.dashboards.install import install_dashboards
from logstream.settings import load_settings


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "dashboards", help="OpenSearch Dashboards: install the saved objects"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    install = actions.add_parser("install", help="import index pattern, searches, visualizations")
    install.add_argument("url", help="the Dashboards URL, e.g. https://host/_dashboards")
    install.add_argument("--user", help="basic-auth user (password from $DASHBOARDS_PASSWORD)")
    install.add_argument("--json", action="store_true", help="machine output")
    install.set_defaults(run=_install)


def _install(args: argparse.Namespace) -> int:
    result = install_dashboards(
        args.url,
        load_settings().index_prefix,
        username=args.user,
        password=os.environ.get("DASHBOARDS_PASSWORD") if args.user else None,
    )
    if args.json:
        print_json(
            {"success": result.success, "imported": result.imported, "errors": result.errors}
        )
    else:
        print(f"imported {result.imported} objects" + ("" if result.success else ", with errors"))
        for error in result.errors:
            print(f"  {error.get('type')} {error.get('id')}: {error.get('error')}")
    return 0 if result.success else 1
