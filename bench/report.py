"""The figures of one run as markdown: side-by-side timings, requests, scaling, imports, targets, and
before/after against a saved baseline."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.imports import kind_of

R = dict[str, Any]

# Requests each command may make: the issue's targets, and finish/abort pinned at what they do, plus the
# one GET that finds which gateway holds the app (the same budgets as tests/cli/test_request_budget.py).
ROUTER_LOOKUP = 1
# The Event a transition records comes on top (at most one), as in the test.
BUDGETS = {
    "weight": 3 + ROUTER_LOOKUP,
    "header": 7 + ROUTER_LOOKUP,  # the issue's 6, and the Service read that checks the Upstream's port
    "status APP": 5 + ROUTER_LOOKUP,  # the issue's 3, the Upstream's Service and the delegating VirtualServices
    "status -A": 3,  # kinds listed: Deployments, RouteTables, HTTPRoutes (each in pages of 500)
    "finish": 4 + ROUTER_LOOKUP,
    "abort": 4 + ROUTER_LOOKUP,
}
FROM_ISSUE = ("weight", "header", "status APP", "status -A")
MAX_RATIO = 2.0
SCALE_TIME_MS = 2000.0
SCALE_RSS_MIB = 150.0
LINEAR_SLACK = 1.5
EVENT_POST = re.compile(r"POST /api/v1/namespaces/[^/]+/events$")
# Third-party packages only some verbs use.
ONLY_FOR = {"tabulate": ("status",), "wcwidth": ("status",)}
FLOORS = (
    "python -S -c pass",
    "python -c pass",
    "python -c 'import kubectl_canary.cli'",
    "python -c 'import kubectl_canary.cli' (no bytecode)",
    "kubectl version --client",
)

BEGIN = "<!-- bench:results:begin -->"
END = "<!-- bench:results:end -->"


def ms(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def short_path(request: str) -> str:
    """`GET /apis/gateway.solo.io/v1/namespaces/bench/routetables/echo-routes` -> `GET routetables/echo-routes`."""
    method, _, path = request.partition(" ")
    path = re.sub(r"^/apis?/(?:[^/]+/)?v1/(?:namespaces/[^/?]+/(?=[^?]))?", "", path)
    path = re.sub(r"fieldManager=[^&]+&?", "", path).rstrip("?&")
    return f"{method} {path}"


def is_discovery(request: str) -> bool:
    return re.match(r"GET /apis?(/[^/?]+)?(/v1)?(\?|$)", request) is not None


def verb_of(command: str) -> str:
    return command.split()[0]


def request_count(command: R) -> int:
    return max(command["request_counts"]) if command["request_counts"] else 0


def event_posts(command: R) -> int:
    """Event POSTs (the record of a transition) among the requests of the command's first run."""
    return sum(1 for q in command["requests"] if EVENT_POST.match(q))


def count_text(command: R) -> str:
    """`4 (3 + 1 Event)` when the command recorded an Event, else the plain count."""
    count, events = request_count(command), event_posts(command)
    return f"{count} ({count - events} + {events} Event)" if events else str(count)


def is_list(request: str) -> bool:
    method, _, path = request.partition(" ")
    return method == "GET" and path.split("?")[0].rstrip("/").split("/")[-1] in LISTED


LISTED = ("routetables", "deployments", "httproutes")


def kinds_listed(requests: list[str]) -> int:
    """How many kinds the requests LIST (a LIST in several pages of 500 counts once)."""
    return len({q.partition(" ")[2].split("?")[0].rstrip("/").split("/")[-1] for q in requests if is_list(q)})


def server_ms(row: R) -> float:
    """What the fake API server alone spends answering the two LISTs of a scale row."""
    return float(row["lists"]["routetables"]["server_ms"] + row["lists"]["deployments"]["server_ms"])


def linearity(scale: list[R]) -> tuple[float, float, float] | None:
    """Marginal ms per 1,000 apps from the first to the second size and from the second to the third, and
    their ratio (1.0: linear; a cost that grows with apps x Deployments gives about 5)."""
    if len(scale) < 3 or any(row["stopped"] for row in scale[:3]):
        return None
    a, b, c = scale[:3]
    first = (b["median_ms"] - a["median_ms"]) / (b["apps"] - a["apps"]) * 1000
    second = (c["median_ms"] - b["median_ms"]) / (c["apps"] - b["apps"]) * 1000
    return first, second, (second / first if first > 0 else float("inf"))


@dataclass(frozen=True)
class Verdict:
    target: str
    figure: str
    ok: bool | None  # None: not measured

    @property
    def mark(self) -> str:
        return {True: "met", False: "**missed**", None: "not measured"}[self.ok]


def unneeded_imports(name: str, imports: R) -> list[str]:
    """What the command imports but does not use: other verbs' modules, status-only packages, kubernetes."""
    verb = verb_of(name)
    others = [m for m in imports["ours"] if m.startswith("kubectl_canary.commands.") and m.rsplit(".", 1)[1] != verb]
    cost = sum(imports["cumulative"].get(m, 0.0) for m in others)
    found = [f"{len(others)} other verbs' modules ({ms(cost)} ms)"] if others else []
    found += [
        f"{pkg} ({ms(imports['by_package'].get(pkg, 0.0))} ms)"
        for pkg, verbs in ONLY_FOR.items()
        if pkg in imports["third_party"] and verb not in verbs
    ]
    if imports["kubernetes"]:
        found.append(f"kubernetes ({ms(imports['kubernetes_ms'])} ms)")
    return found


def _scale_time(row: R) -> str:
    return f"> {ms(row['median_ms'])} (stopped)" if row["stopped"] else ms(row["median_ms"])


def verdicts(results: R) -> list[Verdict]:
    commands = results["commands"]
    found = []
    for name, budget in BUDGETS.items():
        count = request_count(commands[name])
        source = "issue" if name in FROM_ISSUE else "pinned"
        if name == "status -A":
            at_scale = [
                (row["apps"], kinds_listed(row["requests"]), all(is_list(q) for q in row["requests"]))
                for row in results["scale"]
            ]
            requests = commands[name]["requests"]
            ok = kinds_listed(requests) == budget and all(is_list(q) for q in requests)
            ok = ok and all(c == budget and lists for _, c, lists in at_scale)
            figure = f"{kinds_listed(requests)} at {results['apps_in_cluster']} apps, " + ", ".join(
                f"{c} at {apps:,}" for apps, c, _ in at_scale
            )
            found.append(Verdict(f"`status -A`: LISTs of {budget} kinds only, whatever the number of apps, in "
                                 f"pages of 500 ({source})", figure, ok))
        else:
            work = count - event_posts(commands[name])
            found.append(Verdict(f"`{name}`: at most {budget} requests and 1 Event ({source})",
                                 count_text(commands[name]), work <= budget and event_posts(commands[name]) <= 1))
    ratio = results["ratios"]["weight / kubectl patch"]
    found.append(
        Verdict(
            f"`weight` median at most {MAX_RATIO:g}x `kubectl patch` (token kubeconfig)",
            f"{ratio['of_medians']:.2f}x (pairwise {ratio['pairwise_median']:.2f}x)",
            ratio["of_medians"] <= MAX_RATIO,
        )
    )
    ratio = results["ratios"]["weight (HTTPRoute) / kubectl patch (HTTPRoute)"]
    found.append(
        Verdict(
            f"`weight` on an HTTPRoute at most {MAX_RATIO:g}x `kubectl patch` of the same change",
            f"{ratio['of_medians']:.2f}x (pairwise {ratio['pairwise_median']:.2f}x)",
            ratio["of_medians"] <= MAX_RATIO,
        )
    )
    fallback = results["fallback"]
    found.append(
        Verdict(
            "... with an exec-credential kubeconfig (EKS/GKE/AKS style)",
            f"{fallback['ratio']:.2f}x",
            fallback["ratio"] <= MAX_RATIO,
        )
    )
    found.append(Verdict("`weight` under half of `helm upgrade` of the seed chart", results["helm"]["note"], None))
    generated = [name for name, imp in results["imports"].items() if imp["generated_api"]]
    kube = [name for name, imp in results["imports"].items() if imp["kubernetes"]]
    found.append(
        Verdict(
            "no generated API class on any command's path (token/cert kubeconfig)",
            "imported by " + ", ".join(generated)
            if generated
            else "none; `kubernetes` itself imported by " + (", ".join(kube) or "no command"),
            not generated,
        )
    )
    fb = fallback["imports"]
    found.append(
        Verdict(
            "... with an exec-credential kubeconfig",
            f"`kubernetes` {'imported' if fb['kubernetes'] else 'not imported'}"
            + (f" ({ms(fb['kubernetes_ms'])} ms self time)" if fb["kubernetes"] else ""),
            not fb["kubernetes"],
        )
    )
    unneeded = {name: unneeded_imports(name, imp) for name, imp in results["imports"].items()}
    found.append(
        Verdict(
            "import only what the command uses",
            "; ".join(f"`{n}`: {', '.join(u)}" for n, u in unneeded.items() if u) or "yes",
            not any(unneeded.values()),
        )
    )
    if results["scale"]:
        top = results["scale"][-1]
        own = top["median_ms"] - server_ms(top)
        found.append(
            Verdict(
                f"`status -A` with {top['apps']:,} apps under {SCALE_TIME_MS / 1000:g} s end to end",
                f"{_scale_time(top)} ms",
                top["median_ms"] < SCALE_TIME_MS,
            )
        )
        found.append(
            Verdict(
                "... leaving out the fake server's time to answer the LISTs",
                f"{'> ' if top['stopped'] else ''}{ms(own)} ms (fake server: {ms(server_ms(top))} ms)",
                own < SCALE_TIME_MS,
            )
        )
        found.append(
            Verdict(
                f"... peak memory under {SCALE_RSS_MIB:g} MiB",
                f"{'>= ' if top['stopped'] else ''}{top['peak_rss_mib']:.0f} MiB",
                top["peak_rss_mib"] < SCALE_RSS_MIB,
            )
        )
        slopes = linearity(results["scale"])
        found.append(
            Verdict(
                "`status -A` cost grows linearly with the number of apps",
                f"{ms(slopes[0])} ms per 1,000 apps from 100 to 1,000, {ms(slopes[1])} ms per 1,000 from 1,000 to "
                f"5,000 ({slopes[2]:.1f}x)"
                if slopes
                else "a size was stopped",
                slopes[2] <= LINEAR_SLACK if slopes else False,
            )
        )
    return found


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _timing(command: R) -> str:
    return f"{ms(command['median_ms'])} ({ms(command['min_ms'])})"


def side_by_side(results: R) -> list[str]:
    c = results["commands"]
    pairs = [
        ("`weight APP N` (RouteTable, Gloo Accepted)", "weight",
         "`kubectl patch routetable NAME --type json` (weights)", "kubectl patch"),
        ("`weight APP N` (HTTPRoute)", "weight (HTTPRoute)", "`kubectl patch httproute NAME --type json` (weights)",
         "kubectl patch (HTTPRoute)"),
        ("`status APP`", "status APP", "`kubectl get routetable NAME -o json`", "kubectl get"),
        (
            f"`status -A` ({results['apps_in_cluster']} apps)",
            "status -A",
            "`kubectl get routetables -A`",
            "kubectl get -A",
        ),
        ("`header APP v2`", "header", "", ""),
        ("`finish APP`", "finish", "", ""),
        ("`abort APP`", "abort", "", ""),
        ("`init APP`", "init", "", ""),
    ]
    rows = []
    for label, name, ref_label, ref in pairs:
        command = c[name]
        row = [label, _timing(command), f"{command['peak_rss_mib']:.0f}", count_text(command)]
        if ref:
            ratio = command["median_ms"] / c[ref]["median_ms"]
            row += [ref_label, _timing(c[ref]), str(request_count(c[ref])), f"{ratio:.2f}x"]
        else:
            row += ["", "", "", ""]
        rows.append(row)
    rows.append(["`helm upgrade` of the seed chart", "not measured", "", "", results["helm"]["note"], "", "", ""])
    lines = _table(
        [
            "kubectl-canary",
            "median ms (min)",
            "peak RSS MiB",
            "requests",
            "kubectl, same object",
            "median ms (min)",
            "requests",
            "ratio",
        ],
        rows,
    )
    dispatch = c["kubectl canary status APP"]["median_ms"] - c["status APP"]["median_ms"]
    lines += [
        "",
        f"Through kubectl, `kubectl canary status APP` takes {_timing(c['kubectl canary status APP'])} ms: "
        f"{ms(dispatch)} ms more than running `kubectl-canary` directly (kubectl finding and exec'ing the plugin).",
        "",
        "Floors, median ms (min): " + "; ".join(f"`{name}` {_timing(c[name])}" for name in FLOORS if name in c) + ".",
    ]
    if results["meta"].get("plugin_is_venv") and all(name in c for name in FLOORS[1:3]):
        startup, imported = c[FLOORS[1]]["median_ms"], c[FLOORS[2]]["median_ms"]
        weight = c["weight"]["median_ms"]
        lines += [
            "",
            f"Where `weight`'s {ms(weight)} ms go (differences of medians): interpreter and site "
            f"{ms(startup)} ms, imports {ms(imported - startup)} ms, everything else (kubeconfig, TLS, "
            f"{request_count(c['weight'])} requests, output) {ms(weight - imported)} ms.",
        ]
    return lines


def requests_table(results: R) -> list[str]:
    c = results["commands"]
    rows = []
    for name in [*results["plugin_commands"], "kubectl patch", "kubectl get"]:
        requests = c[name]["requests"]
        shown = ", ".join(short_path(q) for q in requests)
        if name.startswith("kubectl"):
            discovery = sum(1 for q in requests if is_discovery(q))
            shown = f"{discovery} discovery GETs, then " + ", ".join(
                short_path(q) for q in requests if not is_discovery(q)
            )
        budget = BUDGETS.get(name)
        rows.append([f"`{name}`", count_text(c[name]), str(budget) if budget is not None else "-", shown])
    return _table(["command", "requests", "budget", "which (first run; every run made as many)"], rows)


def scale_table(results: R) -> list[str]:
    rows = []
    for row in results["scale"]:
        lists = row["lists"]
        size = (lists["routetables"]["bytes"] + lists["deployments"]["bytes"]) / 1e6
        rss = f"{'>= ' if row['stopped'] else ''}{row['peak_rss_mib']:.0f}"
        rows.append(
            [
                f"{row['apps']:,}",
                f"{row['deployments']:,}",
                f"{size:.1f}",
                f"{_scale_time(row)} ({ms(row['min_ms'])})" if not row["stopped"] else _scale_time(row),
                ms(server_ms(row)),
                f"{row['median_ms'] / row['apps']:.2f}",
                rss,
                str(request_count(row)),
                str(row["runs"]),
            ]
        )
    lines = _table(
        [
            "apps",
            "Deployments",
            "LIST MB (both)",
            "`status -A` median ms (min)",
            "of which fake server LISTs ms",
            "ms per app",
            "peak RSS MiB",
            "requests",
            "runs",
        ],
        rows,
    )
    slopes = linearity(results["scale"])
    if slopes:
        lines += [
            "",
            f"Marginal cost: {ms(slopes[0])} ms per 1,000 apps from 100 to 1,000 apps, {ms(slopes[1])} ms "
            f"per 1,000 from 1,000 to 5,000 ({slopes[2]:.1f}x; 1.0 is linear).",
        ]
    return lines


IMPORT_COLUMNS = ("weight", "header", "finish", "status APP", "status -A")


def imports_tables(results: R) -> list[str]:
    imports = results["imports"]
    columns = [c for c in IMPORT_COLUMNS if c in imports]
    packages: dict[str, float] = {}
    for name in columns:
        for pkg, value in imports[name]["by_package"].items():
            packages[pkg] = max(packages.get(pkg, 0.0), value)
    top = sorted(packages, key=lambda p: -packages[p])[:10]
    rows = [[f"`{pkg}`", kind_of(pkg)] + [ms(imports[c]["by_package"].get(pkg, 0.0)) for c in columns] for pkg in top]
    rows.append(["**all imports of the command**", ""] + [ms(imports[c]["imports_ms"]) for c in columns])
    rows.append(["interpreter startup (site)", ""] + [ms(imports[c]["startup_ms"]) for c in columns])
    rows.append(["... of which the editable-install finder", ""] + [ms(imports[c]["editable_ms"]) for c in columns])
    rows.append(["`kubernetes` imported", ""] + ["yes" if imports[c]["kubernetes"] else "no" for c in columns])
    lines = _table(["top-level package (self ms)", "kind", *columns], rows)
    weight = imports["weight"]
    lines += [
        "",
        "What our modules import first, with everything that pulls in (`weight`, cumulative ms), and our "
        "own modules' self time (reading, unmarshalling and running the module body):",
        "",
    ]
    external = weight["external"][:10]
    ours = sorted(weight["by_module"].items(), key=lambda kv: -kv[1])[:10]
    rows = []
    for i in range(max(len(external), len(ours))):
        left = [f"`{external[i][0]}`", f"`{external[i][1]}`", ms(external[i][2])] if i < len(external) else [""] * 3
        right = [f"`{ours[i][0]}`", ms(ours[i][1])] if i < len(ours) else [""] * 2
        rows.append(left + right)
    lines += _table(["module", "imported by", "cumulative ms", "our module", "self ms"], rows)
    return lines


def fallback_lines(results: R) -> list[str]:
    fallback = results["fallback"]
    c = fallback["commands"]
    w, k = c["weight (exec kubeconfig)"], c["kubectl patch (exec kubeconfig)"]
    imp = fallback["imports"]
    return [
        "With a kubeconfig whose user is an `exec` credential plugin (here `/bin/sh -c 'printf ...'`), the plugin "
        f"runs the credential plugin itself: `weight` {_timing(w)} ms vs `kubectl patch` "
        f"{_timing(k)} ms ({fallback['ratio']:.2f}x), {w['peak_rss_mib']:.0f} MiB peak. `status APP` on that path "
        f"imports for {ms(imp['imports_ms'])} ms, `kubernetes` alone {ms(imp['kubernetes_ms'])} ms of self time; "
        f"its generated API modules are {'imported' if imp['generated_api'] else 'not imported'}."
    ]


def key_figures(results: R) -> dict[str, str]:
    c = results["commands"]
    figures = {
        "`weight` / `kubectl patch` (medians)": f"{results['ratios']['weight / kubectl patch']['of_medians']:.2f}x",
        "`weight` median ms": ms(c["weight"]["median_ms"]),
        "`kubectl patch` median ms": ms(c["kubectl patch"]["median_ms"]),
    }
    for name in ("status APP", "status -A", "header", "finish", "abort", "init"):
        figures[f"`{name}` median ms"] = ms(c[name]["median_ms"])
    for name in ("weight", "header", "status APP", "status -A", "finish", "abort", "init"):
        figures[f"`{name}` requests"] = count_text(c[name])
    figures["`weight`: imports ms (after startup)"] = ms(results["imports"]["weight"]["imports_ms"])
    for row in results["scale"]:
        figures[f"`status -A`, {row['apps']:,} apps: ms / peak MiB"] = f"{_scale_time(row)} / {row['peak_rss_mib']:.0f}"
    fb = results["fallback"]
    figures["`weight`, exec kubeconfig: ms (ratio)"] = (
        f"{ms(fb['commands']['weight (exec kubeconfig)']['median_ms'])} ({fb['ratio']:.2f}x)"
    )
    return figures


def _describe(results: R) -> str:
    meta = results["meta"]
    state = " with uncommitted changes in kubectl_canary/" if meta.get("uncommitted") else ""
    return f"{meta['date']}, commit {meta['commit']}{state}"


def render(results: R, baseline: R | None = None) -> str:
    meta = results["meta"]
    out = [
        f"Run of {_describe(results)}: {meta['cpus']} cores, shared (load average {meta['load_before'][0]} before, "
        f"{meta.get('load_after', ['?'])[0]} after), Python {meta['python']}, kubectl {meta['kubectl']}, "
        f"{meta['runs']} rounds{' (--quick)' if meta['quick'] else ''}, {meta.get('seconds', '?')} s in all"
        + (f"; plugin measured: `{meta['plugin']}`." if meta.get("plugin") and ".venv/" not in meta["plugin"] else "."),
        "",
        "#### Wall time, side by side",
        "",
        *side_by_side(results),
        "",
        "#### Requests per command",
        "",
        *requests_table(results),
        "",
        "#### `status -A` at scale",
        "",
        *scale_table(results),
        "",
        f"#### Import time (median of {results['imports']['weight']['runs']} `-X importtime` runs per command)",
        "",
        *imports_tables(results),
        "",
        "#### Exec-credential kubeconfigs",
        "",
        *fallback_lines(results),
        "",
        "#### Targets",
        "",
        *_table(["target", "figure", "verdict"], [[v.target, v.figure, v.mark] for v in verdicts(results)]),
    ]
    if baseline is not None:
        before, after = key_figures(baseline), key_figures(results)
        out += ["", "#### Before and after", "", f"Before: {_describe(baseline)}. After: {_describe(results)}.", ""]
        out += _table(["figure", "before", "after"], [[k, before.get(k, "-"), v] for k, v in after.items()])
    return "\n".join(out) + "\n"


def write_readme(path: Path, text: str, *, begin: str = BEGIN, end: str = END) -> None:
    """Put `text` between the markers of README.md (appended with the markers when they are missing)."""
    readme = path.read_text() if path.exists() else ""
    block = f"{begin}\n{text}{end}"
    if begin in readme and end in readme:
        head, rest = readme.split(begin, 1)
        readme = head + block + rest.split(end, 1)[1]
    else:
        readme = readme.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(readme)
