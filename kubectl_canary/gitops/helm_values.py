"""Helm chart values (`--helm-values FILE`): a rollout phase read from them, written into them.

Two dialects, told apart by the file (docs/design.md section 2; tests/gitops/helm/next/ holds the next
chart). The seed's chart:

    deployment: {v1: {}, v2: {}}          # one key per running version
    routes:
      apiGroup: example
      primary: {version: v1}
      canary: {version: v2, weight: 0, headers: {stage: canary}}   # absent when stable

and the series' next chart, which renders, for each of `routing.routes`, the same header and primary routes:

    deployment:                           # one Deployment per version, each with its own config
      v1: {replicas: 1, image: hashicorp/http-echo, args: [...]}
    routing:
      apiGroup: example
      version: v1                         # the primary version
      canary: {version: v2, weight: 30, headers: {stage: canary}}   # absent when stable
      options: {shadowing: {version: v2}} # optional: 100% of the requests shadowed to that version
      routes: [{prefix: "/{{ .Release.Name }}/foo"}, {prefix: "/{{ .Release.Name }}/bar"}]

Semantics, both ways (pure functions of plain data; the file I/O is helm_values_file.py's):
- no canary: stable on the primary version;
- a canary with `weight: 0`: the header phase (the seed's first file), so a weighted state of 0% is
  written, and read back, as the header phase: the same traffic, the header route still there;
- `weight` above 0: weighted, the canary's share of the traffic without the header, in percent
  (a number with at most three decimals, as `kubectl canary weight` takes);
- `headers`: header name -> exact value, ANDed; the charts cannot say "present" or regex, so those are refused;
- `deployment`: a key per version the chart runs; `header` adds the canary's, a copy of the primary's entry
  (the next chart: `--image` sets its `image`), `finish` drops the old primary's, `abort` the canary's
  (`--keep-old`/`--keep-canary` keep them). Other keys and values are kept;
- shadowing (the next chart only): `routing.options.shadowing.version`, always 100% of the requests.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from kubectl_canary.errors import CanaryError
from kubectl_canary.model.rollout import PERCENT_DECIMALS, HeaderMatch, RolloutState, Shadow, validate_name

Values = dict[str, Any]


SEED = "routes"  # the seed's chart: routes.primary.version, routes.canary
NEXT = "routing"  # the series' next chart: routing.version, routing.canary, routing.options, routing.routes
_EXPECTED = {SEED: "the seed's chart values (routes.primary.version, routes.canary)",
             NEXT: "the next chart's values (routing.version, routing.canary, routing.routes)"}


def _problem(path: Path, text: str, dialect: str = SEED) -> CanaryError:
    return CanaryError(f"{path}: {text}; expected {_EXPECTED[dialect]}")


def dialect_of(values: Any, path: Path) -> str:
    """Which chart's values these are: `routing:` (the next chart) or `routes:` (the seed's)."""
    if isinstance(values, dict) and isinstance(values.get(NEXT), dict):
        return NEXT
    if isinstance(values, dict) and isinstance(values.get(SEED), dict):
        return SEED
    raise _problem(path, "no routes key")


def state_of(values: Any, app: str, path: Path) -> RolloutState:
    """The rollout these values describe; an error naming `path` when they are neither chart's."""
    dialect = dialect_of(values, path)
    section = values[dialect]
    if dialect == SEED:
        primary_section = section.get("primary")
        primary = primary_section.get("version") if isinstance(primary_section, dict) else None
        primary_key = "routes.primary.version"
    else:
        primary, primary_key = section.get("version"), "routing.version"
    if not isinstance(primary, str) or not primary:
        raise _problem(path, f"no {primary_key}", dialect)
    state = RolloutState(app=app, primary=primary)
    canary = section.get("canary")
    if canary is not None:
        state = _with_canary(state, canary, f"{dialect}.canary", primary_key, path, dialect)
    shadowing = (section.get("options") or {}).get("shadowing") if dialect == NEXT else None
    if shadowing:
        version = shadowing.get("version") if isinstance(shadowing, dict) else None
        if not isinstance(version, str) or not version:
            raise _problem(path, "routing.options.shadowing has no version", dialect)
        state = replace(state, shadow=Shadow(version, 100.0))
    return state


def _with_canary(state: RolloutState, canary: Any, key: str, primary_key: str, path: Path, dialect: str
                 ) -> RolloutState:
    if not isinstance(canary, dict) or not isinstance(canary.get("version"), str):
        raise _problem(path, f"{key} has no version", dialect)
    if canary["version"] == state.primary:
        raise _problem(path, f"{key}.version and {primary_key} are both {state.primary}", dialect)
    weight = canary.get("weight", 0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 100:
        raise _problem(path, f"{key}.weight {weight!r} is not a number from 0 to 100", dialect)
    headers = canary.get("headers") or {}
    if not isinstance(headers, dict):
        raise _problem(path, f"{key}.headers is not a mapping of header name to value", dialect)
    matches = tuple(HeaderMatch(str(name).lower(), str(value)) for name, value in headers.items())
    percent = Fraction(Decimal(str(weight)))
    return replace(state, canary=canary["version"], headers=matches, weight=percent or None)


def _number(percent: Fraction) -> int | float:
    return int(percent) if percent.denominator == 1 else float(round(percent, PERCENT_DECIMALS))


def values_for(values: Values, before: RolloutState, after: RolloutState, *, keep: frozenset[str] = frozenset(),
               image: str | None = None) -> Values:
    """`values` (describing `before`) changed to describe `after`; every other key kept as it was.

    `keep`: versions whose `deployment` key stays although no route names them (--keep-old, --keep-canary);
    `image`: the new canary's image (--image; the next chart's dialect only).
    """
    dialect = NEXT if isinstance(values.get(NEXT), dict) else SEED
    if after.shadow is not None and dialect == SEED:
        raise CanaryError("the seed's chart has no shadowing: shadow on the cluster, or add it to the chart")
    if after.shadow is not None and after.shadow.percent != 100:
        raise CanaryError("the chart shadows every request (routing.options.shadowing has no percentage): give "
                          "--percent 100, or shadow on the cluster")
    for header in after.headers:
        if header.value is None or header.regex or header.invert_match:
            chart = "the seed's chart" if dialect == SEED else "the next chart"
            raise CanaryError(f"{chart} matches headers by exact value only: give {header.name}=VALUE")
    result = copy.deepcopy(values)
    running = [v for v in (after.primary, after.canary) if v]
    for version in running:
        validate_name(version, "version")
    if isinstance(result.get("deployment"), dict):  # values without it deploy some other way: left so
        deployments = result["deployment"]
        for version in running:
            # A new version runs as the primary does: a copy of its entry (the seed's chart's are `{}`).
            deployments.setdefault(version, copy.deepcopy(deployments.get(before.primary)) or {})
        if image and after.canary:
            entry = deployments[after.canary] if isinstance(deployments[after.canary], dict) else {}
            deployments[after.canary] = {**entry, "image": image}
        for version in [v for v in (before.primary, before.canary) if v and v not in running and v not in keep]:
            deployments.pop(version, None)
    section = result[dialect]
    if dialect == SEED:
        section["primary"] = {**section["primary"], "version": after.primary}
    else:
        section["version"] = after.primary
        _set_shadowing(section, after)
    if after.canary is None:
        section.pop("canary", None)
        return result
    canary = dict(section.get("canary") or {})
    canary["version"] = after.canary
    canary["weight"] = _number(after.weight or Fraction(0))
    canary["headers"] = {h.name: h.value for h in after.headers}
    section["canary"] = canary
    return result


def _set_shadowing(routing: Values, after: RolloutState) -> None:
    options = dict(routing.get("options") or {})
    if after.shadow is not None:
        options["shadowing"] = {**(options.get("shadowing") or {}), "version": after.shadow.version}
    else:
        options.pop("shadowing", None)
    if options:
        routing["options"] = options
    else:
        routing.pop("options", None)
