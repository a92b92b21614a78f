"""Benchmarks for the decoder hot path and the Lambda cold start.

Run from the repository root, e.g. ``python -m benchmarks.bench_decoder``
(see ``benchmarks/README.md``). Importing the package puts the repository
root and ``layers/common`` on ``sys.path`` when they are missing, so the
``make bench`` target works without ``PYTHONPATH``; an explicit
``PYTHONPATH`` (for example the ``sam build`` output) still wins because the
fallbacks are appended, not prepended.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER_CODE = ROOT / "layers" / "common"

for _path in (ROOT, LAYER_CODE):
    if str(_path) not in sys.path:
        sys.path.append(str(_path))
