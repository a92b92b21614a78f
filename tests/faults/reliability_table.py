"""Render the fault matrix's rows (JSON from a run of tests/faults) into docs/reliability.md.

    python -m tests.faults.reliability_table [fault-matrix.json] [docs/reliability.md]

Only the table between the two marker comments is replaced; the prose
around it is kept as written.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from tests.support.lambda_harness import REPO

BEGIN = "<!-- fault-matrix:begin (rendered by python -m tests.faults.reliability_table) -->"
END = "<!-- fault-matrix:end -->"
DEFAULT_JSON = REPO / ".aws-sam" / "fault-matrix.json"
DEFAULT_DOC = REPO / "docs" / "reliability.md"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def invocations(calls: list[dict[str, Any]]) -> str:
    """Each call as "label: time / deadline (outcome)"; repeated labels folded into one."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for call in calls:
        groups.setdefault(re.sub(r"\s+\d+$", "", call["label"]), []).append(call)
    parts = []
    for label, group in groups.items():
        slowest = max(group, key=lambda c: c["seconds"] / c["deadline_seconds"])
        outcomes = sorted({c["outcome"] for c in group})
        times = f"{slowest['seconds']:.1f} s / {slowest['deadline_seconds']:.0f} s"
        if len(group) == 1:
            parts.append(f"{label}: {times} ({outcomes[0]})")
        else:
            parts.append(f"{label} x{len(group)}: slowest {times} ({', '.join(outcomes)})")
    return "; ".join(parts)


def render(rows: list[dict[str, Any]]) -> str:
    """The markdown table, one row per case, in case order."""
    head = (
        "| Case | Faults injected | Events sent | In the index | Parked | Lost | Duplicated "
        "| Invocations: time / deadline | Before deadline | Result |\n"
        "|---|---|---:|---:|---:|---:|---:|---|:-:|---|\n"
    )
    lines = []
    for row in sorted(rows, key=lambda r: str(r["case"])):
        result = row["outcome"]
        if row.get("failure"):
            result += f": {row['failure']}"
        lines.append(
            "| "
            + " | ".join(
                _cell(value)
                for value in (
                    f"`{row['case']}`",
                    row["faults"],
                    row["sent"],
                    row["in_index"],
                    row["parked"],
                    row["lost"],
                    row["duplicated"],
                    invocations(row["invocations"]),
                    "yes" if row["all_before_deadline"] else "**no**",
                    result,
                )
            )
            + " |"
        )
    return head + "\n".join(lines) + "\n"


def update(doc: Path, rows: list[dict[str, Any]]) -> None:
    text = doc.read_text(encoding="utf-8")
    before, _, rest = text.partition(BEGIN)
    _, _, after = rest.partition(END)
    if not rest:
        raise SystemExit(f"{doc} has no {BEGIN} marker")
    doc.write_text(f"{before}{BEGIN}\n{render(rows)}{END}{after}", encoding="utf-8")


def main(argv: list[str]) -> None:
    source = Path(argv[0]) if argv else DEFAULT_JSON
    doc = Path(argv[1]) if len(argv) > 1 else DEFAULT_DOC
    update(doc, json.loads(source.read_text(encoding="utf-8")))
    print(f"{doc}: {len(json.loads(source.read_text(encoding='utf-8')))} cases")


if __name__ == "__main__":
    main(sys.argv[1:])
