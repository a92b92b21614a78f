"""Cold start: how big the common layer is and how long the decoder handler takes to import.

1. Layer size. ``pip install --target <tmp>/python --only-binary=:all: -r
   layers/common/requirements.txt`` plus the ``logstream`` package, laid out
   as the layer zip is (``python/...``): unzipped and zipped size, the largest
   packages, and the same with opensearch-py 3.2.0 swapped in.
2. Import time of ``functions/decoder/app.py`` in fresh interpreters, with the
   path Lambda builds: the function code, then the layer, then the runtime's
   own boto3 (installed beside it, as /var/runtime is). Each run is a new
   ``python -S`` process (no site-packages of this venv) timing ``import app``
   from inside, as process CPU time and wall clock; the median of ``--runs``
   is reported with its range, the layouts taking turns.

   Two layouts are timed, because /opt is read-only on Lambda and Python cannot
   cache the bytecode it compiles there:

   - *without .pyc*: what SAM's python3.x layer builder ships (it does not
     compile), so every cold start compiles every imported module;
   - *precompiled*: ``compileall --invalidation-mode unchecked-hash`` run over
     the layer, as layers/common/Makefile (the layer's sam build) does.

   Tracing is on in template.yaml (``Tracing: Active``), so the runs set
   ``LAMBDA_TASK_ROOT`` as Lambda does and Powertools' Tracer patches modules
   for X-Ray at import; a row with ``POWERTOOLS_TRACE_DISABLED=true`` shows
   what that costs.

The import time is measured on this machine with a warm file cache, so it is
lower than a real Lambda cold start (which also pays for the sandbox, the
runtime bootstrap and reading the layer from its storage); compare the rows
with each other, not with Lambda's Init Duration.

    PYTHONPATH=layers/common:. python -m benchmarks.bench_cold_start [--runs 7]
"""

from __future__ import annotations

import argparse
import compileall
import os
import py_compile
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from benchmarks import LAYER_CODE, ROOT
from benchmarks._common import RESULTS_DIR, Spread, machine_header, table, write_result

MODULE = "benchmarks.bench_cold_start"
REQUIREMENTS = LAYER_CODE / "requirements.txt"
FUNCTION_CODE = ROOT / "functions" / "decoder"
PIP = Path(sys.executable).with_name("pip")
OPENSEARCH_ALTERNATIVE = "3.2.0"
MIB = 1024 * 1024
_PIN = re.compile(r"^\s*opensearch-py\s*==\s*\S+", re.MULTILINE)

#: What the Lambda environment sets that the handler's import can see (template.yaml Globals).
LAMBDA_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_LAMBDA_FUNCTION_NAME": "logstream-DecoderFunction",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "POWERTOOLS_SERVICE_NAME": "logstream",
    "POWERTOOLS_METRICS_NAMESPACE": "Logstream",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "INDEX_PREFIX": "logs",
    "ES_HOST": "https://search-example.us-east-1.es.amazonaws.com",
}

#: Bytecode that Python uses without comparing it to the source (no mtime check).
_UNCHECKED = py_compile.PycInvalidationMode.UNCHECKED_HASH
_NO_TRACE = {"POWERTOOLS_TRACE_DISABLED": "true"}

TIMER = (
    "import time; wall = time.perf_counter(); cpu = time.process_time(); import app; "
    "print(time.perf_counter() - wall, time.process_time() - cpu)"
)


# --------------------------------------------------------------------------- building layers


@dataclass(frozen=True, slots=True)
class Layer:
    name: str
    root: Path  # holds python/, as the layer zip does

    @property
    def python(self) -> Path:
        return self.root / "python"


def pip_install(target: Path, args: Sequence[str]) -> None:
    command = [
        str(PIP),
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-warn-conflicts",
        "--only-binary=:all:",
        "--no-compile",
        "--target",
        str(target),
        *args,
    ]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True)


def build_layer(workdir: Path, name: str, requirements_text: str) -> Layer:
    layer = Layer(name, workdir / name)
    layer.python.mkdir(parents=True)
    requirements = layer.root / "requirements.txt"
    requirements.write_text(requirements_text, encoding="utf-8")
    pip_install(layer.python, ["-r", str(requirements)])
    shutil.copytree(
        LAYER_CODE / "logstream",
        layer.python / "logstream",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return layer


def build_runtime(workdir: Path) -> Path:
    """boto3 as the Lambda runtime provides it (after the layer on sys.path)."""
    runtime = workdir / "runtime"
    try:
        pin = f"boto3=={metadata.version('boto3')}"
    except metadata.PackageNotFoundError:
        pin = "boto3"
    pip_install(runtime, [pin])
    # The runtime's own packages come with bytecode, as the Lambda image's do.
    compileall.compile_dir(runtime, quiet=1, invalidation_mode=_UNCHECKED)
    return runtime


def precompiled_copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(target, quiet=1, invalidation_mode=_UNCHECKED)
    return target


# --------------------------------------------------------------------------- sizes


def files_under(root: Path) -> Iterable[Path]:
    return (p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in files_under(root))


def zipped_bytes(layer_root: Path, into: Path) -> int:
    with zipfile.ZipFile(into, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files_under(layer_root / "python")):
            archive.write(path, path.relative_to(layer_root).as_posix())
    return into.stat().st_size


def _distribution_of(entry: str) -> str:
    """Top-level entry -> a readable package name (dist-info folded into its package)."""
    name = entry.removesuffix(".py")
    for suffix in (".dist-info", ".data"):
        if name.endswith(suffix):
            name = name.removesuffix(suffix).rsplit("-", 1)[0]
    return name.lower().replace("-", "_")


def package_sizes(layer: Layer) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for entry in layer.python.iterdir():
        size = tree_bytes(entry) if entry.is_dir() else entry.stat().st_size
        key = _distribution_of(entry.name)
        sizes[key] = sizes.get(key, 0) + size
    return sizes


def installed_versions(layer: Layer) -> dict[str, str]:
    versions = {}
    for info in layer.python.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").rpartition("-")
        versions[name.lower().replace("-", "_")] = version
    return versions


# --------------------------------------------------------------------------- import time


@dataclass(frozen=True, slots=True)
class ImportRun:
    inside: float  # wall seconds, measured around `import app`
    inside_cpu: float  # CPU seconds of the process, measured around `import app`
    process: float  # seconds, the whole interpreter from spawn to exit


def subprocess_env(path: Sequence[Path], extra: dict[str, str]) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": os.pathsep.join(str(p) for p in path),
        "PYTHONDONTWRITEBYTECODE": "1",  # /opt and /var/task are read-only on Lambda
        "LAMBDA_TASK_ROOT": str(path[0]),
        **LAMBDA_ENV,
        **extra,
    }
    return env


def time_import(path: Sequence[Path], extra: dict[str, str]) -> ImportRun:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-S", "-c", TIMER],
        env=subprocess_env(path, extra),
        capture_output=True,
        text=True,
        check=False,
        cwd=path[0],
    )
    process = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"import app failed:\n{done.stderr.strip()[-2000:]}")
    wall, cpu = (float(x) for x in done.stdout.strip().splitlines()[-1].split())
    return ImportRun(wall, cpu, process)


@dataclass(frozen=True, slots=True)
class ImportCost:
    module: str
    depth: int
    self_us: float
    cumulative_us: float


def import_profile(path: Sequence[Path], extra: dict[str, str], runs: int) -> list[ImportCost]:
    """``-X importtime`` for ``import app``, per module the median over ``runs`` processes."""
    samples: dict[tuple[str, int], list[tuple[int, int]]] = {}
    line = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)")
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-S", "-X", "importtime", "-c", "import app"],
            env=subprocess_env(path, extra),
            capture_output=True,
            text=True,
            check=False,
            cwd=path[0],
        )
        if done.returncode != 0:
            raise RuntimeError(f"import app failed:\n{done.stderr.strip()[-2000:]}")
        for match in line.finditer(done.stderr):
            own, cumulative, indent, module = match.groups()
            key = (module, len(indent) // 2)
            samples.setdefault(key, []).append((int(own), int(cumulative)))
    return [
        ImportCost(
            module,
            depth,
            statistics.median(s for s, _ in values),
            statistics.median(c for _, c in values),
        )
        for (module, depth), values in samples.items()
    ]


def by_top_package(costs: Sequence[ImportCost]) -> list[tuple[str, float, int]]:
    """Own import time added up per top-level package: (package, µs, modules)."""
    totals: dict[str, tuple[float, int]] = {}
    for cost in costs:
        top = cost.module.split(".", 1)[0]
        spent, count = totals.get(top, (0.0, 0))
        totals[top] = (spent + cost.self_us, count + 1)
    return sorted(((k, v[0], v[1]) for k, v in totals.items()), key=lambda r: -r[1])


# --------------------------------------------------------------------------- report


def mib(size: int) -> str:
    return f"{size / MIB:.1f}"


def ms(spread: Spread) -> str:
    return spread.scaled(1000).text(",.0f")


def size_section(layers: Sequence[Layer], workdir: Path) -> list[str]:
    size_rows = []
    packages: dict[str, dict[str, int]] = {}
    for layer in layers:
        unzipped = tree_bytes(layer.python)
        zipped = zipped_bytes(layer.root, workdir / f"{layer.name}.zip")
        packages[layer.name] = package_sizes(layer)
        versions = installed_versions(layer)
        size_rows.append(
            [
                f"{layer.name} (opensearch-py {versions.get('opensearch_py', '?')})",
                mib(unzipped),
                mib(zipped),
                f"{len(list(files_under(layer.python))):,}",
                f"{mib(packages[layer.name].get('botocore', 0))} "
                f"(botocore {versions.get('botocore', '-')})",
            ]
        )
    largest = {
        name: max(p.get(name, 0) for p in packages.values())
        for p in packages.values()
        for name in p
    }
    names = sorted(largest, key=lambda k: -largest[k])[:14]
    requirements = REQUIREMENTS.read_text(encoding="utf-8")
    if re.search(r"^\s*botocore\s*==", requirements, re.MULTILINE):
        botocore_note = (
            "boto3 and botocore are pinned in requirements.txt (aws-xray-sdk needs botocore). "
            "The Lambda python3.13 runtime ships its own copies; the layer's come first on "
            "sys.path and shadow them, so their weight in the layer buys a pinned pair."
        )
    else:
        botocore_note = (
            "botocore is not in requirements.txt: aws-xray-sdk pulls it in. The Lambda "
            "python3.13 runtime already ships boto3 and botocore, and the layer's copy comes "
            "first on sys.path, so it also replaces the runtime's botocore under the runtime's "
            "boto3."
        )
    return [
        "## Layer size",
        "",
        "`pip install --only-binary=:all: --no-compile --target python/ -r "
        "layers/common/requirements.txt` plus `logstream/`, zipped with deflate as the "
        "layer archive is (Lambda's limits: 250 MB unzipped for function + layers, 50 MB "
        "zipped for a direct upload).",
        "",
        table(
            ["layer", "unzipped MiB", "zipped MiB", "files", "of which botocore MiB"],
            size_rows,
        ),
        "",
        "Largest packages in either layer (dist-info folded in):",
        "",
        table(
            ["package", *(f"{layer.name} MiB" for layer in layers)],
            [
                [name, *(mib(packages[layer.name].get(name, 0)) for layer in layers)]
                for name in names
            ],
        ),
        "",
        botocore_note,
        "",
    ]


NO_PYC = "without .pyc (SAM's python3.13 builder)"
PYC = "precompiled .pyc (unchecked-hash; our layer Makefile)"


def import_section(
    layers: Sequence[Layer], runtime: Path, workdir: Path, args: argparse.Namespace
) -> list[str]:
    layouts: list[tuple[str, list[Path], dict[str, str]]] = []
    profiles: dict[str, list[ImportCost]] = {}
    for layer in layers:
        plain = [FUNCTION_CODE, layer.python, runtime]
        compiled_root = workdir / f"{layer.name}-precompiled"
        compiled = [
            precompiled_copy(FUNCTION_CODE, compiled_root / "function"),
            precompiled_copy(layer.python, compiled_root / "python"),
            runtime,
        ]
        layouts += [(f"{layer.name}: {NO_PYC}", plain, {}), (f"{layer.name}: {PYC}", compiled, {})]
        if layer is layers[0]:
            layouts.append(
                (f"{layer.name}: {PYC}, POWERTOOLS_TRACE_DISABLED=true", compiled, _NO_TRACE)
            )
            profiles[NO_PYC] = import_profile(plain, {}, args.profile_runs)
            profiles[PYC] = import_profile(compiled, {}, args.profile_runs)

    for _, path, extra in layouts:
        time_import(path, extra)  # warm the file cache; not counted
    samples: dict[str, list[ImportRun]] = {label: [] for label, _, _ in layouts}
    for run in range(args.runs):  # round robin, so a noisy moment hits every layout alike
        print(f"  import run {run + 1}/{args.runs}", flush=True)
        for label, path, extra in layouts:
            samples[label].append(time_import(path, extra))
    rows = [
        [
            label,
            ms(Spread.of([r.inside_cpu for r in runs])),
            ms(Spread.of([r.inside for r in runs])),
            ms(Spread.of([r.process for r in runs])),
        ]
        for label, runs in samples.items()
    ]

    top = sorted(profiles[NO_PYC], key=lambda c: -c.cumulative_us)[:10]
    totals = {name: {p: t for p, t, _ in by_top_package(costs)} for name, costs in profiles.items()}
    leaders = [p for p, _, _ in by_top_package(profiles[NO_PYC])[:10]]
    return [
        "## Import time of the decoder handler (`import app`)",
        "",
        "Fresh `python -S` per run, PYTHONPATH = function code : layer : runtime boto3, "
        f"Lambda's environment variables (tracing on), {args.runs} runs per layout after one "
        "warm-up, layouts taking turns.",
        "",
        table(
            [
                "layout",
                "import app, CPU ms",
                "import app, wall ms",
                "whole process, wall ms",
            ],
            rows,
        ),
        "",
        f"## Top 10 cumulative import costs ({layers[0].name} layer, {NO_PYC}; "
        f"`-X importtime`, median of {args.profile_runs} runs)",
        "",
        table(
            ["module", "depth", "cumulative ms", "self ms"],
            [
                [
                    f"`{c.module}`",
                    str(c.depth),
                    f"{c.cumulative_us / 1000:.1f}",
                    f"{c.self_us / 1000:.1f}",
                ]
                for c in top
            ],
        ),
        "",
        "Own (self) import time added up per top-level package, the 10 largest:",
        "",
        table(
            ["package", *(f"{name}, ms" for name in profiles)],
            [
                [f"`{p}`", *(f"{totals[name].get(p, 0.0) / 1000:.1f}" for name in profiles)]
                for p in leaders
            ],
        ),
    ]


def report(args: argparse.Namespace, workdir: Path) -> str:
    header = [
        machine_header(
            "Decoder cold start: layer size and handler import time",
            MODULE,
            ["pip", "aws-lambda-powertools", "opensearch-py"],
        ),
        f"- Runs per import measurement: {args.runs}; figures are median (min..max)",
        "",
    ]
    pinned_text = REQUIREMENTS.read_text(encoding="utf-8")
    if not _PIN.search(pinned_text):
        raise RuntimeError(f"{REQUIREMENTS} does not pin opensearch-py")
    layers = [build_layer(workdir, "pinned", pinned_text)]
    if not args.skip_alternative:
        alternative = _PIN.sub(f"opensearch-py=={OPENSEARCH_ALTERNATIVE}", pinned_text)
        layers.append(build_layer(workdir, f"opensearch-py-{OPENSEARCH_ALTERNATIVE}", alternative))
    runtime = build_runtime(workdir)

    sizes = size_section(layers, workdir)
    print("\n".join(sizes), flush=True)
    imports = import_section(layers, runtime, workdir, args)
    print("\n".join(imports), flush=True)
    return "\n".join([*header, *sizes, *imports])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per layout")
    parser.add_argument(
        "--profile-runs", type=int, default=3, help="-X importtime runs per layout (median)"
    )
    parser.add_argument(
        "--skip-alternative", action="store_true", help=f"no opensearch-py {OPENSEARCH_ALTERNATIVE}"
    )
    parser.add_argument("--quick", action="store_true", help="3 runs, no results file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--output", type=Path, default=None, help="markdown file to write")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.profile_runs = min(args.runs, 3), 1
    if args.runs < 1 or args.profile_runs < 1:
        parser.error("--runs and --profile-runs must be positive")
    workdir = Path(tempfile.mkdtemp(prefix="logstream-cold-start-"))
    try:
        text = report(args, workdir)
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    output = args.output or (None if args.quick else RESULTS_DIR / "cold_start.md")
    if output is not None:
        write_result(output, text)


if __name__ == "__main__":
    main()
