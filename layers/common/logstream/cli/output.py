"""How the CLI prints: aligned tables and JSON on stdout, one-line errors on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO


def print_json(value: Any, stream: TextIO | None = None) -> None:
    print(json.dumps(value, indent=2, default=str), file=stream or sys.stdout)


def table(header: Sequence[str], rows: Sequence[Sequence[object]], *, empty: str = "") -> str:
    """Left-aligned columns, two spaces apart; ``empty`` when there are no rows."""
    if not rows:
        return empty
    cells = [list(header)] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )


def error_line(message: str) -> str:
    """An error as one line: the first line of the message, prefixed with the program."""
    first = message.strip().splitlines()[0] if message.strip() else "failed"
    return f"logstream: error: {first}"
