"""What the cyclic garbage collector costs ``build_documents``, and whether turning it off pays.

The process first loads the decoder handler (``functions/decoder/app.py``), so
the heap holds what a warm Lambda container holds (boto3, opensearch-py,
Powertools): a full collection has that much to walk. Then, on one payload of
``--events`` realistic events, trials of three variants take turns:

- ``gc on``: ``build_documents`` as production calls it;
- ``gc off``: ``gc.disable()`` around the call, ``gc.enable()`` after;
- ``frozen``: ``gc.freeze()`` before the call (the imported heap moved out of
  the collector's sight), ``gc.unfreeze()`` after.

Per trial: this thread's CPU seconds of ``build_documents`` (and of the whole
production path decode -> documents -> NDJSON -> gzip, the part of an
invocation the collector can touch), and the collections per generation during
the call (``gc.callbacks``). Ratios are per trial against the ``gc on`` trial
beside it. Nothing is asserted.

    PYTHONPATH=layers/common:. python -m benchmarks.bench_gc [--trials 15] [--events 10000]
"""

from __future__ import annotations

import argparse
import gc
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks import ROOT
from benchmarks._common import RESULTS_DIR, Spread, machine_header, table, write_result
from benchmarks._naive import REGION
from benchmarks.bench_invocation import LOG_GROUP, load_handler, payload

MODULE = "benchmarks.bench_gc"


def variants() -> dict[str, Callable[[Callable[[], object]], object]]:
    def on(call: Callable[[], object]) -> object:
        return call()

    def off(call: Callable[[], object]) -> object:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return call()
        finally:
            if enabled:
                gc.enable()

    def frozen(call: Callable[[], object]) -> object:
        gc.freeze()
        try:
            return call()
        finally:
            gc.unfreeze()

    return {"gc on": on, "gc off": off, "frozen": frozen}


def measure(args: argparse.Namespace) -> str:
    header = machine_header(f"GC and `build_documents`, {args.events:,} events", MODULE, [])
    load_handler(ROOT)  # the heap of a warm container
    from logstream.shipping import bulk, documents  # noqa: PLC0415
    from logstream.shipping.payload import decode_payload  # noqa: PLC0415

    data = payload(1, args.events)["awslogs"]["data"]
    batch = decode_payload(data)
    origin = documents.EventOrigin(batch.log_group, batch.log_stream, batch.owner, REGION)

    def build() -> object:
        return documents.build_documents(batch.events, origin, "logs")

    def whole() -> object:
        decoded = decode_payload(data)
        built = documents.build_documents(decoded.events, origin, "logs")
        return [
            bulk.gzip_body(bulk.encode_bulk_body(chunk), 1)
            for chunk in bulk.chunk_documents(built.documents, 100, 5 * 1024 * 1024)
        ]

    collections: Counter[str] = Counter()

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collections[current + f" gen{info['generation']}"] += 1

    gc.callbacks.append(count)
    times: dict[tuple[str, str], list[float]] = {}
    wrap = variants()
    current = ""
    for trial in range(args.trials):
        names = list(wrap) if trial % 2 == 0 else list(wrap)[::-1]
        for what, call in (("build_documents", build), ("production path", whole)):
            for name in names:
                gc.collect()
                current = f"{what}|{name}"
                started = time.thread_time()
                result = wrap[name](call)
                times.setdefault((what, name), []).append(time.thread_time() - started)
                current = ""
                del result
    gc.callbacks.remove(count)

    rows = []
    for what in ("build_documents", "production path"):
        base = times[(what, "gc on")]
        for name in wrap:
            mine = times[(what, name)]
            per_gen = ", ".join(
                f"gen{g}: {collections[f'{what}|{name} gen{g}'] / args.trials:.1f}"
                for g in range(3)
            )
            rows.append(
                [
                    f"{what}, {name}",
                    Spread.of(mine).scaled(1e6 / args.events).text(".2f"),
                    Spread.of([m / b for m, b in zip(mine, base, strict=True)]).text(".3f"),
                    per_gen,
                ]
            )
    return "\n".join(
        [
            header,
            "",
            f"Payload: {args.events:,} events of `devstack.payloads` ({LOG_GROUP}); "
            f"{args.trials} trials per variant, taking turns; the decoder handler loaded first.",
            "",
            table(
                [
                    "call, variant",
                    "µs/event (thread CPU)",
                    "÷ gc on, per trial",
                    "collections per call",
                ],
                rows,
            ),
        ]
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=15)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    text = measure(args)
    print(text, flush=True)
    write_result(args.output or RESULTS_DIR / "gc.md", text)


if __name__ == "__main__":
    main()
