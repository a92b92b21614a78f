"""``pip install .`` gives the ``logstream`` command (in a fresh virtual environment).

The project is copied first (pyproject.toml and the package, as a fresh clone
has them), so the build leaves nothing in the working tree. Dependencies
come from pip's cache or PyPI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_pip_install_gives_the_logstream_command(tmp_path: Path) -> None:
    source = tmp_path / "clone"
    shutil.copytree(REPO / "layers" / "common" / "logstream", source / "layers/common/logstream")
    shutil.copy(REPO / "pyproject.toml", source / "pyproject.toml")
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    binaries = environment / "bin"
    installed = subprocess.run(
        [str(binaries / "pip"), "install", "--quiet", str(source)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]

    clean_env = {
        "PATH": f"{binaries}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "AWS_REGION": "us-east-1",
    }

    def logstream(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["logstream", *args], capture_output=True, text=True, env=clean_env, check=False
        )

    helped = logstream("--help")
    assert helped.returncode == 0, helped.stderr
    for command in ("status", "backfill", "reconcile", "quarantine", "failures", "tail"):
        assert command in helped.stdout
    assert "--stack-name" in helped.stdout

    # Not configured: one line on stderr, exit 2, no traceback.
    refused = logstream("backfill", "list")
    assert refused.returncode == 2
    assert refused.stderr.startswith("logstream: error: ")
    assert refused.stderr.count("\n") == 1
    assert "STATE_TABLE" in refused.stderr
