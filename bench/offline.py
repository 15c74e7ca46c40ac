"""Offline mode latency: `weight` on manifest files and on Helm values, as a user runs it (a child process).

    .venv/bin/python bench/offline.py            # 9 runs per command, medians (minimum) in ms
    .venv/bin/python bench/offline.py --runs 3

Each run moves the weight back and forth (40% / 60%), so every run reads, computes, diffs and writes. The
repositories are copies of the golden ones under tests/gitops/ in a temporary directory. The floor is
`python -c pass` with the same interpreter. No target is asserted: the figures go into the report.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GITOPS = ROOT / "tests" / "gitops"
PLUGIN = ROOT / ".venv" / "bin" / "kubectl-canary"


def _timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": ""}
    with tempfile.TemporaryDirectory() as work:
        plain, kustomize = Path(work) / "plain", Path(work) / "kustomize"
        shutil.copytree(GITOPS / "repos" / "plain", plain)
        shutil.copytree(GITOPS / "repos" / "kustomize", kustomize)
        values = Path(work) / "values.yaml"
        shutil.copy(GITOPS / "helm" / "values-weight-10.yaml", values)
        plugin, overlay = str(PLUGIN), kustomize / "overlays" / "prod"
        for target in (plain, overlay):
            _timed([plugin, "header", "echo", "v2", "--local", "-f", str(target)], env)
        commands = {
            "python -c pass (floor)": lambda i: [sys.executable, "-c", "pass"],
            "weight --local -f plain/": lambda i: [plugin, "weight", "echo", str(40 + 20 * (i % 2)), "--local",
                                                  "-f", str(plain)],
            "weight --local -f overlays/prod (kustomize)": lambda i: [
                plugin, "weight", "echo", str(40 + 20 * (i % 2)), "--local", "-f", str(overlay)],
            "weight --helm-values values.yaml": lambda i: [plugin, "weight", "echo", str(40 + 20 * (i % 2)),
                                                          "--helm-values", str(values)],
            "status --helm-values values.yaml": lambda i: [plugin, "status", "echo", "--helm-values", str(values)],
        }
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for round_ in range(args.runs + 1):  # round 0 warms the caches and is not recorded
            for name, command in commands.items():
                elapsed = _timed(command(round_), env)
                if round_:
                    samples[name].append(elapsed)
    print("| command | median ms (min) |\n|---|---|")
    for name, values_ms in samples.items():
        print(f"| `{name}` | {statistics.median(values_ms):.0f} ({min(values_ms):.0f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
