"""README.md's Layout section against the tree: every module of the package named, in the layer
tests/unit/test_layers.py puts it, and the layer table the same as that test's. The design facts the
code cites (`docs/design.md section N`) exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.unit.test_layers import MAY_IMPORT, PACKAGE, PACKAGE_DIR, layer_of, modules_of

ROOT = PACKAGE_DIR.parent
CELL = re.compile(r"`([^`]+)`")


def layout_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Layout\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def table_rows(section: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip()[1:-1].split(" | ")]
            for line in section.splitlines() if line.startswith("| ") and not line.startswith("|---")]


def named_modules(section: str) -> dict[str, str]:
    """Module -> the layer its row gives, for every `*.py` a row of the package's directories names."""
    named = {}
    for cells in table_rows(section):
        if len(cells) != 3 or not cells[0].startswith(f"`{PACKAGE}/"):
            continue
        directory = CELL.fullmatch(cells[0])
        assert directory and directory.group(1).endswith("/"), f"one directory per row: {cells[0]}"
        package = directory.group(1).rstrip("/").replace("/", ".")
        for name in CELL.findall(cells[2]):
            if name.endswith(".py"):
                module = package if name == "__init__.py" else f"{package}.{name[:-3]}"
                named[module] = cells[1]
    return named


def has_code(path: Path) -> bool:
    """A module with statements besides its docstring (a package's docstring alone is named by its row)."""
    body = ast.parse(path.read_text()).body
    return bool(body[1:] if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                else body)


def test_every_module_is_named_in_its_layer() -> None:
    named = named_modules(layout_section())
    modules = modules_of(PACKAGE_DIR)
    unnamed = sorted(m for m, path in modules.items() if m not in named and has_code(path))
    assert unnamed == [], "README.md, Layout, does not name these modules"
    assert sorted(set(named) - set(modules)) == [], "README.md, Layout, names modules that do not exist"
    assert {m: layer for m, layer in named.items() if layer != layer_of(m)} == {}, "rows in the wrong layer"


def test_the_layer_table_is_the_tests() -> None:
    table = {}
    for cells in table_rows(layout_section()):
        if len(cells) == 2 and cells[0] in MAY_IMPORT:
            table[cells[0]] = frozenset() if cells[1] == "nothing" else frozenset(cells[1].split(", "))
    assert table == MAY_IMPORT


def test_the_check_sees_a_module_missing_from_the_table() -> None:
    section = layout_section().replace("`waiting.py` watching a Deployment until it is ready; ", "")
    named = named_modules(section)
    assert f"{PACKAGE}.kube.waiting" not in named and f"{PACKAGE}.kube.cluster" in named


def test_every_cited_design_section_exists() -> None:
    headings = set(re.findall(r"^## (\d+)\. ", (ROOT / "docs" / "design.md").read_text(), re.MULTILINE))
    cited = set()
    for folder in (PACKAGE, "tests", "bench", "scripts"):
        for path in (ROOT / folder).rglob("*.py"):
            text = re.sub(r"\s+", " ", path.read_text())
            cited |= {(str(path.relative_to(ROOT)), n) for n in re.findall(r"docs/design\.md,? section (\d+)", text)}
    assert cited, "the code cites docs/design.md"
    assert sorted((path, n) for path, n in cited if n not in headings) == []
