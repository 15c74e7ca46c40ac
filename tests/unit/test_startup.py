"""The command's start (kubectl_canary/startup.py): dataclasses' compiled methods kept between commands give
the same classes, and a cache file that is not right is never run."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kubectl_canary.startup import CompiledSources, cache_file

ROOT = Path(__file__).resolve().parents[2]


def make_classes(sources: CompiledSources) -> tuple[type, type]:
    dataclasses.exec = sources.exec  # type: ignore[attr-defined]
    try:

        @dataclasses.dataclass(frozen=True)
        class Point:
            x: int
            y: int = 0
            tags: tuple[str, ...] = dataclasses.field(default=(), compare=False)

        @dataclasses.dataclass
        class Box:
            items: list[int] = dataclasses.field(default_factory=list)

    finally:
        del dataclasses.exec  # type: ignore[attr-defined]
    return Point, Box


def behaviour(point: type, box: type) -> list[object]:
    p = point(1, tags=("a",))
    frozen = False
    try:
        p.x = 2
    except dataclasses.FrozenInstanceError:
        frozen = True
    return [repr(p), p == point(1), hash(p) == hash(point(1, 0)), frozen, repr(box()), box().items is not box().items,
            repr(dataclasses.replace(p, y=5)), vars(point)["__init__"].__code__.co_filename]


def test_classes_from_the_cache_behave_as_compiled_ones(tmp_path: Path) -> None:
    path = str(tmp_path / "cache" / "kubectl-canary" / "dataclasses.marshal")
    first = CompiledSources(path)
    compiled = behaviour(*make_classes(first))
    assert first.added
    first.save()
    assert (os.stat(path).st_mode & 0o777, os.stat(os.path.dirname(path)).st_mode & 0o777) == (0o600, 0o700)
    second = CompiledSources(path)
    cached = behaviour(*make_classes(second))
    assert not second.added  # every method came from the file
    assert cached == compiled
    assert str(compiled[0]).endswith(".Point(x=1, y=0, tags=('a',))") and compiled[1:4] == [True, True, True]


@pytest.mark.parametrize("spoil", ["garbage", "group-writable", "other-version"])
def test_a_cache_file_that_is_not_right_is_not_used(tmp_path: Path, spoil: str) -> None:
    path = str(tmp_path / "dataclasses.marshal")
    sources = CompiledSources(path)
    make_classes(sources)
    sources.save()
    if spoil == "garbage":
        Path(path).write_bytes(b"\x00not marshal")
    elif spoil == "group-writable":
        os.chmod(path, 0o664)
    else:
        import marshal

        _, codes = marshal.loads(Path(path).read_bytes())
        Path(path).write_bytes(marshal.dumps(("2.7.18", codes)))
    again = CompiledSources(path)
    assert again.codes == {}
    assert str(behaviour(*make_classes(again))[0]).endswith(".Point(x=1, y=0, tags=('a',))")
    assert again.added


def test_the_file_is_in_kubectls_cache_directory() -> None:
    assert cache_file({"KUBECACHEDIR": "/c"}).startswith("/c/kubectl-canary/dataclass-methods-")
    assert cache_file({"HOME": "/h"}).startswith("/h/.kube/cache/kubectl-canary/dataclass-methods-")


def test_the_command_runs_the_same_with_and_without_the_cache(tmp_path: Path) -> None:
    env = {**os.environ, "KUBECACHEDIR": str(tmp_path), "KUBECONFIG": str(tmp_path / "none")}
    command = [sys.executable, "-c", "import sys; from kubectl_canary.startup import main; sys.exit(main())",
               "weight", "--help"]
    runs = [subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT) for _ in range(2)]
    assert Path(cache_file(env)).exists()
    assert [(r.returncode, r.stdout, r.stderr) for r in runs] == [(0, runs[0].stdout, "")] * 2
    assert "PERCENT" in runs[0].stdout


def test_a_module_on_first_use_is_imported_when_an_attribute_is_read() -> None:
    code = (
        "import sys; from kubectl_canary.startup import import_on_first_use\n"
        "import_on_first_use('colorsys')\n"
        "import colorsys\n"
        "before = type(sys.modules['colorsys']).__name__\n"
        "print(before, colorsys.rgb_to_hsv(1.0, 0.0, 0.0), type(sys.modules['colorsys']).__name__,"
        " colorsys.ONE_THIRD == sys.modules['colorsys'].ONE_THIRD)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.split() == ["ModuleOnFirstUse", "(0.0,", "1.0,", "1.0)", "module", "True"]


def test_a_command_does_not_load_what_it_does_not_use(tmp_path: Path) -> None:
    """inspect (with ast and tokenize) for dataclasses, shutil for argparse's help width, the idna codec for
    the connection: none of them is loaded by a command that gets as far as connecting."""
    env = {**os.environ, "KUBECACHEDIR": str(tmp_path), "KUBECONFIG": str(tmp_path / "none"), "COLUMNS": "100"}
    code = (
        "import sys; from kubectl_canary.startup import main\n"
        "try: main()\n"
        "finally: print(sorted(m for m in ('ast', 'tokenize', 'shutil', 'encodings.idna') if m in sys.modules),"
        " type(sys.modules['inspect']).__name__, file=sys.stderr)\n"
    )
    connecting = ["weight", "echo", "40", "-s", "https://127.0.0.1:1", "--request-timeout", "1s"]
    for argv in (["weight", "--help"], connecting):
        done = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, cwd=ROOT)
        assert done.stderr.splitlines()[-1] == "[] ModuleOnFirstUse", done.stderr
    usage = subprocess.run([sys.executable, "-c", code, "weight", "--help"], env=env, capture_output=True, text=True,
                           cwd=ROOT).stdout.split("\n\n")[0].splitlines()
    assert len(usage) > 3 and 90 <= max(map(len, usage)) <= 98  # wrapped as argparse does at $COLUMNS less 2


@pytest.mark.parametrize(("argv", "code", "out", "err"), [
    (["version"], 0, "kubectl-canary v", ""),
    (["weight", "echo", "200"], 2, "", "error: invalid weight '200'"),
])
def test_the_command_leaves_with_its_exit_code_and_its_output_flushed(tmp_path: Path, argv: list[str], code: int,
                                                                     out: str, err: str) -> None:
    """`command` ends the process without Python's teardown: what was printed into a pipe (block-buffered)
    still arrives, and the exit code is main's."""
    env = {**os.environ, "KUBECACHEDIR": str(tmp_path), "KUBECONFIG": str(tmp_path / "none")}
    env.pop("PYTHONUNBUFFERED", None)  # stdout into a pipe is then block-buffered, as for a user's `| grep`
    done = subprocess.run([sys.executable, "-c", "from kubectl_canary.startup import command; command()", *argv],
                          env=env, capture_output=True, text=True, cwd=ROOT)
    assert (done.returncode, done.stdout[:len(out)], done.stderr[:len(err)]) == (code, out, err)
    assert Path(cache_file(env)).exists()  # the cache was written before the process ended
