"""The package's layers, as a test: no import cycle among kubectl_canary's modules, and no import that goes
up the layers. Every import counts: at module level, inside functions, and under TYPE_CHECKING (a type
names a dependency as much as a call does).

The layers, bottom up, and what each may import (README.md, Layout, shows the same table):

- base: the package itself (its version) and errors; imports nothing.
- model: model/, request_routing/ (where a gateway sends a request: pure), and the pure modules that sit
  beside their I/O: routers/seam, routers/gloo, routers/gloo_delegation, routers/gateway_api,
  gitops/helm_values, gitops/gitops_owner. Imports base.
- kube: kube/, the only code that sends requests. Imports base, model.
- routers: routers/__init__ (the two routers, finding an app and reading its rollout) and
  routers/*_backends (their I/O). Imports base, model, kube.
- gitops: gitops/manifest_files, gitops/manifest_cluster (manifest files behind the Cluster interface).
  Imports every layer listed before it.
- workflow: workflow/ (the invocation, the update loop, stepped rollouts and their gates). Imports every
  layer listed before it.
- commands: commands/, and gitops/helm_values_file (it runs the verbs' plans on a values file, past the
  workflow's guard, and renders `status` with the status verb's code). Imports every layer listed before it.
- entry: cli, arguments, completer, __main__. Imports every layer.

Within a layer any module may import another, as long as no cycle closes.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

PACKAGE = "kubectl_canary"
PACKAGE_DIR = Path(__file__).resolve().parents[2] / PACKAGE

LAYERS = ("base", "model", "kube", "routers", "gitops", "workflow", "commands", "entry")
# Which layers each layer may import, besides its own: written out, not derived from the order above.
MAY_IMPORT: dict[str, frozenset[str]] = {
    "base": frozenset(),
    "model": frozenset({"base"}),
    "kube": frozenset({"base", "model"}),
    "routers": frozenset({"base", "model", "kube"}),
    "gitops": frozenset({"base", "model", "kube", "routers"}),
    "workflow": frozenset({"base", "model", "kube", "routers", "gitops"}),
    "commands": frozenset({"base", "model", "kube", "routers", "gitops", "workflow"}),
    "entry": frozenset({"base", "model", "kube", "routers", "gitops", "workflow", "commands"}),
}
# A module's layer: the longest of these names that is the module or a package above it. The package
# itself is matched only exactly, so a new top-level module must be placed here before the test passes.
LAYER_OF: dict[str, str] = {
    PACKAGE: "base",
    f"{PACKAGE}.errors": "base",
    f"{PACKAGE}.model": "model",
    f"{PACKAGE}.routers.seam": "model",
    f"{PACKAGE}.routers.gloo": "model",
    f"{PACKAGE}.routers.gloo_delegation": "model",
    f"{PACKAGE}.routers.gateway_api": "model",
    f"{PACKAGE}.gitops.helm_values": "model",
    f"{PACKAGE}.gitops.gitops_owner": "model",
    f"{PACKAGE}.request_routing": "model",
    f"{PACKAGE}.kube": "kube",
    f"{PACKAGE}.routers": "routers",
    f"{PACKAGE}.gitops": "gitops",
    f"{PACKAGE}.gitops.helm_values_file": "commands",
    f"{PACKAGE}.workflow": "workflow",
    f"{PACKAGE}.commands": "commands",
    f"{PACKAGE}.cli": "entry",
    f"{PACKAGE}.arguments": "entry",
    f"{PACKAGE}.completer": "entry",
    f"{PACKAGE}.__main__": "entry",
    f"{PACKAGE}.startup": "entry",
}

Graph = dict[str, dict[str, int]]  # module -> {module it imports: line of the first such import}


def modules_of(package_dir: Path) -> dict[str, Path]:
    """Every module of the package: dotted name -> file (a package is its __init__.py)."""
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = [package_dir.name, *path.relative_to(package_dir).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph(package_dir: Path) -> Graph:
    """Who imports whom inside the package, read from the source with `ast` (nothing is imported)."""
    modules = modules_of(package_dir)

    def known(name: str) -> str:
        """The most specific module `name` is or lies in (`a.b.C` for a class C of module a.b: a.b)."""
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        return name

    graph: Graph = {}
    for module, path in modules.items():
        edges: dict[str, int] = {}
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's package, one level up per extra dot
                    anchor = module if is_package else module.rsplit(".", 1)[0]
                    for _ in range(node.level - 1):
                        anchor = anchor.rsplit(".", 1)[0]
                    base = f"{anchor}.{base}" if base else anchor
                # `from pkg import sub` imports the module pkg.sub; `from mod import name`, the module mod.
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                           for alias in node.names]
            else:
                continue
            for target in targets:
                if target == PACKAGE or target.startswith(f"{PACKAGE}."):
                    resolved = known(target)
                    if resolved != module:
                        edges.setdefault(resolved, node.lineno)
        graph[module] = edges
    return graph


def layer_of(module: str) -> str | None:
    if module == PACKAGE:
        return LAYER_OF[PACKAGE]
    matches = [name for name in LAYER_OF if name != PACKAGE and (module == name or module.startswith(f"{name}."))]
    return LAYER_OF[max(matches, key=len)] if matches else None


def unplaced(graph: Graph) -> list[str]:
    return sorted(module for module in graph if layer_of(module) is None)


def upward_imports(graph: Graph) -> list[str]:
    """Every import of a layer its importer may not import, as one line each."""
    found = []
    for module, edges in sorted(graph.items()):
        layer = layer_of(module)
        for target, line in sorted(edges.items()):
            target_layer = layer_of(target)
            if layer and target_layer and target_layer != layer and target_layer not in MAY_IMPORT[layer]:
                found.append(f"{module} ({layer}) imports {target} ({target_layer}), line {line}")
    return found


def cycles(graph: Graph) -> list[list[str]]:
    """One closed path (first module repeated at the end) per group of modules that import each other."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        order[module] = low[module] = len(order)
        stack.append(module)
        for target in graph.get(module, {}):
            if target not in order:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], order[target])
        if low[module] == order[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return [_closed_path(graph, group) for group in groups]


def _closed_path(graph: Graph, group: list[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, through the group."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for target in sorted(graph.get(module, {})):
                if target == start:
                    return [*paths[module], start]
                if target in members and target not in paths:
                    paths[target] = [*paths[module], target]
                    following.append(target)
        frontier = following
    return group  # unreachable for a strongly connected group


# --- the package as it is ---------------------------------------------------------------------


def test_every_module_has_a_layer() -> None:
    assert unplaced(import_graph(PACKAGE_DIR)) == []


def test_no_import_goes_up_the_layers() -> None:
    assert upward_imports(import_graph(PACKAGE_DIR)) == []


def test_no_import_cycle() -> None:
    assert [" -> ".join(path) for path in cycles(import_graph(PACKAGE_DIR))] == []


def test_the_table_names_every_layer_once() -> None:
    assert set(MAY_IMPORT) == set(LAYERS) == set(LAYER_OF.values())
    assert all(layer not in allowed and allowed <= set(LAYERS) for layer, allowed in MAY_IMPORT.items())


# --- the checks catch what they are for ------------------------------------------------------


def test_a_synthetic_cycle_and_upward_import_are_reported() -> None:
    model, kube = f"{PACKAGE}.model.rollout", f"{PACKAGE}.kube.cluster"
    graph: Graph = {model: {kube: 3}, kube: {model: 7}}
    assert cycles(graph) == [[kube, model, kube]]
    assert upward_imports(graph) == [f"{model} (model) imports {kube} (kube), line 3"]
    assert cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c", "a"]]
    assert unplaced({f"{PACKAGE}.newcomer": {}}) == [f"{PACKAGE}.newcomer"]


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    copy = tmp_path / PACKAGE
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def test_a_function_level_import_planted_in_a_copy_closes_a_cycle_and_goes_up(package_copy: Path) -> None:
    """The pure rollout model reaching for the invocation inside a function: up three layers, and a loop
    back through everything that imports the model."""
    rollout = package_copy / "model" / "rollout.py"
    rollout.write_text(rollout.read_text() + "\n\ndef _planted() -> None:\n"
                       "    from kubectl_canary.workflow.invocation import Invocation  # noqa: F401\n")
    graph = import_graph(package_copy)
    line = len(rollout.read_text().splitlines())
    assert f"{PACKAGE}.model.rollout (model) imports {PACKAGE}.workflow.invocation (workflow), line {line}" \
        in upward_imports(graph)
    planted = [path for path in cycles(graph) if f"{PACKAGE}.workflow.invocation" in path]
    assert planted and f"{PACKAGE}.model.rollout" in planted[0]
    assert planted[0][0] == planted[0][-1]


def test_a_type_checking_import_planted_in_a_copy_counts(package_copy: Path) -> None:
    """`from kubectl_canary.routers import ...` under TYPE_CHECKING in the cluster client: kube may not know
    the routers, even for a type; and the routers import the cluster back."""
    cluster = package_copy / "kube" / "cluster.py"
    text = cluster.read_text().replace(
        "from __future__ import annotations\n",
        "from __future__ import annotations\n\nfrom typing import TYPE_CHECKING\n\n"
        "if TYPE_CHECKING:\n    from kubectl_canary.routers import Router\n",
        1,
    )
    cluster.write_text(text)
    line = text.splitlines().index("    from kubectl_canary.routers import Router") + 1
    graph = import_graph(package_copy)
    assert [m for m in upward_imports(graph) if m.startswith(f"{PACKAGE}.kube.cluster (kube) imports")] == [
        f"{PACKAGE}.kube.cluster (kube) imports {PACKAGE}.routers (routers), line {line}"
    ]
    assert any({f"{PACKAGE}.kube.cluster", f"{PACKAGE}.routers"} <= set(path) for path in cycles(graph))


def test_a_relative_import_is_resolved(package_copy: Path) -> None:
    (package_copy / "model" / "planted.py").write_text("from ..workflow import route_updates  # noqa: F401\n")
    graph = import_graph(package_copy)
    assert graph[f"{PACKAGE}.model.planted"] == {f"{PACKAGE}.workflow.route_updates": 1}
    assert f"{PACKAGE}.model.planted (model) imports {PACKAGE}.workflow.route_updates (workflow), line 1" in \
        upward_imports(graph)
