"""Fixtures for the release archive: scripts/release.py loaded as a module, one build per session."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import kubectl_binary

ROOT = Path(__file__).resolve().parents[2]


def load_release() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kubectl_canary_release", ROOT / "scripts" / "release.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def release() -> ModuleType:
    return load_release()


@pytest.fixture(scope="session")
def release_archive(tmp_path_factory: pytest.TempPathFactory, release: ModuleType) -> Path:
    """The archive as scripts/release.py builds it (wheels from build/wheels, else PyPI)."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "release.py"), "--out", str(out), "--no-manifest"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return out / release.archive_name(f"v{release.version()}")


def unpack(archive: Path, into: Path) -> Path:
    into.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            assert member.isfile() and "/" not in member.name, member.name  # flat, plain files
            source = tar.extractfile(member)
            assert source is not None
            (into / member.name).write_bytes(source.read())
            (into / member.name).chmod(member.mode)
    return into


def system_python() -> str:
    """A python3 outside the venv, as a user of the archive has one."""
    for candidate in ("/usr/bin/python3", str(Path(sys.base_prefix) / "bin" / "python3")):
        if os.access(candidate, os.X_OK):
            return candidate
    pytest.skip("no python3 outside the venv")


def python_only_dir(tmp_path: Path, python: str) -> Path:
    """A directory holding nothing but `python3`, for a PATH that offers nothing else."""
    directory = tmp_path / "python-bin"
    directory.mkdir(parents=True)
    (directory / "python3").symlink_to(python)
    return directory


@pytest.fixture
def plugin_dir(release_archive: Path, tmp_path: Path) -> Path:
    """The archive unpacked into an empty directory."""
    return unpack(release_archive, tmp_path / "plugin")


@pytest.fixture
def minimal_env(plugin_dir: Path, tmp_path: Path, kubeconfig: Path) -> dict[str, str]:
    """`env -i`, then PATH (the unpacked archive, a system python3), HOME and KUBECONFIG."""
    home = tmp_path / "home"
    home.mkdir()
    python_dir = python_only_dir(tmp_path, system_python())
    return {"PATH": f"{plugin_dir}{os.pathsep}{python_dir}", "HOME": str(home), "KUBECONFIG": str(kubeconfig)}


def kubectl_path() -> str:
    """The kubectl the other tests use, as an absolute path (the minimal PATHs here have no kubectl)."""
    return os.path.abspath(kubectl_binary())
