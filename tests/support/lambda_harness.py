"""Run the handlers the way Lambda does, from the ``sam build`` output.

moto cannot execute Lambda code, so tests play the Lambda service: they load
``.aws-sam/build/<Function>/app.py`` (whose ``logstream`` import resolves to
the built layer, see the Makefile's ``integration`` target), hand it a
real-shaped event and a context with a real countdown, and let exceptions
propagate exactly as an invocation failure would.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

from devstack.lambda_context import FakeLambdaContext

REPO = Path(__file__).resolve().parents[2]
#: The `sam build` output; LOGSTREAM_BUILD_DIR points elsewhere (`sam build --build-dir`).
BUILD_DIR = Path(os.environ.get("LOGSTREAM_BUILD_DIR", REPO / ".aws-sam" / "build")).resolve()

Handler = Callable[[dict[str, Any], Any], Any]


@cache
def load_handler(function: str) -> Handler:
    """``lambda_handler`` of the built function ``function`` (its logical id)."""
    app = BUILD_DIR / function / "app.py"
    if not app.exists():
        raise FileNotFoundError(f"{app} is missing: run `make build` (sam build) first")
    module = _load(f"built_{function}_app", app)
    handler: Handler = module.lambda_handler
    return handler


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def invoke(
    function: str,
    event: Any,
    *,
    timeout_seconds: float = 120.0,
    context: FakeLambdaContext | None = None,
) -> Any:
    """One synchronous invocation of a built handler (``context`` replaces the default one)."""
    return load_handler(function)(
        event, context or FakeLambdaContext(timeout_seconds=timeout_seconds)
    )
