"""`kubectl-canary`, the command: `cli.main`, started with less work than Python's defaults would do.

Three things every command pays for at its start and does not need (bench/README.md has the figures):

- `@dataclass` writes each class's methods (__init__, __repr__, __eq__, __hash__, and __setattr__ and
  __delattr__ for a frozen one) as source text and compiles it when the module is imported: about 200
  compilations for `weight`. The texts are the same every time, so their compiled code is kept in kubectl's
  cache directory ($KUBECACHEDIR, else ~/.kube/cache, as kubectl's), keyed by the text itself: what runs is
  exactly what compiling that text gives (the same compiler flags as dataclasses' own `exec`), and a text not
  in the cache is compiled as before. Each entry stays marshalled until a class asks for it, so a command
  loads only its own (the file holds every command's). The file is tied to the Python version that wrote it
  (marshal's format is), written atomically and privately, and ignored when it cannot be read, is not the
  user's own, or others may write it.
- `dataclasses` imports `inspect` (with `ast`, `dis` and `tokenize`) only to give a class without a
  docstring one made from its signature. Ours all have docstrings, so `inspect` is put in place as a
  stand-in that imports it on its first use, by anything: a command never uses it.
- The cyclic garbage collector runs after every 700 new container objects; a command builds its classes
  and decodes its JSON and makes almost no cycles, so it runs far less often (still often enough for
  `--watch` and `--wait`, which run for long).

And one at its end: `command`, the console script, leaves the process as soon as the command is done and
its output flushed, without Python's teardown of every module and object it made (`os._exit`): about 15 ms
of `weight`'s 110. Nothing is lost: files are written and closed, and temporary ones removed, before the
command returns; no atexit hook is registered, and its only threads (the page readers of status, an exec
credential plugin's stderr copier) are daemons that the teardown would not wait for either.

Only the command goes through here: importing the package (tests, `import kubectl_canary.cli`) changes
nothing, and `main` returns the exit code.
"""

from __future__ import annotations

import contextlib
import gc
import marshal
import os
import sys
import types
from collections.abc import Mapping
from types import CodeType
from typing import Any, NoReturn

_MAX_ENTRIES = 4000  # past it, only the texts this command used are kept
_GC_FIRST_GENERATION = 50_000  # new container objects between collections (Python's default: 700)


class CompiledSources:
    """A stand-in for the builtin `exec` that keeps the code compiled from source texts."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.codes = self._load()  # source text -> its code, marshalled
        self.used: set[str] = set()
        self.added = False

    def _load(self) -> dict[str, bytes]:
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
            source = self._code(source)
        exec(source, globals, locals, **options)

    def _code(self, source: str) -> CodeType:
        self.used.add(source)
        kept = self.codes.get(source)
        if isinstance(kept, bytes):
            with contextlib.suppress(EOFError, ValueError, TypeError):
                code = marshal.loads(kept)
                if isinstance(code, CodeType):
                    return code
        # As exec compiles a text called from dataclasses.py: file "<string>", no __future__ flags.
        code = compile(source, "<string>", "exec", dont_inherit=True)
        self.codes[source] = marshal.dumps(code)
        self.added = True
        return code

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
    return os.path.join(cache_dir, "kubectl-canary", f"dataclass-methods-{sys.implementation.cache_tag}.marshal")


class ModuleOnFirstUse(types.ModuleType):
    """A stand-in for a module in sys.modules: `import` hands it out, and the first read of an attribute
    imports the real module, which then takes its place (the stand-in forwards to it from then on).
    importlib's LazyLoader would not do: `import` reads a module's __spec__, which loads it."""

    def __getattr__(self, attribute: str) -> Any:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(__import__(self.__name__), attribute)


def import_on_first_use(name: str) -> None:
    """Module `name` (top-level) imported when first used, not when imported. One already imported stays."""
    sys.modules.setdefault(name, ModuleOnFirstUse(name))


def main() -> int:
    gc.set_threshold(_GC_FIRST_GENERATION, *gc.get_threshold()[1:])
    import_on_first_use("inspect")
    import dataclasses

    sources = CompiledSources(cache_file(os.environ))
    dataclasses.exec = sources.exec  # type: ignore[attr-defined]  # dataclasses' global `exec`, before the builtin
    try:
        from kubectl_canary.cli import main as run

        return run()
    finally:
        del dataclasses.exec  # type: ignore[attr-defined]
        sources.save()


def command() -> NoReturn:
    """The `kubectl-canary` command: `main`, then out of the process at once (see above). A SystemExit (help,
    --version) leaves the usual way."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        code = code or 120  # as Python's own exit does when its standard streams cannot be flushed
    os._exit(code)
