"""The figures of one bench/real.py run as markdown: writes side by side, status -A against its floor,
targets with verdicts, and before/after against a saved baseline."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from bench import report

R = dict[str, Any]
BEGIN = "<!-- bench:real:begin -->"
END = "<!-- bench:real:end -->"
MAX_PATCH_RATIO = 1.3
MAX_HELM_RATIO = 0.25
MAX_FLOOR_RATIO = 1.3
MAX_RSS_MIB = 60.0
WRITE_ROWS = (
    ("weight", "`kubectl-canary weight APP 40` / `60` (RouteTable, Gloo Accepted)"),
    ("kubectl patch", "`kubectl patch routetable ... --type merge` (the same `spec.routes`)"),
    ("helm upgrade", "`helm upgrade` of the seed's chart (bench/chart), values file per weight"),
    ("weight (HTTPRoute)", "`kubectl-canary weight APP 40` / `60` (HTTPRoute)"),
    ("kubectl patch (HTTPRoute)", "`kubectl patch httproute ... --type merge` (the same `spec.rules`)"),
)
SEQUENTIAL = "floor: LISTs one after the other"
PARALLEL = "floor: LISTs in parallel"
KUBECTL_GET = "kubectl get routetables,deployments -A"
SCALE_ROWS = (
    ("status -A", "`kubectl-canary status -A` (table)"),
    ("status -A -o json", "`kubectl-canary status -A -o json`"),
    (SEQUENTIAL, "floor: the same LISTs, one after the other (minimal client)"),
    (PARALLEL, "floor: the same LISTs, in parallel (minimal client)"),
    (KUBECTL_GET, "`kubectl get routetables,deployments -A` (reference)"),
)


def ms(value: float) -> str:
    return report.ms(value)


def spread(row: R) -> tuple[str, str]:
    return f"{ms(row['p25_ms'])}-{ms(row['p75_ms'])}", f"{ms(row['min_ms'])}-{ms(row['max_ms'])}"


def cpu(row: R) -> str:
    return "" if row.get("median_cpu_ms") is None else ms(row["median_cpu_ms"])


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def rss(row: R) -> str:
    return "" if row.get("peak_rss_mib") is None else f"{row['peak_rss_mib']:.0f}"


def verdict(ok: bool | None) -> str:
    return {True: "met", False: "**missed**", None: "not measured"}[ok]


def header(meta: R) -> list[str]:
    load = meta["load_before"]
    highest = max(load[0], meta.get("load_after", [0.0])[0])
    lines = [
        f"Run of {meta['date']}, commit {meta['commit'][:12]}"
        + (" with uncommitted changes in kubectl_canary/" if meta.get("uncommitted") else "")
        + f": {meta['nproc']} cores, load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} at the start"
        + (f" ({meta['load_after'][0]:.2f} at the end)" if "load_after" in meta else "")
        + f", Python {meta['python']}, kubectl {meta['kubectl']}, helm {meta.get('helm') or 'absent'}, "
        f"etcd {meta['etcd']}"
        + (", **quick mode**" if meta.get("quick") else "")
        + (f", {meta['seconds']:.0f} s in all." if "seconds" in meta else "."),
        "",
    ]
    if highest > meta["nproc"]:
        lines += [
            f"The machine was loaded (load average up to {highest:.1f} on {meta['nproc']} cores): absolute times are "
            "inflated and not final; the ratios, taken round by round in the same run, are the figures to read.",
            "",
        ]
    return lines


def writes_section(w: R, meta: R) -> list[str]:
    commands = w["commands"]
    lines = [
        f"#### Writes: `weight` against `kubectl patch` and `helm upgrade` (API server {w['server_version']})",
        "",
        f"{meta['runs']} rounds after a warm-up round, interleaved (the order rotates every round); each run moves "
        "the canary between 40% and 60%, and the object's resourceVersion is checked to have changed.",
        "",
        "| command | median ms | p25-p75 ms | min-max ms | CPU ms | peak RSS MiB | runs | runs that changed nothing |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, label in WRITE_ROWS:
        row = commands.get(name)
        if row is None:
            lines.append(f"| {label} | not measured (helm absent) |  |  |  |  |  |  |")
            continue
        iqr, extremes = spread(row)
        lines.append(
            f"| {label} | {ms(row['median_ms'])} | {iqr} | {extremes} | {cpu(row)} | {rss(row)} | {row['runs']} | "
            f"{row['unchanged_runs']} |"
        )
    lines += ["", "| ratio | of medians | median of per-round ratios | target |", "|---|---|---|---|"]
    targets = {"weight / helm upgrade": f"< {MAX_HELM_RATIO}"}
    for name, r in w["ratios"].items():
        lines.append(
            f"| {name} | {r['of_medians']:.2f}x | {r['pairwise_median']:.2f}x | "
            f"{targets.get(name, f'<= {MAX_PATCH_RATIO}')} |"
        )
    requests = ", ".join(f"`{report.short_path(q)}`" for q in w["weight_requests"])
    lines += ["", f"`weight` made {len(w['weight_requests'])} requests: {requests}.", ""]
    lines.append(f"Setup (not timed): control plane up in {w['up_s']:.0f} s, CRDs and apps in {w['setup_s']:.0f} s.")
    return [*lines, ""]


def resource_of(request: str) -> str:
    """`GET /apis/apps/v1/deployments?limit=500` -> `deployments`."""
    return request.split(" ", 1)[-1].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def scale_section(s: R) -> list[str]:
    commands = s["commands"]
    floor = commands[s["floor"]]["median_ms"]
    lines = [
        f"#### `status -A` at {s['apps']:,} apps ({s['seed']['deployments']:,} Deployments, "
        f"{s['seed']['namespaces']} namespaces)",
        "",
        f"{commands['status -A']['runs']} rounds{'' if s.get('quick') else ' after a warm-up round'}, interleaved. "
        "The floor is the faster of "
        f"the two minimal-client figures ({'in parallel' if s['floor'] == PARALLEL else 'one after the other'}, "
        f"{ms(floor)} ms).",
        "",
        "| command | median ms | p25-p75 ms | min-max ms | CPU ms | peak RSS MiB | / floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, label in SCALE_ROWS:
        row = commands[name]
        iqr, extremes = spread(row)
        lines.append(
            f"| {label} | {ms(row['median_ms'])} | {iqr} | {extremes} | {cpu(row)} | {rss(row)} | "
            f"{row['median_ms'] / floor:.2f}x |"
        )
    # The counters also count LISTs the API server makes itself, now and then, of every resource: only
    # the resources the plugin lists are shown, beside the number of requests it made for each.
    made = Counter(resource_of(q) for q in s["requests"])
    served = "; ".join(
        f"{resource}: {plural(made[resource], 'request')}, {counts['watch_cache']} counted from the watch cache and "
        f"{counts['etcd']} from etcd"
        for resource, counts in sorted(s["served_from"].items())
        if resource in made
    )
    paths = ", ".join(f"`GET {p}`" for p in s["list_paths"])
    lines += [
        "",
        f"The LISTs (from the plugin's `-v` log; {len(s['requests'])} requests in "
        f"{s['list_pages']} pages, {s['list_bytes'] / 1e6:.1f} MB): {paths}, each followed by its `continue` pages.",
        f"Where the API server served the LISTs of one `status -A` from (its /metrics LIST counters, which also "
        f"count the server's own LISTs): {served or 'no LIST counted'}.",
        "",
        f"Setup (not timed): control plane up in {s['up_s']:.0f} s (no controller-manager), CRDs in "
        f"{s['crds_s']:.0f} s, {s['seed']['requests']:,} writes ({s['seed']['namespaces']} namespaces, "
        f"{s['apps']:,} RouteTables, {s['seed']['deployments']:,} Deployments and their status) in "
        f"{s['seed']['seconds']:.0f} s ({s['seed']['per_second']}/s on {s['seed']['threads']} threads).",
        "",
    ]
    return lines


def targets(results: R) -> list[str]:
    rows: list[tuple[str, str, bool | None]] = []
    w = results.get("writes")
    if w:
        for name, label in (
            ("weight / kubectl patch", "`weight` (RouteTable) / `kubectl patch` of the same change"),
            ("weight (HTTPRoute) / kubectl patch (HTTPRoute)", "`weight` (HTTPRoute) / `kubectl patch`"),
        ):
            r = w["ratios"][name]
            ok = r["of_medians"] <= MAX_PATCH_RATIO
            rows.append((f"{label} <= {MAX_PATCH_RATIO}", f"{r['of_medians']:.2f}x", ok))
        helm = w["ratios"].get("weight / helm upgrade")
        rows.append(
            (
                f"`weight` / `helm upgrade` of the seed's chart < {MAX_HELM_RATIO}",
                f"{helm['of_medians']:.2f}x" if helm else "helm absent",
                helm["of_medians"] < MAX_HELM_RATIO if helm else None,
            )
        )
        unchanged = sum(row["unchanged_runs"] for row in w["commands"].values())
        rows.append(("every measured write changed its object", f"{unchanged} runs changed nothing", unchanged == 0))
    s = results.get("scale")
    if s:
        apps = f"{s['apps']:,} apps"
        for name in ("status -A", "status -A -o json"):
            r = s["ratios"][f"{name} / floor"]
            rows.append((f"`{name}` at {apps} <= {MAX_FLOOR_RATIO}x the LIST floor", f"{r['of_medians']:.2f}x",
                         r["of_medians"] <= MAX_FLOOR_RATIO))
        for name in ("status -A", "status -A -o json"):
            peak = s["commands"][name]["peak_rss_mib"]
            rows.append((f"`{name}` at {apps}: peak RSS <= {MAX_RSS_MIB:.0f} MiB", f"{peak:.0f} MiB",
                         peak <= MAX_RSS_MIB))
    lines = ["#### Targets (issue 21)", "", "| target | figure | verdict |", "|---|---|---|"]
    lines += [f"| {t} | {f} | {verdict(ok)} |" for t, f, ok in rows]
    return [*lines, ""]


def figures(results: R) -> dict[str, str]:
    """The figures a before/after table compares, as text."""
    found: dict[str, str] = {}
    w = results.get("writes")
    if w:
        c = w["commands"]
        found["`weight` (RouteTable) median ms"] = ms(c["weight"]["median_ms"])
        found["`kubectl patch` (RouteTable) median ms"] = ms(c["kubectl patch"]["median_ms"])
        if c["weight"].get("median_cpu_ms") is not None:
            found["`weight` / `kubectl patch`: CPU ms"] = (
                f"{cpu(c['weight'])} / {cpu(c['kubectl patch'])}"
            )
        found["`weight` / `kubectl patch`"] = f"{w['ratios']['weight / kubectl patch']['of_medians']:.2f}x"
        found["`weight` (HTTPRoute) median ms"] = ms(c["weight (HTTPRoute)"]["median_ms"])
        found["`weight` / `kubectl patch` (HTTPRoute)"] = (
            f"{w['ratios']['weight (HTTPRoute) / kubectl patch (HTTPRoute)']['of_medians']:.2f}x"
        )
        if "helm upgrade" in c:
            found["`helm upgrade` median ms"] = ms(c["helm upgrade"]["median_ms"])
            found["`weight` / `helm upgrade`"] = f"{w['ratios']['weight / helm upgrade']['of_medians']:.2f}x"
        found["`weight` requests"] = str(len(w["weight_requests"]))
    s = results.get("scale")
    if s:
        c = s["commands"]
        at = f" at {s['apps']:,} apps"
        found[f"`status -A`{at}: median ms / peak MiB"] = (
            f"{ms(c['status -A']['median_ms'])} / {c['status -A']['peak_rss_mib']:.0f}"
        )
        found[f"`status -A -o json`{at}: median ms / peak MiB"] = (
            f"{ms(c['status -A -o json']['median_ms'])} / {c['status -A -o json']['peak_rss_mib']:.0f}"
        )
        found[f"LIST floor{at} (sequential / parallel) ms"] = (
            f"{ms(c[SEQUENTIAL]['median_ms'])} / {ms(c[PARALLEL]['median_ms'])}"
        )
        found[f"`status -A` / floor{at}"] = f"{s['ratios']['status -A / floor']['of_medians']:.2f}x"
        found[f"`status -A -o json` / floor{at}"] = f"{s['ratios']['status -A -o json / floor']['of_medians']:.2f}x"
        found[f"`kubectl get` -A{at}: median ms / peak MiB"] = (
            f"{ms(c[KUBECTL_GET]['median_ms'])} / {c[KUBECTL_GET]['peak_rss_mib']:.0f}"
        )
        found[f"`status -A`{at}: requests"] = str(len(s["requests"]))
    return found


def before_after(results: R, baseline: R) -> list[str]:
    before, after = figures(baseline), figures(results)
    keys = [k for k in after if k in before] + [k for k in after if k not in before]
    b, a = baseline["meta"], results["meta"]
    lines = [
        "#### Before and after",
        "",
        f"Before: {b['date']}, commit {b['commit'][:12]} (load average {b['load_before'][0]:.1f} at its start). "
        f"After: {a['date']}, commit {a['commit'][:12]} (load average {a['load_before'][0]:.1f}).",
        "",
        "| figure | before | after |",
        "|---|---|---|",
    ]
    lines += [f"| {k} | {before.get(k, '-')} | {after[k]} |" for k in keys]
    return [*lines, ""]


def render(results: R, baseline: R | None) -> str:
    lines = header(results["meta"])
    if "writes" in results:
        lines += writes_section(results["writes"], results["meta"])
    if "scale" in results:
        lines += scale_section(results["scale"])
    lines += targets(results)
    if baseline:
        lines += before_after(results, baseline)
    return "\n".join(lines)


def baseline_of(results: R) -> R:
    """What a later run compares with: every figure, without the plugin's full request list at scale."""
    return results


def write_readme(path: Path, text: str) -> None:
    report.write_readme(path, text, begin=BEGIN, end=END)
