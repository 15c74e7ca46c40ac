"""The fake's compact schemas against the upstream CRDs (`$KUBECTL_CANARY_CRDS`, e.g. ../shared/crds).

Every field a compact schema keeps must exist in the upstream CRD with exactly the same type, format, enum,
default, bounds, required fields, `x-kubernetes-*` markers and CEL rules; and the compact schema must be
what scripts/compact_schemas.py writes from fields.txt today, so a refresh is one command. Skipped, with
the reason, when no upstream directory is given: a plain clone has none.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts.compact_schemas import FIELDS, NODE_KEYS, SCHEMAS, _tree, compact, load_crds, read_fields

CRDS_ENV = "KUBECTL_CANARY_CRDS"


@pytest.fixture(scope="module")
def upstream() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    directory = os.environ.get(CRDS_ENV)
    if not directory:
        pytest.skip(f"${CRDS_ENV} names no directory of upstream CRDs (CI sets it to ../shared/crds)")
    if not Path(directory).is_dir():
        pytest.fail(f"${CRDS_ENV}={directory} is not a directory")
    return load_crds(Path(directory))


def _carried() -> dict[str, dict[str, Any]]:
    documents = {}
    for path in sorted(SCHEMAS.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        documents[f"{document['plural']}.{document['group']}/{document['version']}"] = document
    return documents


def drift(compact_node: dict[str, Any], upstream_node: dict[str, Any], where: str) -> list[str]:
    """Where the compact schema says something the upstream does not say the same way."""
    found = [f"{where}: {key} is {compact_node.get(key)!r} here, {upstream_node.get(key)!r} upstream"
             for key in NODE_KEYS if compact_node.get(key) != upstream_node.get(key)]
    upstream_properties = upstream_node.get("properties") or {}
    for name, child in (compact_node.get("properties") or {}).items():
        if name not in upstream_properties:
            found.append(f"{where}.{name}: no such field upstream")
        else:
            found += drift(child, upstream_properties[name], f"{where}.{name}")
    for key, step in (("items", "[]"), ("additionalProperties", ".*")):
        child = compact_node.get(key)
        if isinstance(child, dict):
            if not isinstance(upstream_node.get(key), dict):
                found.append(f"{where}: {key} here, none upstream")
            else:
                found += drift(child, upstream_node[key], f"{where}{step}")
        elif child != upstream_node.get(key) and not (child is None and isinstance(upstream_node.get(key), dict)):
            found.append(f"{where}: {key} is {child!r} here, {upstream_node.get(key)!r} upstream")
    return found


def test_every_kept_field_is_identical_upstream(upstream: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> None:
    carried = _carried()
    assert carried, f"no compact schemas under {SCHEMAS}"
    for key, document in carried.items():
        assert key in upstream, f"{key}: no served version of this CRD upstream"
        identity, schema = upstream[key]
        assert {k: document[k] for k in identity} == identity, key
        assert drift(document["openAPIV3Schema"], schema, key) == []


def test_the_carried_schemas_are_what_the_script_writes(
        upstream: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> None:
    carried = _carried()
    fields = read_fields(FIELDS)
    assert sorted(carried) == sorted(fields)
    for key, paths in fields.items():
        assert carried[key]["openAPIV3Schema"] == compact(upstream[key][1], _tree(paths), key), (
            f"{key}: rerun scripts/compact_schemas.py $KUBECTL_CANARY_CRDS")


def test_drift_names_a_changed_type_and_a_missing_field() -> None:
    # The comparison itself must be able to fail.
    upstream_node = {"type": "object", "properties": {"weight": {"type": "integer"}}}
    changed = {"type": "object", "properties": {"weight": {"type": "string"}, "gone": {"type": "string"}}}
    assert drift(changed, upstream_node, "spec") == [
        "spec.weight: type is 'string' here, 'integer' upstream",
        "spec.gone: no such field upstream",
    ]
    assert drift({"type": "string", "enum": ["A"]}, {"type": "string", "enum": ["A", "B"]}, "x") == [
        "x: enum is ['A'] here, ['A', 'B'] upstream"
    ]
