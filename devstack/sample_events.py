"""Encode ``events/*.source.json`` into the ``events/*.json`` Lambda events.

The readable source sits next to the encoded event (base64 + gzip, as a
subscription filter sends it), so samples stay reviewable; ``sam local invoke
-e events/decoder-subscription.json`` and the tests use the encoded ones.
Run ``python -m devstack.sample_events`` after editing a source.
"""

from __future__ import annotations

import json
from pathlib import Path

from devstack.payloads import encode_data

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"


def encoded_event(source: Path) -> dict[str, object]:
    body = json.loads(source.read_text())
    compact = json.dumps(body, separators=(",", ":")).encode()
    return {"awslogs": {"data": encode_data(compact)}}


def sources() -> list[Path]:
    return sorted(EVENTS_DIR.glob("decoder-*.source.json"))


def target_of(source: Path) -> Path:
    return source.with_name(source.name.replace(".source.json", ".json"))


def main() -> None:
    for source in sources():
        target = target_of(source)
        target.write_text(json.dumps(encoded_event(source), indent=2) + "\n")
        print(f"{source.name} -> {target.name}")


if __name__ == "__main__":
    main()
