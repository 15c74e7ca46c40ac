"""Read `python -X importtime` output: interpreter startup apart, the rest grouped by top-level package,
and the imports kubectl_canary's own modules trigger (what could be made lazy)."""

from __future__ import annotations

import importlib.util
import sys
from collections import defaultdict
from dataclasses import dataclass, field

OURS = "kubectl_canary"
# Modules of the `kubernetes` package that hold generated API classes and models: never on our path.
GENERATED = ("kubernetes.client.api.", "kubernetes.client.models.", "kubernetes.client.apis")


@dataclass
class Module:
    name: str
    level: int
    self_us: int
    cumulative_us: int
    children: list[Module] = field(default_factory=list)

    @property
    def top(self) -> str:
        return self.name.split(".", 1)[0]


@dataclass(frozen=True)
class ExternalImport:
    """A module first imported by one of our modules, with everything it pulled in."""

    module: str
    imported_by: str
    cumulative_ms: float


@dataclass(frozen=True)
class ImportProfile:
    startup_ms: float  # the interpreter and site (.pth files) before the command's first import
    editable_ms: float  # of which the editable-install finder (`pip install -e`; a wheel install has none)
    imports_ms: float  # everything the command imported after that
    by_package: dict[str, float]  # self time per top-level package, ms
    by_module: dict[str, float]  # self time of each of our modules, ms
    cumulative: dict[str, float]  # the same with everything first imported under it, ms
    modules: frozenset[str]
    external: tuple[ExternalImport, ...]

    @property
    def kubernetes_imported(self) -> bool:
        return any(m == "kubernetes" or m.startswith("kubernetes.") for m in self.modules)

    @property
    def generated_api_imported(self) -> bool:
        return any(m.startswith(GENERATED) for m in self.modules)

    def ours(self) -> list[str]:
        return sorted(m for m in self.modules if m == OURS or m.startswith(OURS + "."))

    def third_party(self) -> list[str]:
        return sorted({m.split(".", 1)[0] for m in self.modules if kind_of(m.split(".", 1)[0]) == "third-party"})


def kind_of(top: str) -> str:
    if top == OURS:
        return "ours"
    if top in sys.stdlib_module_names or top in sys.builtin_module_names or top.startswith("_frozen"):
        return "stdlib"
    try:
        absent = importlib.util.find_spec(top) is None
    except (ImportError, ValueError):
        absent = True
    if absent:
        return "absent"  # a failed optional import (copy tries `org.python.core`, for Jython)
    return "third-party"


def parse_tree(stderr: str) -> list[Module]:
    """The import tree (roots in import order). importtime prints a module after its children, indented
    two spaces per nesting level."""
    pending: list[Module] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        parts = line.split("|", 2)
        if len(parts) != 3:
            continue
        self_part, cumulative_part, name_part = parts
        body = name_part[1:] if name_part.startswith(" ") else name_part
        level = (len(body) - len(body.lstrip(" "))) // 2
        node = Module(body.strip(), level, int(self_part.replace("import time:", "")), int(cumulative_part))
        while pending and pending[-1].level > level:
            node.children.insert(0, pending.pop())
        pending.append(node)
    return pending


def _walk(nodes: list[Module]) -> list[Module]:
    found: list[Module] = []
    for node in nodes:
        found.append(node)
        found.extend(_walk(node.children))
    return found


def profile(stderr: str) -> ImportProfile:
    roots = parse_tree(stderr)
    split = next((i for i, root in enumerate(roots) if root.name == "site"), -1) + 1
    startup, command = roots[:split], roots[split:]
    by_package: dict[str, float] = defaultdict(float)
    nodes = _walk(command)
    for node in nodes:
        by_package[node.top] += node.self_us / 1000.0
    external = [
        ExternalImport(child.name, node.name, child.cumulative_us / 1000.0)
        for node in nodes
        if node.top == OURS
        for child in node.children
        if child.top != OURS
    ]
    return ImportProfile(
        startup_ms=sum(r.cumulative_us for r in startup) / 1000.0,
        editable_ms=sum(n.cumulative_us for n in _walk(startup) if n.name.startswith("__editable__")) / 1000.0,
        imports_ms=sum(r.cumulative_us for r in command) / 1000.0,
        by_package=dict(by_package),
        by_module={n.name: n.self_us / 1000.0 for n in nodes if n.top == OURS},
        cumulative={n.name: n.cumulative_us / 1000.0 for n in nodes if n.top == OURS},
        modules=frozenset(n.name for n in nodes),
        external=tuple(sorted(external, key=lambda e: -e.cumulative_ms)),
    )
