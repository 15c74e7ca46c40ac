"""Validation and defaulting of custom resources against the compact CRD schemas in schemas/.

The schemas are the upstream CRDs' `openAPIV3Schema` cut down to the fields the plugin and its tests use
(scripts/compact_schemas.py writes them from schemas/fields.txt; tests/test_schema_drift.py checks them
against the upstream CRDs when `$KUBECTL_CANARY_CRDS` names them). Checked: types (`integer` is not
`number`, booleans are not integers), `nullable`, `x-kubernetes-int-or-string`,
`x-kubernetes-preserve-unknown-fields`, `additionalProperties`, `properties`, `items`, `enum`, `required`,
`minimum`/`maximum`, `format` (int32, int64, byte), `pattern`, `minLength`/`maxLength`,
`minItems`/`maxItems`, `maxProperties`/`minProperties`. `default`s are applied as the real server applies
them. Unknown fields are reported separately, so the caller can reject them (the real server prunes them).
CEL rules (`x-kubernetes-validations`) are carried as data and not evaluated.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Schema = dict[str, Any]

SCHEMAS = Path(__file__).resolve().parent / "schemas"
_cache: dict[tuple[str, str, str], Schema] = {}
_cache_lock = threading.Lock()


def _load_schemas() -> dict[tuple[str, str, str], Schema]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    schemas: dict[tuple[str, str, str], Schema] = {}
    for path in sorted(SCHEMAS.glob("*.yaml")):
        with path.open(encoding="utf-8") as stream:
            document = yaml.load(stream, Loader=loader)
        schemas[(document["group"], document["version"], document["plural"])] = document["openAPIV3Schema"]
    return schemas


def crd_schema(group: str, version: str, plural: str) -> Schema:
    """The compact openAPIV3Schema of a custom resource; raises LookupError when the fake carries none."""
    with _cache_lock:
        if not _cache:
            _cache.update(_load_schemas())
    key = (group, version, plural)
    if key not in _cache:
        raise LookupError(f"no compact schema for {plural}.{group}/{version} under {SCHEMAS}")
    return _cache[key]


def apply_defaults(schema: Schema, value: Any) -> None:
    """Fill `default`s in place, as the API server does on every write: a missing property with a
    default is set, and defaulting goes on inside objects and list items that are present."""
    if isinstance(value, dict):
        for name, child in (schema.get("properties") or {}).items():
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
            if name in value:
                apply_defaults(child, value[name])
        additional = schema.get("additionalProperties")
        if isinstance(additional, dict):
            for item in value.values():
                apply_defaults(additional, item)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            apply_defaults(schema["items"], item)


@dataclass
class ValidationResult:
    unknown_fields: list[str] = field(default_factory=list)
    # (field path, text after the path) as the real server's field errors print.
    errors: list[tuple[str, str]] = field(default_factory=list)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _quote(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else json.dumps(value, default=str)


def _has_type(expected: str, value: Any) -> bool:
    actual = _json_type(value)
    return actual == expected or (expected == "number" and actual == "integer")


_INTEGER_FORMATS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


def _validate(schema: Schema, value: Any, path: str, result: ValidationResult) -> None:
    if value is None:
        if not schema.get("nullable"):
            expected = schema.get("type", "object")
            result.errors.append((path, f'Invalid value: "null": {path} in body must be of type {expected}: "null"'))
        return
    if schema.get("x-kubernetes-int-or-string"):
        if _json_type(value) not in ("integer", "string"):
            actual = _json_type(value)
            result.errors.append(
                (path, f'Invalid value: "{actual}": {path} in body must be of type integer,string: "{actual}"')
            )
        return
    expected = schema.get("type")
    if expected and not _has_type(expected, value):
        actual = _json_type(value)
        result.errors.append(
            (path, f'Invalid value: "{actual}": {path} in body must be of type {expected}: "{actual}"')
        )
        return
    if "enum" in schema and not any(value == option and type(value) is type(option) for option in schema["enum"]):
        supported = ", ".join(_quote(option) for option in schema["enum"])
        result.errors.append((path, f"Unsupported value: {_quote(value)}: supported values: {supported}"))
    if isinstance(value, dict):
        _validate_object(schema, value, path, result)
    elif isinstance(value, list):
        _validate_array(schema, value, path, result)
    elif isinstance(value, str):
        _validate_string(schema, value, path, result)
    elif isinstance(value, (int, float)):
        _validate_number(schema, value, path, result)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _validate_object(schema: Schema, value: dict[str, Any], path: str, result: ValidationResult) -> None:
    properties: dict[str, Schema] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    for key, item in value.items():
        child = _child(path, key)
        if key in properties:
            _validate(properties[key], item, child, result)
        elif isinstance(additional, dict):
            _validate(additional, item, child, result)
        elif not preserve and additional is not True:
            result.unknown_fields.append(child)
    for required in schema.get("required") or []:
        if required not in value:
            result.errors.append((_child(path, required), "Required value"))
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        result.errors.append((path, f"Too many: {len(value)}: must have at most {schema['maxProperties']} items"))
    if "minProperties" in schema and len(value) < schema["minProperties"]:
        result.errors.append(
            (
                path,
                f"Invalid value: {len(value)}: {path} in body should have at least "
                f"{schema['minProperties']} properties",
            )
        )


def _validate_array(schema: Schema, value: list[Any], path: str, result: ValidationResult) -> None:
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            _validate(items, item, f"{path}[{index}]", result)
    if "maxItems" in schema and len(value) > schema["maxItems"]:
        result.errors.append((path, f"Too many: {len(value)}: must have at most {schema['maxItems']} items"))
    if "minItems" in schema and len(value) < schema["minItems"]:
        result.errors.append(
            (path, f"Invalid value: {len(value)}: {path} in body should have at least {schema['minItems']} items")
        )


def _validate_string(schema: Schema, value: str, path: str, result: ValidationResult) -> None:
    if schema.get("format") == "byte":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            result.errors.append(
                (path, f"Invalid value: {_quote(value)}: {path} in body must be of type byte: {_quote(value)}")
            )
    if "pattern" in schema and not re.search(schema["pattern"], value):
        result.errors.append(
            (path, f"Invalid value: {_quote(value)}: {path} in body should match '{schema['pattern']}'")
        )
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        result.errors.append((path, f"Too long: may not be more than {schema['maxLength']} bytes"))
    if "minLength" in schema and len(value) < schema["minLength"]:
        result.errors.append(
            (
                path,
                f"Invalid value: {_quote(value)}: {path} in body should be at least {schema['minLength']} chars long",
            )
        )


def _validate_number(schema: Schema, value: float, path: str, result: ValidationResult) -> None:
    bounds = _INTEGER_FORMATS.get(schema.get("format", ""))
    if bounds and isinstance(value, int) and not bounds[0] <= value <= bounds[1]:
        result.errors.append(
            (path, f"Invalid value: {value}: {path} in body must be of type {schema['format']}: {value}")
        )
    if "minimum" in schema and value < schema["minimum"]:
        result.errors.append(
            (path, f"Invalid value: {value}: {path} in body should be greater than or equal to {schema['minimum']}")
        )
    if "maximum" in schema and value > schema["maximum"]:
        result.errors.append(
            (path, f"Invalid value: {value}: {path} in body should be less than or equal to {schema['maximum']}")
        )


def validate_custom_resource(schema: Schema, obj: dict[str, Any]) -> ValidationResult:
    """Validate everything but apiVersion/kind/metadata against the CRD's root schema."""
    result = ValidationResult()
    body = {key: value for key, value in obj.items() if key not in ("apiVersion", "kind", "metadata")}
    _validate(schema, body, "", result)
    return result

