"""The CEL rules (`x-kubernetes-validations`) of the Gateway API CRDs that the fake evaluates, in Python.

The compact schemas carry every rule as data; the fake evaluates the ones a canary tool can break, with
the upstream's messages (HTTPRoute, gateway-api v1.6.1 standard channel):
- at most 128 matches over all rules (16 rules and 64 matches per rule are maxItems in the schema);
- a backendRef to a Service (group "", kind Service, the defaults) must have a port, in backendRefs and in
  a RequestMirror filter;
- a RequestMirror filter has `percent` or `fraction`, not both; a filter of type T carries exactly the
  field of T;
- an Exact or PathPrefix path value starts with '/'.
Every other rule is not evaluated (listed among the fake's known differences).
"""

from __future__ import annotations

from typing import Any

Cause = tuple[str, str]

_FILTER_FIELDS = {
    "RequestHeaderModifier": "requestHeaderModifier",
    "ResponseHeaderModifier": "responseHeaderModifier",
    "RequestMirror": "requestMirror",
    "RequestRedirect": "requestRedirect",
    "URLRewrite": "urlRewrite",
    "ExtensionRef": "extensionRef",
    "CORS": "cors",
}


def _invalid(value: str, message: str) -> str:
    return f'Invalid value: "{value}": {message}'


def _needs_port(ref: dict[str, Any]) -> bool:
    return ref.get("group", "") == "" and ref.get("kind", "Service") == "Service" and "port" not in ref


def httproute_causes(obj: dict[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    rules = (obj.get("spec") or {}).get("rules") or []
    if sum(len(rule.get("matches") or []) for rule in rules) > 128:
        causes.append(("spec.rules", _invalid("array", "While 16 rules and 64 matches per rule are allowed, the "
                                                       "total number of matches across all rules in a route must "
                                                       "be less than 128")))
    for r, rule in enumerate(rules):
        where = f"spec.rules[{r}]"
        for b, ref in enumerate(rule.get("backendRefs") or []):
            if _needs_port(ref):
                causes.append((f"{where}.backendRefs[{b}]", _invalid("object", "Must have port for Service reference")))
        for f, item in enumerate(rule.get("filters") or []):
            causes += _filter_causes(item, f"{where}.filters[{f}]")
        for m, match in enumerate(rule.get("matches") or []):
            path = match.get("path") or {}
            if path.get("type", "PathPrefix") in ("Exact", "PathPrefix") and \
                    not str(path.get("value", "/")).startswith("/"):
                causes.append((f"{where}.matches[{m}].path", _invalid(
                    "object", "value must be an absolute path and start with '/' when type one of "
                              "['Exact', 'PathPrefix']")))
    return causes


def _filter_causes(item: dict[str, Any], where: str) -> list[Cause]:
    causes: list[Cause] = []
    kind = item.get("type")
    for filter_type, field in _FILTER_FIELDS.items():
        if field in item and kind != filter_type:
            causes.append((where, _invalid("object", f"filter.{field} must be nil if the filter.type is not "
                                                     f"{filter_type}")))
        if field not in item and kind == filter_type:
            causes.append((where, _invalid("object", f"filter.{field} must be specified for {filter_type} "
                                                     "filter.type")))
    mirror = item.get("requestMirror")
    if isinstance(mirror, dict):
        if "percent" in mirror and "fraction" in mirror:
            causes.append((f"{where}.requestMirror", _invalid(
                "object", "Only one of percent or fraction may be specified in HTTPRequestMirrorFilter")))
        if _needs_port(mirror.get("backendRef") or {}):
            causes.append((f"{where}.requestMirror.backendRef", _invalid(
                "object", "Must have port for Service reference")))
    return causes


RULES = {"httproutes": httproute_causes}
