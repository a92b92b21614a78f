"""The layer serves both Lambda architectures (template.yaml ``Architecture``).

NEEDS THE NETWORK (PyPI): the ``pip download`` tests ask PyPI, through pip's
own cache, for every pinned layer dependency as a CPython 3.13 wheel for
manylinux aarch64 and x86_64. A missing wheel, or no network, fails them: a
layer that cannot be built for one architecture must never pass as skipped.

The other tests read the ``sam build`` output: every extension module is there
for both architectures (its file name says which, and its ELF header agrees),
and nothing of the deleted Rust hot path (``_hotpath``) is left.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.support.lambda_harness import BUILD_DIR, REPO

pytestmark = pytest.mark.integration

LAYER_SOURCE = REPO / "layers" / "common"
REQUIREMENTS = LAYER_SOURCE / "requirements.txt"
LAYER = BUILD_DIR / "CommonLayer" / "python"

#: pip's --platform tags per Lambda architecture, as layers/common/Makefile passes them.
PLATFORMS = {
    "aarch64": ("manylinux2014_aarch64", "manylinux_2_28_aarch64"),
    "x86_64": ("manylinux2014_x86_64", "manylinux_2_28_x86_64"),
}
#: ELF e_machine of each architecture (the header's bytes 18-19, little endian).
ELF_MACHINE = {"aarch64": 0xB7, "x86_64": 0x3E}
EXTENSION = re.compile(r"(?P<module>.+)\.cpython-313-(?P<arch>[a-z0-9_]+)-linux-gnu\.so")


def _pins() -> dict[str, str]:
    """Normalized project name -> pinned version, from the layer's requirements.txt."""
    pins = {}
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            name, version = requirement.split("==")
            pins[_normalized(name)] = version.strip()
    return pins


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _downloaded(directory: Path) -> dict[str, str]:
    """Normalized project name -> version of every wheel pip put in ``directory``."""
    found = {}
    for wheel in directory.iterdir():
        assert wheel.suffix == ".whl", f"pip fetched {wheel.name}, not a wheel"
        name, version = wheel.name.split("-")[:2]
        found[_normalized(name)] = version
    return found


def test_the_pins_are_exact() -> None:
    pins = _pins()
    assert pins, f"{REQUIREMENTS} pins nothing"
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.]*", version) for version in pins.values()), pins


@pytest.mark.parametrize("arch", sorted(PLATFORMS))
def test_the_makefile_builds_for_these_platforms(arch: str) -> None:
    makefile = (LAYER_SOURCE / "Makefile").read_text(encoding="utf-8")
    for platform in PLATFORMS[arch]:
        assert f"--platform {platform}" in makefile, platform
    assert "--only-binary=:all:" in makefile
    assert "--python-version 3.13" in makefile


@pytest.mark.parametrize("arch", sorted(PLATFORMS))
def test_every_pinned_dependency_has_a_wheel_from_pypi(arch: str, tmp_path: Path) -> None:
    platforms = [option for tag in PLATFORMS[arch] for option in ("--platform", tag)]
    command = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--only-binary=:all:", *platforms, "--implementation", "cp", "--python-version", "3.13",
        "-r", str(REQUIREMENTS), "-d", str(tmp_path),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, (
        f"no complete set of {arch} wheels for layers/common/requirements.txt "
        f"(PyPI unreachable, or a pin without a {arch} wheel):\n{result.stdout}{result.stderr}"
    )
    downloaded = _downloaded(tmp_path)
    for name, version in _pins().items():
        assert downloaded.get(name) == version, f"{name}=={version}: got {downloaded.get(name)}"


def _layer() -> Path:
    if not LAYER.is_dir():
        pytest.fail(f"{LAYER} is missing: run `make build` (sam build) first")
    return LAYER


def _elf_machine(path: Path) -> int:
    with path.open("rb") as handle:
        header = handle.read(20)
    assert header[:4] == b"\x7fELF", f"{path} is not an ELF file"
    return int.from_bytes(header[18:20], "little")


def test_every_extension_module_is_built_for_both_architectures() -> None:
    layer = _layer()
    arches_by_module: dict[str, set[str]] = defaultdict(set)
    for path in layer.rglob("*.so"):
        relative = path.relative_to(layer)
        if any(part.endswith(".libs") for part in relative.parts):
            continue  # auditwheel's vendored libraries, loaded by their own extension
        match = EXTENSION.fullmatch(path.name)
        # An untagged (or abi3) module is one architecture's binary under a name both would load.
        assert match, f"{relative} does not name its architecture"
        arch = match["arch"]
        assert arch in ELF_MACHINE, f"{relative}: unexpected architecture {arch}"
        assert _elf_machine(path) == ELF_MACHINE[arch], f"{relative} is not an {arch} binary"
        arches_by_module[str(relative.parent / match["module"])].add(arch)
    assert arches_by_module, f"no extension modules in {layer}: orjson and isal should be there"
    one_sided = {
        module: arches for module, arches in arches_by_module.items() if arches != set(ELF_MACHINE)
    }
    assert one_sided == {}, f"extension modules built for one architecture only: {one_sided}"
    for module in ("orjson/orjson", "isal/isal_zlib"):
        assert module in arches_by_module, module


def test_the_layer_has_no_rust_hot_path() -> None:
    layer = _layer()
    leftovers = sorted(str(path.relative_to(layer)) for path in layer.rglob("*hotpath*"))
    assert leftovers == []
    assert (layer / "logstream" / "__init__.py").is_file()
