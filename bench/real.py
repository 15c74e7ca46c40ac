"""kubectl-canary against a real API server (../shared/k8s), side by side with kubectl and helm, in one run:

1. `weight` on a RouteTable that carries Gloo's Accepted status and on an HTTPRoute, each run a real
   transition, against `kubectl patch` of the same change and `helm upgrade` of the seed's chart;
2. `status -A` at 10,000 apps (table and -o json): wall time and peak RSS, against the API server's own
   time for the same LISTs (the floor) and `kubectl get routetables,deployments -A`.

    .venv/bin/python bench/real.py [--quick] [--runs N] [--apps N] [--json PATH] [--write-readme] [--save-baseline]

Prints a markdown report (bench/README.md says what each figure means); progress goes to stderr."""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: bench, tests, kubectl_canary

from bench import real_report
from bench.apiserver import (
    ApiFailed,
    Client,
    Credentials,
    Floor,
    ParallelFloor,
    api_path,
    control_plane,
    create,
    floor_sequential,
    in_parallel,
    install_crds,
    list_counters,
    served_from,
)
from bench.procs import Child, ChildFailed, expect, run_child
from bench.scenario import child_environment, deployment, route_table, snapshot, tool
from tests.design_routes import PLATFORM_VIRTUAL_SERVICE

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
CHART = HERE / "chart"
BASELINE = HERE / "baseline-real.json"
README = HERE / "README.md"
APP = "echo"
GATEWAY = "gloo-system/public"
ACCEPTED = {"status": {"statuses": {"gloo-system": {"state": "Accepted", "reportedBy": "gateway"}}}}
# One namespace per tool, the same app in each: the objects differ only in their namespace.
NS_PLUGIN, NS_KUBECTL, NS_HELM = "plugin", "kubectl", "helm"
NS_PLUGIN_GW, NS_KUBECTL_GW = "plugin-gw", "kubectl-gw"
APPS_PER_NAMESPACE = 50
Obj = dict[str, Any]


@dataclass(frozen=True)
class Tools:
    python: str
    plugin: str
    kubectl: str
    helm: str | None


@dataclass(frozen=True)
class Sample:
    wall_ms: float
    rss_kib: int = 0
    cpu_ms: float | None = None  # a child's user + system time; None for in-process measurements


@dataclass(frozen=True)
class Job:
    """One measured thing: a child process (`argv`) or an in-process measurement (`measure`). `target` is
    the API path of the object it must change on every run."""

    name: str
    argv: Callable[[int], list[str]] | None = None
    measure: Callable[[int], Sample] | None = None
    target: str | None = None
    check: Callable[[Child], None] | None = None


@dataclass
class Series:
    wall_ms: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    unchanged: int = 0  # runs after which the target's resourceVersion was the same as before
    argv: str = ""

    def summary(self) -> Obj:
        walls = sorted(self.wall_ms)
        quartiles = statistics.quantiles(walls, n=4, method="inclusive") if len(walls) > 1 else [walls[0]] * 3
        return {
            "runs": len(walls),
            "median_ms": round(statistics.median(walls), 1),
            "p25_ms": round(quartiles[0], 1),
            "p75_ms": round(quartiles[2], 1),
            "min_ms": round(walls[0], 1),
            "max_ms": round(walls[-1], 1),
            "peak_rss_mib": round(max(self.rss_kib) / 1024.0, 1) if any(self.rss_kib) else None,
            "median_cpu_ms": round(statistics.median(self.cpu_ms), 1) if self.cpu_ms else None,
            "unchanged_runs": self.unchanged,
            "argv": self.argv,
            "wall_ms": [round(w, 1) for w in self.wall_ms],
        }


class Rounds:
    """Runs jobs interleaved round by round: in each round every group runs, the groups in an order
    rotated from the last round and each group's jobs rotated too (A B C, B C A, C A B, ...), so drift on
    a shared machine hits every side alike. Warm-up rounds are not recorded."""

    def __init__(self, env: Mapping[str, str], cwd: Path, client: Client, timeout: float) -> None:
        self.env = env
        self.cwd = cwd
        self.client = client
        self.timeout = timeout

    def _version(self, path: str) -> str:
        return str(self.client.call("GET", path)["metadata"]["resourceVersion"])

    def run(self, groups: list[list[Job]], runs: int, warmup: int, say: Callable[[str], None]) -> dict[str, Series]:
        series = {job.name: Series() for group in groups for job in group}
        versions = {job.target: self._version(job.target) for group in groups for job in group if job.target}
        for round_ in range(-warmup, runs):
            shift = round_ % len(groups)
            for group in groups[shift:] + groups[:shift]:
                turn = round_ % len(group)
                for job in group[turn:] + group[:turn]:
                    sample = self.one(job, round_)
                    changed = True
                    if job.target:
                        now = self._version(job.target)
                        changed, versions[job.target] = now != versions[job.target], now
                    if round_ >= 0:
                        into = series[job.name]
                        into.wall_ms.append(sample.wall_ms)
                        into.rss_kib.append(sample.rss_kib)
                        if sample.cpu_ms is not None:
                            into.cpu_ms.append(sample.cpu_ms)
                        into.unchanged += 0 if changed else 1
                        if job.argv:
                            into.argv = shown(job.argv(round_))
            say(f"  round {round_ + 1}/{runs}" if round_ >= 0 else "  warm-up round")
        return series

    def one(self, job: Job, round_: int) -> Sample:
        if job.measure is not None:
            return job.measure(round_)
        assert job.argv is not None
        child = expect(run_child(job.argv(round_), self.env, cwd=str(self.cwd), timeout=self.timeout))
        if job.check:
            job.check(child)
        return Sample(child.wall_ms, child.max_rss_kib, child.cpu_ms)


def shown(argv: Sequence[str]) -> str:
    words = [Path(argv[0]).name, *argv[1:]]
    return " ".join(w if len(w) < 60 else w[:40] + "...'" for w in words)


def ratio(a: Series, b: Series) -> Obj:
    return {
        "of_medians": round(statistics.median(a.wall_ms) / statistics.median(b.wall_ms), 3),
        "pairwise_median": round(statistics.median(x / y for x, y in zip(a.wall_ms, b.wall_ms)), 3),
    }


# --- 1. writes: weight against kubectl patch and helm upgrade ---------------------------------------------


def canary_weight(round_: int) -> int:
    """The canary's share in a round: 40 and 60 in turn (seeded at 50), so every run changes the weights."""
    return 40 if round_ % 2 else 60


def run_ok(argv: list[str], env: Mapping[str, str]) -> str:
    done = subprocess.run(argv, env=dict(env), capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise ChildFailed(f"`{shown(argv)}` exited {done.returncode}: {(done.stderr or done.stdout).strip()[-800:]}")
    return done.stdout


def make_pods_ready(client: Client, namespaces: Sequence[str], seconds: float = 120.0) -> None:
    """Play the kubelet: mark every pod Ready until every Deployment has all its replicas available."""
    ready = {
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
        }
    }
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        waiting = False
        for namespace in namespaces:
            for pod in client.call("GET", f"/api/v1/namespaces/{namespace}/pods")["items"]:
                conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
                if conditions.get("Ready") != "True":
                    client.merge_patch(f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}/status", ready)
            for item in client.call("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments")["items"]:
                status = item.get("status", {})
                if status.get("availableReplicas", 0) < item["spec"]["replicas"]:
                    waiting = True
        if not waiting:
            return
        time.sleep(0.5)
    raise ApiFailed(f"the Deployments in {', '.join(namespaces)} did not become available in {seconds:.0f}s")


def accept_http_route(client: Client, namespace: str) -> None:
    """A gateway's verdict on the HTTPRoute at its current generation, as a controller writes it."""
    route = client.call("GET", f"/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/httproutes/{APP}")
    generation = route["metadata"]["generation"]
    condition = {"status": "True", "observedGeneration": generation, "lastTransitionTime": "2026-01-01T00:00:00Z"}
    parents = [
        {
            "parentRef": ref,
            "controllerName": "example.com/gateway-controller",
            "conditions": [
                {**condition, "type": "Accepted", "reason": "Accepted", "message": ""},
                {**condition, "type": "ResolvedRefs", "reason": "ResolvedRefs", "message": ""},
            ],
        }
        for ref in route["spec"]["parentRefs"]
    ]
    client.merge_patch(
        f"/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/httproutes/{APP}/status",
        {"status": {"parents": parents}},
    )


def route_table_patch(live: Obj, canary: int) -> str:
    """The merge patch the plugin's write amounts to: the whole `spec.routes`, weights primary/canary."""
    routes = json.loads(json.dumps(live["spec"]["routes"]))
    weighted = [r for r in routes if "multi" in r.get("routeAction", {})]
    assert len(weighted) == 1, "the seeded RouteTable has one weighted route"
    primary, second = weighted[0]["routeAction"]["multi"]["destinations"]
    primary["weight"], second["weight"] = 100 - canary, canary
    return json.dumps({"spec": {"routes": routes}}, separators=(",", ":"))


def http_route_patch(live: Obj, canary: int) -> str:
    """The same for an HTTPRoute: the whole `spec.rules`, the weighted rule's two backendRefs."""
    rules = json.loads(json.dumps(live["spec"]["rules"]))
    weighted = [r for r in rules if len(r.get("backendRefs", [])) == 2]
    assert len(weighted) == 1, "the seeded HTTPRoute has one weighted rule"
    primary, second = weighted[0]["backendRefs"]
    primary["weight"], second["weight"] = 100 - canary, canary
    return json.dumps({"spec": {"rules": rules}}, separators=(",", ":"))


def weights_of(obj: Obj) -> list[int]:
    if obj["kind"] == "RouteTable":
        routes = obj["spec"]["routes"]
        multi = [r["routeAction"]["multi"] for r in routes if "multi" in r["routeAction"]]
        return [d["weight"] for m in multi for d in m["destinations"]]
    pairs = [r["backendRefs"] for r in obj["spec"]["rules"] if len(r.get("backendRefs", [])) == 2]
    return [b.get("weight", 1) for refs in pairs for b in refs]


def helm_values(canary: int) -> str:
    """The seed's values for the weighted phase (tests/gitops/helm/values-weight-*.yaml)."""
    return (
        "routes:\n  apiGroup: example\n  primary:\n    version: v1\n"
        f"  canary:\n    version: v2\n    weight: {canary}\n    headers:\n      stage: canary\n"
    )


def writes(
    args: argparse.Namespace, tools: Tools, base_env: Mapping[str, str], work: Path, say: Callable[[str], None]
) -> Obj:
    say("writes: starting a control plane (with the controller-manager)")
    with control_plane(work / "k8s-writes", controller_manager=True, say=say) as plane:
        env = {**base_env, "KUBECONFIG": str(plane.kubeconfig)}
        client = Client(Credentials.from_kubeconfig(plane.kubeconfig, work / "pki-writes"))
        began = time.perf_counter()
        install_crds(tools.kubectl, plane.kubeconfig, env)
        create(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gloo-system"}})
        create(client, PLATFORM_VIRTUAL_SERVICE)

        # The apps, seeded through the plugin itself: their objects and field owners are what it leaves.
        p = tools.plugin
        gloo = (NS_PLUGIN, NS_KUBECTL)
        gateway_api = (NS_PLUGIN_GW, NS_KUBECTL_GW)
        # Each step runs for the four namespaces at once (setup only: nothing is timed yet).
        in_parallel(
            [partial(run_ok, [p, "init", APP, "-n", ns, "--create-namespace"], env) for ns in gloo]
            + [
                partial(run_ok, [p, "init", APP, "-n", ns, "--create-namespace", "--router", "gateway-api",
                                 "--gateway", GATEWAY], env)
                for ns in gateway_api
            ],
            4,
        )
        in_parallel([partial(run_ok, [p, "header", APP, "v2", "-n", ns], env) for ns in (*gloo, *gateway_api)], 4)
        make_pods_ready(client, (*gloo, *gateway_api))
        in_parallel([partial(run_ok, [p, "weight", APP, "50", "-n", ns], env) for ns in (*gloo, *gateway_api)], 4)
        rt = {ns: f"/apis/gateway.solo.io/v1/namespaces/{ns}/routetables/{APP}-routes" for ns in (*gloo, NS_HELM)}
        hr = {ns: f"/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes/{APP}" for ns in gateway_api}
        for namespace in gateway_api:
            accept_http_route(client, namespace)

        helm_env = {
            **env,
            "HELM_CACHE_HOME": str(work / "helm" / "cache"),
            "HELM_CONFIG_HOME": str(work / "helm" / "config"),
            "HELM_DATA_HOME": str(work / "helm" / "data"),
        }
        values = {}
        if tools.helm:
            for canary in (40, 50, 60):
                values[canary] = work / f"values-weight-{canary}.yaml"
                values[canary].write_text(helm_values(canary))
            run_ok([tools.helm, "install", APP, str(CHART), "-n", NS_HELM, "--create-namespace",
                    "-f", str(values[50])], helm_env)
        # Gloo's verdict, written as its reporter would (no status subresource: a merge patch).
        for path in rt.values() if tools.helm else (rt[NS_PLUGIN], rt[NS_KUBECTL]):
            client.merge_patch(path, ACCEPTED)
        setup_s = time.perf_counter() - began
        say(f"writes: CRDs and 5 apps seeded in {setup_s:.1f}s (not counted)")

        k = tools.kubectl
        live_rt = client.call("GET", rt[NS_KUBECTL])
        live_hr = client.call("GET", hr[NS_KUBECTL_GW])
        gloo_group = [
            Job("weight", argv=lambda r: [p, "weight", APP, str(canary_weight(r)), "-n", NS_PLUGIN],
                target=rt[NS_PLUGIN]),
            Job(
                "kubectl patch",
                argv=lambda r: [k, "patch", "routetables.gateway.solo.io", f"{APP}-routes", "-n", NS_KUBECTL,
                                "--type", "merge", "-p", route_table_patch(live_rt, canary_weight(r))],
                target=rt[NS_KUBECTL],
            ),
        ]
        if tools.helm:
            gloo_group.append(
                Job(
                    "helm upgrade",
                    argv=lambda r: [tools.helm or "helm", "upgrade", APP, str(CHART), "-n", NS_HELM,
                                    "-f", str(values[canary_weight(r)])],
                    target=rt[NS_HELM],
                )
            )
        gateway_group = [
            Job("weight (HTTPRoute)", argv=lambda r: [p, "weight", APP, str(canary_weight(r)), "-n", NS_PLUGIN_GW],
                target=hr[NS_PLUGIN_GW]),
            Job(
                "kubectl patch (HTTPRoute)",
                argv=lambda r: [k, "patch", "httproutes.gateway.networking.k8s.io", APP, "-n", NS_KUBECTL_GW,
                                "--type", "merge", "-p", http_route_patch(live_hr, canary_weight(r))],
                target=hr[NS_KUBECTL_GW],
            ),
        ]
        rounds = Rounds(helm_env, work, client, timeout=120.0)
        say(f"writes: {args.runs} rounds after one warm-up round")
        series = rounds.run([gloo_group, gateway_group], args.runs, 1, say)

        # Every object ends on the last round's weights: each tool made the change it was asked for.
        last = canary_weight(args.runs - 1)
        finals = {path: weights_of(client.call("GET", path)) for path in (*rt.values(), *hr.values())
                  if tools.helm or not path.startswith("/apis/gateway.solo.io/v1/namespaces/helm/")}
        wrong = {path: got for path, got in finals.items() if got != [100 - last, last]}
        if wrong:
            raise ChildFailed(f"objects not on the last round's weights {100 - last}/{last}: {wrong}")
        # One more real transition, logged: the requests `weight` makes.
        requests = plugin_requests(env, [p, "-v", "weight", APP, str(canary_weight(args.runs)), "-n", NS_PLUGIN])
        commands = {name: s.summary() for name, s in series.items()}
        ratios = {
            "weight / kubectl patch": ratio(series["weight"], series["kubectl patch"]),
            "weight (HTTPRoute) / kubectl patch (HTTPRoute)": ratio(
                series["weight (HTTPRoute)"], series["kubectl patch (HTTPRoute)"]
            ),
        }
        if tools.helm:
            ratios["weight / helm upgrade"] = ratio(series["weight"], series["helm upgrade"])
        return {
            "setup_s": round(setup_s, 1),
            "up_s": round(plane.up_seconds, 1),
            "server_version": client.call("GET", "/version").get("gitVersion"),
            "commands": commands,
            "ratios": ratios,
            "weight_requests": requests,
        }


def plugin_requests(env: Mapping[str, str], argv: list[str]) -> list[str]:
    """The requests a plugin command makes, from its -v log (`I METHOD URL CODE in N ms`), as METHOD PATH."""
    child = expect(run_child(argv, env, timeout=300))
    found = []
    for line in child.err.splitlines():
        match = re.match(r"^I (\w+) (\S+) (\d+) in ", line)
        if match:
            url = urlsplit(match.group(2))
            found.append(f"{match.group(1)} {url.path}" + (f"?{url.query}" if url.query else ""))
    return found


# --- 2. status -A at scale --------------------------------------------------------------------------------


def scale_phase(index: int) -> str:
    """One app in twenty weighted and one in twenty in the header phase: 1.1 Deployments per app."""
    return {0: "weighted", 1: "header"}.get(index % 20, "stable")


def seed_scale(client: Client, apps: int, threads: int) -> Obj:
    """`apps` apps, 50 per namespace: RouteTables in the plugin's shape with Gloo's Accepted status (no status
    subresource: stored with the object), Deployments created and then made ready through their status
    subresource (no controller-manager runs to overwrite it). Returns counts and seconds."""
    namespaces = [f"scale-{i:03d}" for i in range((apps + APPS_PER_NAMESPACE - 1) // APPS_PER_NAMESPACE)]
    began = time.perf_counter()
    namespace_objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in namespaces]
    in_parallel([partial(create, client, obj) for obj in namespace_objects], threads)

    def app(index: int) -> None:
        namespace, name, phase = namespaces[index // APPS_PER_NAMESPACE], f"app{index:05d}", scale_phase(index)
        table = route_table(name, namespace, phase)
        table["status"] = ACCEPTED["status"]
        create(client, table)
        for version in ("v1", "v2") if phase != "stable" else ("v1",):
            obj = deployment(name, namespace, version)
            status = obj.pop("status")
            create(client, obj)
            client.merge_patch(api_path(obj, "status"), {"status": status})

    in_parallel([partial(app, i) for i in range(apps)], threads)
    deployments = sum(2 if scale_phase(i) != "stable" else 1 for i in range(apps))
    seconds = time.perf_counter() - began
    writes_made = len(namespaces) + apps + 2 * deployments
    return {
        "apps": apps,
        "namespaces": len(namespaces),
        "deployments": deployments,
        "requests": writes_made,
        "threads": threads,
        "seconds": round(seconds, 1),
        "per_second": round(writes_made / seconds),
    }


def count_rows(child: Child, apps: int) -> None:
    rows = [line for line in child.out.splitlines() if line.startswith("scale-")]
    if len(rows) != apps:
        raise ChildFailed(f"status -A printed {len(rows)} app rows, expected {apps}: {child.err.strip()[-300:]}")


def count_items(child: Child, apps: int) -> None:
    document = json.loads(child.out)
    items = document["items"] if isinstance(document, dict) else document
    if len(items) != apps:
        raise ChildFailed(f"status -A -o json gave {len(items)} apps, expected {apps}")


def scale(
    args: argparse.Namespace, tools: Tools, base_env: Mapping[str, str], work: Path, say: Callable[[str], None]
) -> Obj:
    say(f"scale: starting a second control plane (no controller-manager) for {args.apps:,} apps")
    with control_plane(work / "k8s-scale", controller_manager=False, say=say) as plane:
        env = {**base_env, "KUBECONFIG": str(plane.kubeconfig)}
        client = Client(Credentials.from_kubeconfig(plane.kubeconfig, work / "pki-scale"))
        began = time.perf_counter()
        install_crds(tools.kubectl, plane.kubeconfig, env)
        crds_s = time.perf_counter() - began
        create(client, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gloo-system"}})
        create(client, PLATFORM_VIRTUAL_SERVICE)
        seeded = seed_scale(client, args.apps, args.threads)
        say(
            f"scale: stored {seeded['apps']:,} RouteTables and {seeded['deployments']:,} Deployments "
            f"({seeded['requests']:,} writes, {seeded['threads']} threads) in {seeded['seconds']}s"
        )
        p, k = tools.plugin, tools.kubectl
        # The LISTs the plugin makes, from its own request log: the floor repeats exactly these.
        # And where the API server serves them from: its LIST counters before and after that run.
        counters = list_counters(client)
        requests = plugin_requests(env, [p, "-v", "status", "-A"])
        served = served_from(counters, list_counters(client))
        if any(not r.startswith("GET ") for r in requests):
            raise ChildFailed(f"status -A wrote to the cluster: {requests}")
        first_pages = [r.split(" ", 1)[1] for r in requests if "continue=" not in r]

        def floor(how: Callable[[Sequence[str]], Floor]) -> Callable[[int], Sample]:
            def measure(_: int) -> Sample:
                got = how(first_pages)
                if got.pages != len(requests):
                    raise ChildFailed(f"the floor read {got.pages} pages, the plugin made {len(requests)} requests")
                sizes.update(bytes=got.bytes, pages=got.pages)
                return Sample(got.ms, cpu_ms=got.client_cpu_ms)

            return measure

        sizes: dict[str, int] = {}
        parallel = ParallelFloor(client.credentials, len(first_pages))
        group = [
            Job("status -A", argv=lambda _: [p, "status", "-A"], check=lambda c: count_rows(c, args.apps)),
            Job("status -A -o json", argv=lambda _: [p, "status", "-A", "-o", "json"],
                check=lambda c: count_items(c, args.apps)),
            Job("floor: LISTs one after the other", measure=floor(partial(floor_sequential, client))),
            Job("floor: LISTs in parallel", measure=floor(parallel)),
            Job("kubectl get routetables,deployments -A",
                argv=lambda _: [k, "get", "routetables.gateway.solo.io,deployments", "-A"]),
        ]
        # The runs above compiled the plugin's bytecode; kubectl fills its discovery cache here. The smoke
        # run needs no more warming; the full run has a warm-up round.
        run_ok([k, "get", "routetables.gateway.solo.io,deployments", "-n", "default"], env)
        warmup = 0 if args.quick else 1
        say(f"scale: {args.scale_runs} rounds" + (" after one warm-up round" if warmup else ""))
        try:
            series = Rounds(env, work, client, timeout=600.0).run([group], args.scale_runs, warmup, say)
        finally:
            parallel.close()
        commands = {name: s.summary() for name, s in series.items()}
        floor_name = min(
            ("floor: LISTs one after the other", "floor: LISTs in parallel"),
            key=lambda n: statistics.median(series[n].wall_ms),
        )
        return {
            "apps": args.apps,
            "quick": args.quick,
            "up_s": round(plane.up_seconds, 1),
            "crds_s": round(crds_s, 1),
            "seed": seeded,
            "requests": requests,
            "list_paths": first_pages,
            "list_bytes": sizes.get("bytes", 0),
            "list_pages": sizes.get("pages", 0),
            "served_from": served,
            "commands": commands,
            "floor": floor_name,
            "ratios": {
                f"{name} / floor": ratio(series[name], series[floor_name])
                for name in ("status -A", "status -A -o json", "kubectl get routetables,deployments -A")
            },
        }


# --- the run ----------------------------------------------------------------------------------------------


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return done.stdout.strip()


def version_of(argv: list[str], pattern: str) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    found = re.search(pattern, done.stdout + done.stderr)
    return found.group(1) if found else "unknown"


def installed_plugin(work: Path, package: Path) -> str:
    """`kubectl-canary` as `pip install .` leaves it in a venv: the console script pip writes for the
    project's entry point, run by a venv's python whose site-packages hold the dependencies and setuptools'
    `distutils-precedence.pth`, and nothing else. Our dev venv also holds the editable install's import
    finder, whose `.pth` costs every command about 12 ms of interpreter start that no user pays (its
    `python -c pass` takes 25 ms, this venv's 12 ms). The package itself comes from `package` (the copy
    on PYTHONPATH, bytecode cached), and its pyproject.toml names the entry point."""
    import sysconfig

    import tomllib

    venv = work / "plugin-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    ours = Path(sysconfig.get_path("purelib"))
    theirs = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    # A path in a .pth file joins sys.path without its own .pth files being run (the editable finder's).
    (theirs / "dependencies.pth").write_text(f"{ours}\n")  # before distutils-precedence.pth: it imports from there
    if (ours / "distutils-precedence.pth").exists():
        (theirs / "distutils-precedence.pth").write_text((ours / "distutils-precedence.pth").read_text())
    project = tomllib.loads((package.parent / "pyproject.toml").read_text())
    module, _, function = project["project"]["scripts"]["kubectl-canary"].partition(":")
    script = venv / "bin" / "kubectl-canary"
    script.write_text(  # pip's template (pip/_vendor/distlib/scripts.py)
        f"#!{venv / 'bin' / 'python'}\n# -*- coding: utf-8 -*-\nimport re\nimport sys\n"
        f"from {module} import {function}\n"
        f"if __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        f"    sys.exit({function}())\n"
    )
    script.chmod(0o755)
    return str(script)


def find_tools() -> Tools:
    plugin = tool("kubectl-canary")
    kubectl = os.environ.get("KUBECTL") or tool("kubectl")
    if not plugin or not kubectl:
        raise SystemExit("bench: needs kubectl-canary and kubectl (run scripts/test once to set up .venv)")
    return Tools(python=sys.executable, plugin=plugin, kubectl=kubectl, helm=tool("helm"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5 rounds of writes, 1,000 apps, 2 rounds")
    parser.add_argument("--runs", type=int, help="recorded rounds of the writes (default 15; --quick 5)")
    parser.add_argument("--scale-runs", type=int, help="recorded rounds of status -A (default 5; --quick 2)")
    parser.add_argument("--apps", type=int, help="apps for status -A (default 10,000; --quick 1,000)")
    parser.add_argument("--threads", type=int, default=12, help="parallel writers when storing the apps")
    parser.add_argument("--only", choices=("writes", "scale"), help="run one of the two parts")
    parser.add_argument("--source", type=Path, default=ROOT / "kubectl_canary", metavar="DIR",
                        help="the package to measure (default this tree's), e.g. an earlier commit's from git archive; "
                        "--source-commit names that commit in the report")
    parser.add_argument("--source-commit", help="the commit --source was taken from")
    parser.add_argument("--json", type=Path, help="also write every figure and sample as JSON to this file")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help=f"the before figures (default {BASELINE.name})")
    parser.add_argument("--save-baseline", action="store_true", help=f"write this run as {BASELINE.name}")
    parser.add_argument("--write-readme", action="store_true", help="put the report into bench/README.md")
    parser.add_argument(
        "--report-from", type=Path, metavar="JSON", help="measure nothing: render the report of a run saved with --json"
    )
    args = parser.parse_args(argv)
    args.runs = args.runs or (5 if args.quick else 15)
    args.scale_runs = args.scale_runs or (2 if args.quick else 5)
    args.apps = args.apps or (1000 if args.quick else 10000)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_from:
        return publish(args, json.loads(args.report_from.read_text()))
    tools = find_tools()
    started = time.perf_counter()

    def say(line: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {line}", file=sys.stderr, flush=True)

    results: Obj = {
        "meta": {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": args.source_commit or git("rev-parse", "HEAD"),
            "uncommitted": not args.source_commit and bool(git("status", "--porcelain", "--", "kubectl_canary")),
            "nproc": os.cpu_count(),
            "load_before": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "kubectl": version_of([tools.kubectl, "version", "--client"], r"Client Version: (\S+)"),
            "helm": version_of([tools.helm, "version", "--short"], r"(v[\d.]+)") if tools.helm else None,
            "etcd": version_of(["/usr/bin/etcd", "--version"], r"etcd Version: (\S+)"),
            "quick": args.quick,
            "runs": args.runs,
            "scale_runs": args.scale_runs,
        }
    }
    say(f"commit {results['meta']['commit'][:12]}, load average {results['meta']['load_before']}")
    try:
        with tempfile.TemporaryDirectory(prefix="kubectl-canary-real-") as tmp:
            work = Path(tmp)
            # The plugin runs from a copy taken now, with its bytecode cached (bench/README.md says why).
            source = snapshot(args.source, work / "src")
            tools = replace(tools, plugin=installed_plugin(work, args.source))
            env = child_environment(work, source, tools.plugin)
            if args.only != "scale":
                results["writes"] = writes(args, tools, env, work, say)
            if args.only != "writes":
                results["scale"] = scale(args, tools, env, work, say)
    except (ChildFailed, ApiFailed) as error:
        print(f"bench: {error}", file=sys.stderr)
        return 1
    results["meta"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    results["meta"]["seconds"] = round(time.perf_counter() - started, 1)
    code = publish(args, results)
    say("done")
    return code


def publish(args: argparse.Namespace, results: Obj) -> int:
    """Print the report; write the JSON, the baseline and the README as asked."""
    baseline = json.loads(args.baseline.read_text()) if args.baseline.exists() and not args.save_baseline else None
    if baseline and baseline["meta"] == results["meta"]:
        baseline = None  # the run is its own baseline: nothing to compare
    text = real_report.render(results, baseline)
    print(text)
    if args.json and not args.report_from:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    if args.save_baseline:
        BASELINE.write_text(json.dumps(real_report.baseline_of(results), indent=1) + "\n")
    if args.write_readme:
        real_report.write_readme(README, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
