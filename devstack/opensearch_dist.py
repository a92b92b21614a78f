"""Fetch and unpack the search engine distribution the local stack runs.

OpenSearch by default; :data:`ELASTICSEARCH` for Elasticsearch. The artifact
is the official ``integ-test-zip`` build (no bundled JDK), fetched by Maven
coordinates with ``mvn dependency:copy`` so
it comes through the same registry and checksum checks as any Java dependency.
It is fetched once into a cache and reused; every step writes to a temporary
name first and renames into place, so an interrupted run never leaves a
half-written zip or distribution that a later run would trust.

Run ``python -m devstack.opensearch_dist [--engine elasticsearch]`` to fetch
it and print its path.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import stat
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DEFAULT_VERSION = "2.19.3"
MAVEN_GROUP = "org.opensearch.distribution.integ-test-zip"
MAVEN_ARTIFACT = "opensearch"


@dataclass(frozen=True)
class Product:
    """One engine's integ-test-zip: ``<name>-<version>/bin/<name>`` and its ``lib`` jar."""

    name: str
    maven_group: str


OPENSEARCH = Product(MAVEN_ARTIFACT, MAVEN_GROUP)
ELASTICSEARCH = Product("elasticsearch", "org.elasticsearch.distribution.integ-test-zip")
#: The Elasticsearch the tests run (Maven Central has no 9.x integ-test-zip).
ELASTICSEARCH_VERSION = "8.19.0"

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_ENV = "LOGSTREAM_CACHE_DIR"

# mvn can be slow on a cold ~/.m2, but a hung fetch must not hang CI forever.
_FETCH_TIMEOUT_S = 900


class DistributionError(RuntimeError):
    """The distribution could not be fetched or unpacked."""


def default_cache_dir(product: Product = OPENSEARCH) -> Path:
    """``$LOGSTREAM_CACHE_DIR`` if set, else ``<repo>/.cache/<product>``."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    return REPO_ROOT / ".cache" / product.name


def ensure_distribution(
    version: str = DEFAULT_VERSION,
    cache_dir: Path | None = None,
    product: Product = OPENSEARCH,
) -> Path:
    """Return the unpacked distribution directory, fetching it on first use.

    Idempotent and safe to call from parallel processes: the slow path runs
    under an exclusive lock on the cache directory.
    """
    cache = (cache_dir if cache_dir is not None else default_cache_dir(product)).resolve()
    dist = cache / f"{product.name}-{version}"
    if _is_complete(dist, version, product):
        return dist

    cache.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(cache / ".lock"):
        # Another process may have finished while we waited for the lock.
        if _is_complete(dist, version, product):
            return dist
        _remove_leftovers(cache)
        archive = _fetch_zip(version, cache, product)
        _extract(archive, dist, f"{product.name}-{version}")
    return dist


def _is_complete(dist: Path, version: str, product: Product) -> bool:
    # The directory only ever appears by rename, so these two files mean the
    # whole tree is there; checking them guards against manual tampering.
    return (dist / "bin" / product.name).is_file() and (
        dist / "lib" / f"{product.name}-{version}.jar"
    ).is_file()


@contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_leftovers(cache: Path) -> None:
    # Temp dirs from an interrupted run; safe to delete because we hold the lock.
    for leftover in cache.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _fetch_zip(version: str, cache: Path, product: Product) -> Path:
    coordinates = f"{product.maven_group}:{product.name}:{version}:zip"
    archive = cache / f"{product.name}-{version}.zip"
    if archive.is_file() and zipfile.is_zipfile(archive):
        return archive

    mvn = shutil.which("mvn")
    if mvn is None:
        raise DistributionError(
            f"mvn is not on PATH; it is needed once to fetch the distribution ({coordinates})"
        )
    staging = Path(tempfile.mkdtemp(prefix=".tmp-fetch-", dir=cache))
    try:
        cmd = [
            mvn,
            "-q",
            "-B",
            "dependency:copy",
            f"-Dartifact={coordinates}",
            f"-DoutputDirectory={staging}",
        ]
        # Run outside the repo so a stray pom.xml can never change what mvn resolves.
        result = subprocess.run(  # noqa: S603 - fixed argv, no shell
            cmd,
            cwd=staging,
            capture_output=True,
            text=True,
            timeout=_FETCH_TIMEOUT_S,
            check=False,
        )
        fetched = staging / f"{product.name}-{version}.zip"
        if result.returncode != 0 or not fetched.is_file():
            output = (result.stdout + result.stderr).strip()[-4000:]
            raise DistributionError(
                f"mvn dependency:copy failed (exit {result.returncode}):\n{output}"
            )
        if not zipfile.is_zipfile(fetched):
            raise DistributionError(f"mvn produced {fetched}, which is not a zip archive")
        fetched.replace(archive)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return archive


def _extract(archive: Path, dist: Path, top: str) -> None:
    staging = Path(tempfile.mkdtemp(prefix=".tmp-extract-", dir=dist.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            for info in members:
                name = Path(info.filename)
                if name.is_absolute() or ".." in name.parts or name.parts[:1] != (top,):
                    raise DistributionError(f"unexpected entry {info.filename!r} in {archive}")
            zf.extractall(staging)
            # zipfile drops Unix modes; bin/<engine> must stay executable.
            for info in members:
                mode = (info.external_attr >> 16) & 0o7777
                if mode and not stat.S_ISLNK(info.external_attr >> 16):
                    (staging / info.filename).chmod(mode)
        if dist.exists():
            # Incomplete tree (failed _is_complete); replace it wholesale.
            shutil.rmtree(dist)
        (staging / top).rename(dist)
    except zipfile.BadZipFile as exc:
        # A corrupt cached zip would fail forever; drop it so the next run refetches.
        archive.unlink(missing_ok=True)
        raise DistributionError(f"{archive} is corrupt; removed it, run again") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    products = {p.name: p for p in (OPENSEARCH, ELASTICSEARCH)}
    parser.add_argument("--engine", choices=sorted(products), default=OPENSEARCH.name)
    parser.add_argument("--version", default=None, help="engine version (default: the tested one)")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help=f"cache directory (default: ${CACHE_ENV} or <repo>/.cache/<engine>)",
    )
    args = parser.parse_args(argv)
    product = products[args.engine]
    version = args.version or (DEFAULT_VERSION if product is OPENSEARCH else ELASTICSEARCH_VERSION)
    print(ensure_distribution(version, args.cache_dir, product))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
