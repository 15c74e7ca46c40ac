"""krew/canary.yaml against krew's rules (krew's index validation and its validate-krew-manifest)."""

from __future__ import annotations

import fnmatch
import re
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from kubectl_canary import __version__
from kubectl_canary.cli import main
from tests.packaging.conftest import ROOT

MANIFEST = ROOT / "krew" / "canary.yaml"
# The <os, arch> pairs krew's validate-krew-manifest checks selectors against.
KREW_PLATFORMS = [
    ("windows", "386"), ("windows", "amd64"), ("windows", "arm64"),
    ("linux", "386"), ("linux", "amd64"), ("linux", "arm"), ("linux", "arm64"), ("linux", "ppc64le"),
    ("darwin", "386"), ("darwin", "amd64"), ("darwin", "arm64"),
]  # fmt: skip
SUPPORTED = [("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64")]
# semver.org's grammar, with krew's leading v.
SEMVER = re.compile(
    r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
LICENSE_NAMES = {"license", "license.txt", "license.md", "licenses", "licenses.txt", "licenses.md", "copying"}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    document = yaml.safe_load(MANIFEST.read_text())
    assert isinstance(document, dict)
    return document


def platforms(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    entries = manifest["spec"]["platforms"]
    assert isinstance(entries, list) and entries
    return entries


def selects(selector: dict[str, Any], os_name: str, arch: str) -> bool:
    """A Kubernetes label selector applied to the labels {os, arch}."""
    labels = {"os": os_name, "arch": arch}
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        ok = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels.get(key) not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[operator]
        if not ok:
            return False
    return True


def test_plugin_identity(manifest: dict[str, Any]) -> None:
    assert manifest["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert manifest["kind"] == "Plugin"
    name = manifest["metadata"]["name"]
    assert name == MANIFEST.stem == "canary"
    assert re.fullmatch(r"[\w-]+", name)


def test_version_is_semver_with_v_and_matches_the_package(manifest: dict[str, Any], capsys: Any) -> None:
    version = manifest["spec"]["version"]
    assert SEMVER.match(version), version
    assert version == f"v{__version__}"
    # `kubectl canary version` and `--version` say the same.
    assert main(["version"]) == 0
    assert capsys.readouterr().out.strip() == f"kubectl-canary {version}"
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"kubectl-canary {version}"


def test_descriptions(manifest: dict[str, Any]) -> None:
    spec = manifest["spec"]
    short = spec["shortDescription"]
    assert isinstance(short, str) and short.strip()
    assert "\n" not in short and "\r" not in short
    assert len(short) <= 70  # validate-krew-manifest warns beyond 70
    for field in ("description", "caveats"):  # and beyond 80 per line here
        for line in str(spec.get(field) or "").splitlines():
            assert len(line) <= 80 or " " not in line.strip(), f"{field}: {line!r}"


def test_every_platform_entry_is_complete(manifest: dict[str, Any]) -> None:
    for entry in platforms(manifest):
        assert entry["uri"].startswith("https://")
        assert entry["uri"].endswith((".tar.gz", ".zip"))
        assert re.fullmatch(r"[a-f0-9]{64}", entry["sha256"]), entry["sha256"]
        assert entry["bin"]
        files = entry.get("files")
        assert files is None or (files and all(op.get("from") and op.get("to") for op in files))
        selector = entry["selector"]
        assert set(selector) <= {"matchLabels", "matchExpressions"} and any(selector.values())
        keys = set(selector.get("matchLabels") or {}) | {e["key"] for e in selector.get("matchExpressions") or []}
        assert keys and keys <= {"os", "arch"}, keys


def test_selectors_do_not_overlap_and_cover_the_supported_platforms(manifest: dict[str, Any]) -> None:
    entries = platforms(manifest)
    for index, entry in enumerate(entries):
        assert any(selects(entry["selector"], *pair) for pair in KREW_PLATFORMS), f"platform {index} selects nothing"
    for pair in KREW_PLATFORMS:
        matching = [i for i, entry in enumerate(entries) if selects(entry["selector"], *pair)]
        assert len(matching) <= 1, f"{pair} is selected by platforms {matching}"
        if pair in SUPPORTED:
            assert matching, f"{pair} has no platform entry"


def test_the_selector_check_sees_overlaps() -> None:
    linux = {"matchLabels": {"os": "linux"}}
    linux_amd64 = {"matchExpressions": [{"key": "arch", "operator": "In", "values": ["amd64"]}]}
    assert selects(linux, "linux", "amd64") and selects(linux_amd64, "linux", "amd64")
    assert not selects(linux, "darwin", "amd64")


def test_every_entry_is_the_one_platform_independent_release_archive(
    manifest: dict[str, Any], release: ModuleType
) -> None:
    tag = f"v{__version__}"
    for entry in platforms(manifest):
        assert entry["uri"] == release.archive_uri(tag)
        assert entry["uri"].endswith(f"/releases/download/{tag}/kubectl-canary_{tag}.tar.gz")
    assert len({entry["sha256"] for entry in platforms(manifest)}) == 1


def installed_files(entry: dict[str, Any], members: list[str]) -> set[str]:
    """What `kubectl krew install` keeps of the archive: the `files` operations (all of it without)."""
    if not entry.get("files"):
        return set(members)
    kept = set()
    for operation in entry["files"]:
        matched = fnmatch.filter(members, operation["from"])
        assert matched, f"files.from {operation['from']!r} matches nothing in the archive"
        for name in matched:
            kept.add(name if operation["to"] == "." else f"{operation['to'].rstrip('/')}/{name.rsplit('/', 1)[-1]}")
    return kept


def test_the_archive_installs_bin_helper_and_license(manifest: dict[str, Any], release_archive: Path) -> None:
    with tarfile.open(release_archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"kubectl-canary", "kubectl_complete-canary", "LICENSE"}
    assert members["kubectl-canary"].mode & 0o111 and members["kubectl_complete-canary"].mode & 0o111
    for entry in platforms(manifest):
        kept = installed_files(entry, sorted(members))
        assert entry["bin"] in kept
        assert {"kubectl-canary", "kubectl_complete-canary"} <= kept
        assert any(name.rsplit("/", 1)[-1].lower() in LICENSE_NAMES for name in kept)
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    assert "Version 2.0, January 2004" in (ROOT / "LICENSE").read_text()


def test_the_manifest_names_this_version_and_its_archive(manifest: dict[str, Any], release: ModuleType) -> None:
    # The sha256 describes the archive of the last release (scripts/release.py writes it, and
    # `scripts/release.py --check` compares it with a fresh build before tagging); code changes
    # between releases do not make the suite fail.
    recorded = platforms(manifest)[0]["sha256"]
    assert release.manifest_mismatches(MANIFEST.read_text(), f"v{__version__}", recorded) == []


def test_the_build_is_reproducible(release_archive: Path, release: ModuleType) -> None:
    again = release.build(ROOT / "build" / "wheels")
    assert again == release_archive.read_bytes()


def test_the_manifest_update_touches_only_version_uri_and_sha256(release: ModuleType) -> None:
    text = MANIFEST.read_text()
    updated = release.updated_manifest(text, "v9.8.7", "a" * 64)
    changed = [(old, new) for old, new in zip(text.splitlines(), updated.splitlines()) if old != new]
    assert changed and all(re.match(r"\s+(version|uri|sha256): ", old) for old, _ in changed)
    document = yaml.safe_load(updated)
    assert document["spec"]["version"] == "v9.8.7"
    assert {e["sha256"] for e in document["spec"]["platforms"]} == {"a" * 64}
    assert release.manifest_mismatches(updated, "v9.8.7", "a" * 64) == []
