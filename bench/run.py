"""Latency and request budget of kubectl-canary, side by side with the real kubectl, against the project's
fake API server on loopback. Run from anywhere with the project's venv:

    .venv/bin/python bench/run.py [--runs N] [--quick] [--json PATH] [--write-readme] [--save-baseline]

Prints a markdown report (README.md beside this file says what each figure means)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: bench, tests, kubectl_canary

from bench import report
from bench.imports import ImportProfile, profile
from bench.procs import Child, ChildFailed, Samples, expect, run_child
from bench.scenario import (
    APP,
    Scenario,
    SeedFailed,
    child_environment,
    scale_server,
    seed_scale_apps,
    snapshot,
    timed_get,
    tool,
)
from tests.fake_apiserver import FakeApiServer

ROOT = Path(__file__).resolve().parent.parent
BASELINE = Path(__file__).resolve().parent / "baseline.json"
README = Path(__file__).resolve().parent / "README.md"
SCALES = (100, 1000, 5000)
ROUTE_TABLE = "routetable.gateway.solo.io"
FLOOR_BARE = "python -S -c pass"
FLOOR_PYTHON = "python -c pass"
FLOOR_IMPORT = "python -c 'import kubectl_canary.cli'"
FLOOR_IMPORT_UNCOMPILED = "python -c 'import kubectl_canary.cli' (no bytecode)"
FLOOR_KUBECTL = "kubectl version --client"
HTTP_ROUTE = "httproute.gateway.networking.k8s.io"
GW_APP = "gwecho"  # the same rollout on the Gateway API router
GW_WEIGHT = "weight (HTTPRoute)"
GW_PATCH = "kubectl patch (HTTPRoute)"
EXEC_WEIGHT = "weight (exec kubeconfig)"
EXEC_PATCH = "kubectl patch (exec kubeconfig)"


@dataclass(frozen=True)
class Job:
    """One measured command. `argv(round)` may differ per round (a fresh app, an alternating value)."""

    name: str
    argv: Callable[[int], list[str]]
    plugin: bool = True  # a kubectl-canary command, held to a request budget
    env: Mapping[str, str] | None = None


@dataclass
class Measured:
    samples: Samples = field(default_factory=Samples.empty)
    requests: list[list[str]] = field(default_factory=list)
    argv: str = ""


@dataclass(frozen=True)
class Tools:
    python: str
    plugin: str
    kubectl: str


def request_log(api: FakeApiServer) -> list[str]:
    return [f"{r.method} {r.path}" + (f"?{urlencode(r.query)}" if r.query else "") for r in api.requests]


@dataclass(frozen=True)
class Runner:
    """Runs commands against one fake API server, in one environment and working directory."""

    api: FakeApiServer
    env: Mapping[str, str]
    cwd: Path
    timeout: float = 120.0

    def measure(self, job: Job, round_: int, into: Measured | None = None, *, check: bool = True) -> Child:
        argv = job.argv(round_)
        self.api.clear_requests()
        child = run_child(argv, job.env or self.env, cwd=str(self.cwd), timeout=self.timeout)
        if check:
            expect(child)
        if into is not None:
            into.samples.add(child)
            into.requests.append(request_log(self.api))
            into.argv = " ".join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))
        return child

    def rounds(
        self, groups: list[list[Job]], runs: int, warmup: int, progress: Callable[[str], None]
    ) -> dict[str, Measured]:
        """`warmup` unrecorded rounds, then `runs` recorded ones. In each round every group runs back to
        back, its order reversed every other round (A/B, B/A); the order of the groups rotates from round
        to round."""
        results = {job.name: Measured() for group in groups for job in group}
        for round_ in range(-warmup, runs):
            shift = round_ % len(groups)
            for group in groups[shift:] + groups[:shift]:
                for job in group if round_ % 2 == 0 else list(reversed(group)):
                    self.measure(job, round_, results[job.name] if round_ >= 0 else None)
            progress(f"round {round_ + 1}/{runs}" if round_ >= 0 else "warm-up round")
        return results


def summarize(measured: Measured) -> dict[str, Any]:
    counts = sorted({len(r) for r in measured.requests})
    return {
        "argv": measured.argv,
        **measured.samples.summary(),
        "requests": measured.requests[0] if measured.requests else [],
        "request_counts": counts,
        "wall_ms": [round(w, 1) for w in measured.samples.wall_ms],
    }


def pairwise_ratio(a: Measured, b: Measured) -> float:
    return statistics.median(x / y for x, y in zip(a.samples.wall_ms, b.samples.wall_ms))


def import_profiles(runner: Runner, scenario: Scenario, tools: Tools, runs: int) -> dict[str, Any]:
    """`python -X importtime` of each command, run for real (fresh apps for the verbs that move one on)."""

    def traced(*args: str) -> Callable[[int], list[str]]:
        return lambda _: [tools.python, "-X", "importtime", tools.plugin, *args]

    jobs = {
        "weight": lambda r: traced("weight", APP, "30" if r % 2 else "70", "--force-conflicts")(r),
        "header": lambda r: traced("header", scenario.take("header"), "v2")(r),
        "finish": lambda r: traced("finish", scenario.take("finish"))(r),
        "abort": lambda r: traced("abort", scenario.take("abort"))(r),
        "init": lambda r: traced("init", scenario.new_name("init"))(r),
        "status APP": traced("status", APP),
        "status -A": traced("status", "-A"),
    }
    found: dict[str, list[ImportProfile]] = {name: [] for name in jobs}
    for round_ in range(runs):
        for name, argv in jobs.items():
            found[name].append(profile(runner.measure(Job(name, argv), round_).err))
    return {name: aggregate_imports(profiles) for name, profiles in found.items()}


def aggregate_imports(profiles: list[ImportProfile]) -> dict[str, Any]:
    packages = {p for prof in profiles for p in prof.by_package}
    ours = {m for prof in profiles for m in prof.by_module}
    external: dict[tuple[str, str], list[float]] = {}
    for prof in profiles:
        for ext in prof.external:
            external.setdefault((ext.module, ext.imported_by), []).append(ext.cumulative_ms)
    first = profiles[0]
    return {
        "runs": len(profiles),
        "startup_ms": round(statistics.median(p.startup_ms for p in profiles), 1),
        "imports_ms": round(statistics.median(p.imports_ms for p in profiles), 1),
        "by_package": {
            pkg: round(statistics.median(p.by_package.get(pkg, 0.0) for p in profiles), 2) for pkg in sorted(packages)
        },
        "by_module": {
            mod: round(statistics.median(p.by_module.get(mod, 0.0) for p in profiles), 2) for mod in sorted(ours)
        },
        "cumulative": {
            mod: round(statistics.median(p.cumulative.get(mod, 0.0) for p in profiles), 2) for mod in sorted(ours)
        },
        "editable_ms": round(statistics.median(p.editable_ms for p in profiles), 1),
        "kubernetes": any(p.kubernetes_imported for p in profiles),
        "generated_api": any(p.generated_api_imported for p in profiles),
        "kubernetes_ms": round(statistics.median(p.by_package.get("kubernetes", 0.0) for p in profiles), 1),
        "ours": first.ours(),
        "third_party": first.third_party(),
        "external": sorted(
            ([module, by, round(statistics.median(ms), 1)] for (module, by), ms in external.items()),
            key=lambda e: -float(e[2]),
        ),
    }


def weights_patch(path: str, round_: int) -> str:
    """A JSON patch setting the two weights at `path` (primary, canary) to 70/30 or 30/70."""
    canary = 30 if round_ % 2 else 70
    return json.dumps([{"op": "replace", "path": f"{path}/0/weight", "value": 100 - canary},
                       {"op": "replace", "path": f"{path}/1/weight", "value": canary}])


def main_scenario(args: argparse.Namespace, tools: Tools, workdir: Path, say: Callable[[str], None]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    source = snapshot(ROOT / "kubectl_canary", workdir / "src")
    uncompiled = snapshot(ROOT / "kubectl_canary", workdir / "src-uncompiled")
    with FakeApiServer() as api:
        scenario = Scenario(api, workdir, child_environment(workdir, source, tools.plugin))
        runner = Runner(api, scenario.env, workdir)
        no_bytecode = {
            **child_environment(workdir, uncompiled, tools.plugin, bytecode=False),
            "KUBECONFIG": str(scenario.kubeconfig),
        }
        warmup = 0 if args.quick else 1
        uses = warmup + args.runs + args.import_runs
        began = time.perf_counter()
        scenario.seed_app(APP, "weighted")
        # As on a cluster with Gloo: the table carries Gloo's verdict, which Gloo rewrites only when it
        # changes, so a command that waited for a new one would wait for nothing.
        scenario.accept_route_table(APP)
        scenario.seed_app(GW_APP, "weighted", router="gateway-api")
        for pool, phase in (("header", "stable"), ("finish", "header"), ("abort", "header")):
            scenario.fill_pool(pool, phase, uses)
        say(f"seeded {1 + 3 * uses} apps through the plugin in {time.perf_counter() - began:.1f}s (not counted)")

        k, p, py = tools.kubectl, tools.plugin, tools.python
        # The same change both ways: the two weights of the primary route. The plugin alternates 60/40 and
        # kubectl 70/30 (canary), so every run of either is a real write whatever ran before it; the plugin
        # takes the routes back from kubectl's patch each time (--force-conflicts), as after a hand edit.
        groups = [
            [
                Job("weight", lambda r: [p, "weight", APP, "40" if r % 2 else "60", "--force-conflicts"]),
                Job(
                    "kubectl patch",
                    lambda r: [k, "patch", ROUTE_TABLE, f"{APP}-routes", "--type", "json", "-p",
                               weights_patch("/spec/routes/1/routeAction/multi/destinations", r)],
                    plugin=False,
                ),
            ],
            [
                Job(GW_WEIGHT, lambda r: [p, "weight", GW_APP, "40" if r % 2 else "60", "--force-conflicts"]),
                Job(
                    GW_PATCH,
                    lambda r: [k, "patch", HTTP_ROUTE, GW_APP, "--type", "json", "-p",
                               weights_patch("/spec/rules/1/backendRefs", r)],
                    plugin=False,
                ),
            ],
            [
                Job("status APP", lambda _: [p, "status", APP]),
                Job("kubectl get", lambda _: [k, "get", ROUTE_TABLE, f"{APP}-routes", "-o", "json"], plugin=False),
                Job("kubectl canary status APP", lambda _: [k, "canary", "status", APP], plugin=False),
            ],
            [
                Job("status -A", lambda _: [p, "status", "-A"]),
                Job("kubectl get -A", lambda _: [k, "get", "routetables.gateway.solo.io", "-A"], plugin=False),
            ],
            [Job("header", lambda _: [p, "header", scenario.take("header"), "v2"])],
            [Job("finish", lambda _: [p, "finish", scenario.take("finish")])],
            [Job("abort", lambda _: [p, "abort", scenario.take("abort")])],
            [Job("init", lambda _: [p, "init", scenario.new_name("init")])],
            [
                Job(FLOOR_BARE, lambda _: [py, "-S", "-c", "pass"], plugin=False),
                Job(FLOOR_PYTHON, lambda _: [py, "-c", "pass"], plugin=False),
                Job(FLOOR_IMPORT, lambda _: [py, "-c", "import kubectl_canary.cli"], plugin=False),
                Job(
                    FLOOR_IMPORT_UNCOMPILED,
                    lambda _: [py, "-c", "import kubectl_canary.cli"],
                    plugin=False,
                    env=no_bytecode,
                ),
                Job(FLOOR_KUBECTL, lambda _: [k, "version", "--client"], plugin=False),
            ],
        ]
        # Compile our modules into the snapshot and fill kubectl's discovery cache before timing anything.
        for job in (groups[1][0], groups[1][1]):
            runner.measure(job, -1)
        say(
            f"timing {sum(len(g) for g in groups)} commands, {args.runs} rounds"
            + ("" if args.quick else " after one warm-up round")
        )
        measured = runner.rounds(groups, args.runs, warmup, say)
        results["apps_in_cluster"] = len(api.list("routetables"))
        results["commands"] = {name: summarize(m) for name, m in measured.items()}
        results["plugin_commands"] = [job.name for group in groups for job in group if job.plugin]
        results["ratios"] = {
            f"{a} / {b}": {
                "of_medians": round(measured[a].samples.median_ms / measured[b].samples.median_ms, 2),
                "pairwise_median": round(pairwise_ratio(measured[a], measured[b]), 2),
            }
            for a, b in (
                ("weight", "kubectl patch"),
                (GW_WEIGHT, GW_PATCH),
                ("status APP", "kubectl get"),
                ("status -A", "kubectl get -A"),
            )
        }

        say(f"import time of 7 commands, {args.import_runs} run(s) each")
        results["imports"] = import_profiles(runner, scenario, tools, args.import_runs)

        say(f"exec-credential kubeconfig, {args.fallback_runs} round(s)")
        exec_env = {**scenario.env, "KUBECONFIG": str(scenario.exec_kubeconfig)}
        fallback_groups = [
            [
                Job(
                    EXEC_WEIGHT,
                    lambda r: [p, "weight", APP, "45" if r % 2 else "55", "--force-conflicts"],
                    env=exec_env,
                ),
                Job(
                    EXEC_PATCH,
                    lambda r: [k, "patch", ROUTE_TABLE, f"{APP}-routes", "--type", "json", "-p",
                               weights_patch("/spec/routes/1/routeAction/multi/destinations", r)],
                    plugin=False,
                    env=exec_env,
                ),
            ]
        ]
        # One warm-up round always: the first run fills caches (a zipapp compiles the kubernetes package).
        fallback = runner.rounds(fallback_groups, args.fallback_runs, 1, say)
        traced = runner.measure(Job("imports", lambda _: [py, "-X", "importtime", p, "status", APP], env=exec_env), 0)
        results["fallback"] = {
            "commands": {name: summarize(m) for name, m in fallback.items()},
            "ratio": round(fallback[EXEC_WEIGHT].samples.median_ms / fallback[EXEC_PATCH].samples.median_ms, 2),
            "imports": aggregate_imports([profile(traced.err)]),
        }
        results["source"] = str(source)
        return results


def scaling(args: argparse.Namespace, tools: Tools, workdir: Path, say: Callable[[str], None]) -> list[dict[str, Any]]:
    """`status -A` at 100, 1,000 and 5,000 apps (50 per namespace; one in ten weighted, one in ten in the
    header phase, so 1.2 Deployments per app). A size is run again while its runs so far took less than
    `args.scale_seconds`; a run longer than `args.scale_timeout` is stopped and reported as such."""
    rows = []
    with scale_server() as api:
        kubeconfig = api.write_kubeconfig(workdir / "kubeconfig-scale", namespace="default")
        env = {**child_environment(workdir, workdir / "src", tools.plugin), "KUBECONFIG": str(kubeconfig)}
        runner = Runner(api, env, workdir, timeout=args.scale_timeout)
        job = Job("status -A", lambda _: [tools.plugin, "status", "-A"])
        seeded = 0
        for apps in SCALES:
            seed_s = seed_scale_apps(api, seeded, apps)
            seeded = apps
            lists = {}
            for resource, path in (
                ("routetables", "/apis/gateway.solo.io/v1/routetables"),
                ("deployments", "/apis/apps/v1/deployments"),
            ):
                size, ms = timed_get(api, path)
                lists[resource] = {"bytes": size, "server_ms": round(ms, 1)}
            measured = Measured()
            stopped = False
            while len(measured.samples.wall_ms) < args.scale_runs:
                child = runner.measure(job, 0, measured, check=False)
                if child.timed_out:
                    stopped = True
                    break
                expect(child)
                spent = sum(measured.samples.wall_ms) / 1000
                if spent + child.wall_ms / 1000 > args.scale_seconds:
                    break
            rows.append(
                {
                    "apps": apps,
                    "deployments": len(api.list("deployments")),
                    "namespaces": len(api.list("namespaces")),
                    "seed_s": round(seed_s, 2),
                    "lists": lists,
                    "stopped": stopped,
                    "rows_printed": max(0, len(child.out.splitlines()) - 1),
                    **summarize(measured),
                }
            )
            shown = (
                f"stopped after {args.scale_timeout:g} s"
                if stopped
                else f"median {measured.samples.median_ms:.0f} ms of {len(measured.samples.wall_ms)} run(s)"
            )
            say(f"status -A at {apps} apps: {shown} (seeding took {seed_s:.1f}s, not counted)")
    return rows


def slim(results: dict[str, Any]) -> dict[str, Any]:
    """The figures without the import-time entries under 0.5 ms: what a baseline needs, a reviewable size."""

    def trim(imports: dict[str, Any]) -> dict[str, Any]:
        keep = {
            key: {k: v for k, v in imports[key].items() if v >= 0.5}
            for key in ("by_package", "by_module", "cumulative")
        }
        return {**imports, **keep, "external": [e for e in imports["external"] if e[2] >= 0.5]}

    fallback = results["fallback"]
    return {
        **results,
        "imports": {name: trim(imports) for name, imports in results["imports"].items()},
        "fallback": {**fallback, "imports": trim(fallback["imports"])},
    }


def git_revision() -> dict[str, Any]:
    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted": bool(git("status", "--porcelain", "--", "kubectl_canary")),
    }


def kubectl_version(kubectl: str) -> str:
    done = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True, text=True, check=False)
    try:
        return str(json.loads(done.stdout)["clientVersion"]["gitVersion"])
    except (ValueError, KeyError):
        return "unknown"


def find_tools(plugin_path: Path | None) -> Tools:
    plugin = str(plugin_path.resolve()) if plugin_path else tool("kubectl-canary")
    if plugin_path and (not plugin_path.is_file() or plugin_path.name != "kubectl-canary"):
        raise SystemExit(f"bench: --plugin must name an executable file called kubectl-canary, not {plugin_path}")
    kubectl = os.environ.get("KUBECTL") or tool("kubectl")
    if not plugin or not kubectl:
        raise SystemExit("bench: needs kubectl-canary and kubectl (run scripts/test once to set up .venv)")
    return Tools(python=sys.executable, plugin=plugin, kubectl=kubectl)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=None, help="recorded rounds (default 9; --quick 3)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds everywhere (about 40 s)")
    parser.add_argument(
        "--plugin",
        type=Path,
        help="the kubectl-canary executable to measure, e.g. the release zipapp (default: the venv's)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures as JSON to this file")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=BASELINE,
        help=f"figures to compare with, as written by --save-baseline (default {BASELINE.name})",
    )
    parser.add_argument("--save-baseline", action="store_true", help="write these figures as the new baseline")
    parser.add_argument("--write-readme", action="store_true", help="put the report into README.md")
    args = parser.parse_args(argv)
    args.runs = args.runs or (3 if args.quick else 9)
    args.import_runs = 1 if args.quick else 3
    args.fallback_runs = 1 if args.quick else 3
    args.scale_runs = 1 if args.quick else 5
    args.scale_seconds = 0.0 if args.quick else 25.0
    args.scale_timeout = 6.0 if args.quick else 120.0
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tools = find_tools(args.plugin)
    started = time.perf_counter()

    def say(line: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {line}", file=sys.stderr, flush=True)

    helm = shutil.which("helm")
    results: dict[str, Any] = {
        "meta": {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            **git_revision(),
            "cpus": os.cpu_count(),
            "load_before": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "kubectl": kubectl_version(tools.kubectl),
            "plugin": tools.plugin,
            "plugin_is_venv": args.plugin is None,
            "runs": args.runs,
            "quick": args.quick,
        },
        "helm": {
            "path": helm,
            "measured": False,
            "note": "helm is not installed on our machines"
            if helm is None
            else "helm is installed, but the seed chart is not in this repository",
        },
    }
    try:
        with tempfile.TemporaryDirectory(prefix="kubectl-canary-bench-") as tmp:
            results.update(main_scenario(args, tools, Path(tmp), say))
            results["scale"] = scaling(args, tools, Path(tmp), say)
    except (ChildFailed, SeedFailed) as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    results["meta"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    results["meta"]["seconds"] = round(time.perf_counter() - started, 1)

    baseline = json.loads(args.baseline.read_text()) if args.baseline.exists() and not args.save_baseline else None
    text = report.render(results, baseline)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    if args.save_baseline:
        BASELINE.write_text(json.dumps(slim(results), indent=1) + "\n")
    if args.write_readme:
        report.write_readme(README, text)
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
