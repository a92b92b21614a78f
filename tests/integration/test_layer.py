"""What `sam build` put in the layer: the compiled hot path, fit for Lambda."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from pathlib import Path

import pytest

from logstream.documents import NATIVE_HOT_PATH
from tests.support.lambda_harness import BUILD_DIR

#: glibc of the python3.13 Lambda runtime (Amazon Linux 2023).
LAMBDA_GLIBC = (2, 34)


def _shipped_hot_path() -> Path:
    found = sorted((BUILD_DIR / "CommonLayer" / "python" / "logstream").glob("_hotpath*.so"))
    if not found and os.environ.get("LOGSTREAM_REQUIRE_NATIVE") != "1":
        pytest.skip("layer built without the compiled hot path (no cargo)")
    assert found, "sam build shipped no logstream/_hotpath*.so (make test requires it)"
    return found[0]


def test_the_layer_ships_the_compiled_hot_path_and_tests_use_it() -> None:
    shipped = _shipped_hot_path()
    spec = importlib.util.find_spec("logstream._hotpath")
    assert NATIVE_HOT_PATH and spec is not None and spec.origin is not None
    assert Path(spec.origin).resolve() == shipped.resolve()


def test_the_hot_path_needs_no_newer_glibc_than_lambda_has() -> None:
    symbols = subprocess.run(
        ["objdump", "-T", str(_shipped_hot_path())], check=True, capture_output=True, text=True
    ).stdout
    versions = {
        tuple(int(part) for part in match.split("."))
        for match in re.findall(r"GLIBC_(\d+\.\d+(?:\.\d+)?)", symbols)
    }
    assert versions, "no glibc symbol versions found: is this an ELF shared object?"
    assert max(versions) <= LAMBDA_GLIBC
