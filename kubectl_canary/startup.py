"""`kubectl-canary`, the command: `cli.main` with the compiled methods of Python's dataclasses kept from one
command to the next.

`@dataclass` writes each class's methods (__init__, __repr__, __eq__, __hash__, and __setattr__ and
__delattr__ for a frozen one) as source text and compiles it when the module is imported: about 200
compilations for `weight`, some 20 ms of the 60 ms its imports take. The texts are the same every time,
so their compiled code is kept in kubectl's cache directory ($KUBECACHEDIR, else ~/.kube/cache, as
kubectl's), keyed by the text itself: what runs is exactly what compiling that text gives (the same
compiler flags as dataclasses' own `exec`), and a text not in the cache is compiled as before. The file
is tied to the Python version that wrote it (marshal's format is), written atomically and privately, and
ignored when it cannot be read, is not the user's own, or others may write it. Only the command goes
through here: importing the package (tests, `import kubectl_canary.cli`) changes nothing.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import sys
from collections.abc import Mapping
from types import CodeType
from typing import Any

_MAX_ENTRIES = 4000  # past it, only the texts this command used are kept


class CompiledSources:
    """A stand-in for the builtin `exec` that keeps the code compiled from source texts."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.codes = self._load()
        self.used: set[str] = set()
        self.added = False

    def _load(self) -> dict[str, CodeType]:
        try:
            with open(self.path, "rb") as f:
                status = os.fstat(f.fileno())
                if status.st_uid != os.getuid() or status.st_mode & 0o022:
                    return {}  # someone else's, or writable by others: never run it
                version, codes = marshal.load(f)
        except (OSError, EOFError, ValueError, TypeError):
            return {}
        return codes if version == sys.version and isinstance(codes, dict) else {}

    def exec(self, source: Any, globals: dict[str, Any] | None = None, locals: Any = None, /,
             **options: Any) -> None:
        if isinstance(source, str):
            code = self.codes.get(source)
            if not isinstance(code, CodeType):
                # As exec compiles a text called from dataclasses.py: file "<string>", no __future__ flags.
                code = compile(source, "<string>", "exec", dont_inherit=True)
                self.codes[source] = code
                self.added = True
            self.used.add(source)
            source = code
        exec(source, globals, locals, **options)

    def save(self) -> None:
        if not self.added:
            return
        codes = self.codes if len(self.codes) <= _MAX_ENTRIES else {s: self.codes[s] for s in self.used}
        temporary = f"{self.path}.{os.getpid()}"
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                marshal.dump((sys.version, codes), f)
            os.replace(temporary, self.path)
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                os.unlink(temporary)


def cache_file(env: Mapping[str, str]) -> str:
    cache_dir = env.get("KUBECACHEDIR") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".kube", "cache")
    return os.path.join(cache_dir, "kubectl-canary", f"dataclasses-{sys.implementation.cache_tag}.marshal")


def main() -> int:
    import dataclasses

    sources = CompiledSources(cache_file(os.environ))
    dataclasses.exec = sources.exec  # type: ignore[attr-defined]  # dataclasses' global `exec`, before the builtin
    try:
        from kubectl_canary.cli import main as run

        return run()
    finally:
        del dataclasses.exec  # type: ignore[attr-defined]
        sources.save()
