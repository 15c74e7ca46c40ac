"""Run one child process and measure it: wall time, peak RSS, exit code, output.

Peak RSS: Linux keeps a process's high-water RSS across fork and exec, so a child of this (large)
benchmark process would report at least the benchmark's own size at the fork. The child is
therefore started through GNU time (`/usr/bin/time -f %M`), a small process that forks it: its
peak is the command's own. Without GNU time, wait4's figure is used and marked as an upper bound.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Child:
    argv: tuple[str, ...]
    code: int
    wall_ms: float
    max_rss_kib: int
    out: str
    err: str
    timed_out: bool = False
    cpu_ms: float = 0.0  # user + system time of the command (and of GNU time, which is negligible)


class ChildFailed(Exception):
    """A measured command did not do what the benchmark expected (wrong exit code)."""


def run_child(argv: Sequence[str], env: Mapping[str, str], *, cwd: str | None = None, timeout: float = 120.0) -> Child:
    """Run `argv` to completion. Output goes to files, not pipes, so a large output costs the child what
    a redirect to a file would; the wall time runs from just before the fork to the reaped exit.

    The child is reaped with os.wait4, which gives its own peak RSS (RUSAGE_CHILDREN would give the
    largest of all children so far). After `timeout` seconds the child is killed (`timed_out`)."""
    gnu_time = GNU_TIME
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile() as rss:
        command = [gnu_time, "-o", rss.name, "-f", "%M", *argv] if gnu_time else list(argv)
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        fired: list[bool] = []

        def stop() -> None:
            fired.append(True)
            proc.kill()

        watchdog = threading.Timer(timeout, stop)
        watchdog.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen so it does not wait
        out.seek(0)
        err.seek(0)
        return Child(
            argv=tuple(argv),
            code=proc.returncode,
            wall_ms=wall * 1000.0,
            max_rss_kib=_own_peak_kib(rss.name) if gnu_time else int(usage.ru_maxrss),  # KiB on Linux
            out=out.read().decode(errors="replace"),
            err=err.read().decode(errors="replace"),
            timed_out=bool(fired),
            cpu_ms=(usage.ru_utime + usage.ru_stime) * 1000.0,
        )


GNU_TIME = "/usr/bin/time" if shutil.which("/usr/bin/time") else None


def _own_peak_kib(path: str) -> int:
    """The last line GNU time wrote (it may precede it with 'Command exited with non-zero status')."""
    with open(path) as f:
        lines = [line.strip() for line in f if line.strip()]
    return int(lines[-1]) if lines and lines[-1].isdigit() else 0


def expect(child: Child, code: int = 0) -> Child:
    if child.timed_out:
        raise ChildFailed(f"`{' '.join(child.argv[-6:])}` was stopped after {child.wall_ms / 1000:.0f} s")
    if child.code != code:
        shown = " ".join(child.argv[-6:])
        detail = (child.err.strip() or child.out.strip())[-600:]
        raise ChildFailed(f"`... {shown}` exited {child.code} (expected {code}): {detail}")
    return child


@dataclass
class Samples:
    """Every run of one measured command."""

    wall_ms: list[float]
    max_rss_kib: list[int]

    @classmethod
    def empty(cls) -> Samples:
        return cls([], [])

    def add(self, child: Child) -> None:
        self.wall_ms.append(child.wall_ms)
        self.max_rss_kib.append(child.max_rss_kib)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.wall_ms)

    @property
    def min_ms(self) -> float:
        return min(self.wall_ms)

    @property
    def max_ms(self) -> float:
        return max(self.wall_ms)

    @property
    def peak_rss_mib(self) -> float:
        return max(self.max_rss_kib) / 1024.0

    def summary(self) -> dict[str, float | int]:
        return {
            "runs": len(self.wall_ms),
            "median_ms": round(self.median_ms, 1),
            "min_ms": round(self.min_ms, 1),
            "max_ms": round(self.max_ms, 1),
            "peak_rss_mib": round(self.peak_rss_mib, 1),
        }
