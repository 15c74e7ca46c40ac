"""JSON values as the API server sees them: strict equality (True is not 1), copies, YAML decoding."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import yaml

JsonObject = dict[str, Any]
_Value = TypeVar("_Value")


def same_json(left: Any, right: Any) -> bool:
    """Equality of decoded JSON values where booleans, integers and floats stay distinct types."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if isinstance(left, dict):
        return (
            isinstance(right, dict)
            and left.keys() == right.keys()
            and all(same_json(value, right[key]) for key, value in left.items())
        )
    if isinstance(left, list):
        return isinstance(right, list) and len(left) == len(right) and all(same_json(a, b) for a, b in zip(left, right))
    if isinstance(left, (int, float)) and isinstance(right, (int, float)):
        return type(left) is type(right) and left == right
    return type(left) is type(right) and bool(left == right)


def deep_copy(value: _Value) -> _Value:
    """A copy of JSON data (dicts, lists, scalars): several times faster than copy.deepcopy, which
    made LISTs of thousands of objects take seconds."""
    if isinstance(value, dict):
        return {key: deep_copy(item) for key, item in value.items()}  # type: ignore[return-value]
    if isinstance(value, list):
        return [deep_copy(item) for item in value]  # type: ignore[return-value]
    return value


class _YamlLoader(yaml.SafeLoader):
    """A safe loader that keeps timestamps as strings, as the API server's YAML-to-JSON conversion does."""


_YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def decode_json(raw: bytes) -> Any:
    """Decode a JSON body; raises ValueError."""
    return json.loads(raw.decode("utf-8"))


def decode_yaml_or_json(raw: bytes) -> Any:
    """Decode an apply body (YAML, or JSON which is YAML); raises ValueError."""
    try:
        return yaml.load(raw.decode("utf-8"), Loader=_YamlLoader)
    except yaml.YAMLError as error:
        raise ValueError(str(error)) from error


def encode_json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")
