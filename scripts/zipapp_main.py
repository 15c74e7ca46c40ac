"""Start-up of the kubectl-canary zipapp; scripts/release.py stores it in the archive as __main__.py.

Needs a python3 (3.9 or newer) and nothing else: every dependency is in the archive, which comes
first on sys.path, and site-packages, the user site and PYTHONPATH are dropped from sys.path, as
`python3 -I -S` would, so what else is installed cannot change the outcome.

Python compiles modules imported from a zip on every run and caches no bytecode for them (~0.1 s
for the plugin and the packages it vendors). So the first run unpacks the archive into
${XDG_CACHE_HOME:-~/.cache}/kubectl-canary/<build>/, where Python caches bytecode as usual, and
removes the builds unpacked by other versions. Where that directory cannot be written, it runs
from the archive itself.
"""

import os
import sys

BUILD_ID = "@BUILD_ID@"  # a digest of the archive's other entries, written by scripts/release.py
_UNPACKING = ".unpacking-"


def _cache_root():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "kubectl-canary")


def _unpacked(archive):
    """The directory holding this build's files, unpacked on first use; None if that fails."""
    root = _cache_root()
    target = os.path.join(root, BUILD_ID)
    if os.path.isdir(target):
        return target
    import shutil
    import tempfile
    import zipfile

    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
        staging = tempfile.mkdtemp(prefix=_UNPACKING, dir=root)
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(staging, [name for name in bundle.namelist() if name != "__main__.py"])
        try:
            os.rename(staging, target)  # atomic: a directory that exists is complete
        except OSError:  # another run unpacked it first
            shutil.rmtree(staging, ignore_errors=True)
            if not os.path.isdir(target):
                return None
        for name in os.listdir(root):
            if name != BUILD_ID and not name.startswith(_UNPACKING):
                shutil.rmtree(os.path.join(root, name), ignore_errors=True)
    except Exception:
        return None
    return target


def _isolate(first):
    """sys.path as `python3 -I -S` has it, with `first` in front."""
    dropped = set(filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep)))
    try:
        import site

        dropped.update(site.getsitepackages())
        dropped.add(site.getusersitepackages())
    except Exception:
        pass
    kept = [
        entry
        for entry in sys.path[1:]
        if entry not in dropped and os.path.basename(entry.rstrip(os.sep)) not in ("site-packages", "dist-packages")
    ]
    sys.path[:] = [first, *kept]


def main():
    # Written for whatever python3 runs it, so that an old one gets this line, not a SyntaxError.
    if sys.version_info < (3, 9):  # noqa: UP036
        sys.stderr.write(
            "error: kubectl-canary needs Python 3.9 or newer; %s is %d.%d\n"  # noqa: UP031
            % (sys.executable or "python3", sys.version_info[0], sys.version_info[1])
        )
        return 1
    archive = sys.path[0]
    unpacked = _unpacked(archive)
    if unpacked:
        sys.dont_write_bytecode = False  # our own cache: as `python3 -I`, ignore PYTHONDONTWRITEBYTECODE
    _isolate(unpacked or archive)
    # The command as the console script starts and ends it (kubectl_canary/startup.py).
    from kubectl_canary.startup import command

    command()


if __name__ == "__main__":
    sys.exit(main())
