#!/usr/bin/env python3
"""Write the fake API server's compact CRD schemas from the upstream CRDs and a list of kept fields.

    scripts/compact_schemas.py ../shared/crds            # rewrite tests/fake_apiserver/schemas/*.yaml

The fake validates custom resources against schemas the repository carries, so a plain clone runs its
tests with nothing from outside it. Each compact schema is the upstream `openAPIV3Schema` cut down to the
fields listed in tests/fake_apiserver/schemas/fields.txt (every field the plugin reads or writes and every
field its tests set), with the upstream's types, enums, formats, bounds, required fields, defaults,
nullability, `x-kubernetes-*` markers and CEL rules kept exactly; descriptions are dropped. A field the
list names that the upstream does not have is an error. To follow a new Gloo or Gateway API release:
point this script at the new CRDs and run the drift test (tests/test_schema_drift.py) against them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMAS = ROOT / "tests" / "fake_apiserver" / "schemas"
FIELDS = SCHEMAS / "fields.txt"

Schema = dict[str, Any]
# What a structural schema says about a node itself; `properties`, `items` and `additionalProperties`
# are cut down to the kept fields, and `description` is left out.
NODE_KEYS = (
    "type", "format", "enum", "default", "nullable", "required", "pattern",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
    "minItems", "maxItems", "minProperties", "maxProperties", "uniqueItems", "anyOf", "oneOf", "allOf",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string", "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys", "x-kubernetes-map-type", "x-kubernetes-validations",
)


def load_crds(directory: Path) -> dict[str, tuple[Schema, Schema]]:
    """`plural.group/version` -> (identity, openAPIV3Schema) of every served version under `directory`."""
    found: dict[str, tuple[Schema, Schema]] = {}
    for path in sorted(directory.rglob("*.yaml")):
        with path.open(encoding="utf-8") as stream:
            for document in yaml.safe_load_all(stream):
                if not isinstance(document, dict) or document.get("kind") != "CustomResourceDefinition":
                    continue
                spec = document["spec"]
                for version in spec.get("versions", []):
                    schema = (version.get("schema") or {}).get("openAPIV3Schema")
                    if schema is None or not version.get("served", True):
                        continue
                    identity = {"group": spec["group"], "version": version["name"],
                                "plural": spec["names"]["plural"], "kind": spec["names"]["kind"]}
                    found[f"{spec['names']['plural']}.{spec['group']}/{version['name']}"] = (identity, schema)
    return found


def read_fields(path: Path) -> dict[str, list[list[str]]]:
    """fields.txt: `plural.group/version` headers, then one dotted field path per line (`[]` = items,
    `*` = a map's values)."""
    fields: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            current = fields.setdefault(line[1:-1], [])
        elif current is None:
            raise SystemExit(f"{path}:{number}: a field before any [plural.group/version] header")
        else:
            current.append(line.replace("[]", ".[]").split("."))
    return fields


def _tree(paths: list[list[str]]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in paths:
        node = tree
        for step in path:
            node = node.setdefault(step, {})
    return tree


def compact(schema: Schema, kept: dict[str, Any], where: str) -> Schema:
    """`schema` with only the kept fields below it (and the required ones, which a valid object has)."""
    result: Schema = {key: schema[key] for key in NODE_KEYS if key in schema}
    properties: dict[str, Schema] = schema.get("properties") or {}
    if "properties" in schema:
        names = [name for name in properties if name in kept or name in schema.get("required", [])]
        result["properties"] = {name: compact(properties[name], kept.get(name, {}), f"{where}.{name}")
                                for name in names}
    unknown = [name for name in kept if name not in ("[]", "*") and name not in properties]
    if unknown:
        raise SystemExit(f"{where}: the upstream schema has no field {unknown[0]!r}")
    if "[]" in kept or "items" in schema:
        if "items" not in schema:
            raise SystemExit(f"{where}: the upstream schema is not an array")
        result["items"] = compact(schema["items"], kept.get("[]", {}), f"{where}[]")
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        result["additionalProperties"] = compact(additional, kept.get("*", {}), f"{where}.*")
    elif additional is not None:
        result["additionalProperties"] = additional
    elif "*" in kept:
        raise SystemExit(f"{where}: the upstream schema is not a map")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("crds", type=Path, help="directory of the upstream CRDs (e.g. ../shared/crds)")
    args = parser.parse_args(argv)
    upstream = load_crds(args.crds)
    for key, paths in read_fields(FIELDS).items():
        if key not in upstream:
            raise SystemExit(f"no CRD for {key} under {args.crds}")
        identity, schema = upstream[key]
        document = {**identity, "openAPIV3Schema": compact(schema, _tree(paths), key)}
        target = SCHEMAS / f"{identity['plural']}.{identity['group']}_{identity['version']}.yaml"
        header = (f"# Generated by scripts/compact_schemas.py from the upstream CRD of {key}\n"
                  "# (fields kept: tests/fake_apiserver/schemas/fields.txt). Do not edit by hand.\n")
        target.write_text(header + yaml.safe_dump(document, sort_keys=False, width=120), encoding="utf-8")
        print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
