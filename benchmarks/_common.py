"""What every benchmark shares: timing statistics, the machine header, markdown output."""

from __future__ import annotations

import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from benchmarks import ROOT

RESULTS_DIR = ROOT / "benchmarks" / "results"


@dataclass(frozen=True, slots=True)
class Spread:
    """Median and range of repeated trials; the median is the number to quote."""

    median: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        if not values:
            raise ValueError("no trials")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def scaled(self, factor: float) -> Spread:
        return Spread(self.median * factor, self.low * factor, self.high * factor, self.count)

    def inverse(self, numerator: float) -> Spread:
        """``numerator / x`` of each figure: seconds -> rate (low and high swap)."""
        return Spread(
            numerator / self.median, numerator / self.high, numerator / self.low, self.count
        )

    def text(self, spec: str = ",.0f") -> str:
        return f"{self.median:{spec}} ({self.low:{spec}}..{self.high:{spec}})"


def time_call(fn: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table; the first column left-aligned, the rest right-aligned."""
    align = [":---"] + ["---:"] * (len(headers) - 1)
    lines = [
        "| " + " | ".join(headers) + " |",
        "| " + " | ".join(align) + " |",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' (uncommitted changes)' if dirty else ''}"


def package_versions(names: Sequence[str]) -> str:
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def command_line(module: str) -> str:
    """The command that reproduces this run (from the repository root)."""
    args = " ".join(shlex.quote(arg) for arg in sys.argv[1:])
    return f"PYTHONPATH=layers/common:. python -m {module}{' ' + args if args else ''}"


def machine_header(title: str, module: str, packages: Sequence[str]) -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        f"# {title}",
        "",
        f"- Command: `{command_line(module)}`",
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M:%S UTC')}",
        f"- Python: {sys.version.split()[0]} ({platform.python_implementation()}, "
        f"{sys.executable})",
        f"- CPU: {cpu_model()} ({cores} usable cores; benchmarks run single-threaded)",
        f"- Load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"- Git: {git_revision()}",
        f"- Packages: {package_versions(packages)}",
    ]
    return "\n".join(lines)


def write_result(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    print(f"\nwritten to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
