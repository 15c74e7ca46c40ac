"""The seed's Helm chart values (`--helm-values FILE`): a rollout phase read from them, written into them.

The chart renders its Deployments and routes from these values (docs/design.md section 2):

    deployment: {v1: {}, v2: {}}          # one key per running version
    routes:
      apiGroup: example
      primary: {version: v1}
      canary: {version: v2, weight: 0, headers: {stage: canary}}   # absent when stable

Semantics, both ways (pure functions of plain data; the file I/O is manifest_files.py's):
- no `routes.canary`: stable on `routes.primary.version`;
- `routes.canary` with `weight: 0`: the header phase (the seed's first file), so a weighted state of 0% is
  written, and read back, as the header phase: the same traffic, the header route still there;
- `weight` above 0: weighted, the canary's share of the traffic without the header, in percent
  (a number with at most three decimals, as `kubectl canary weight` takes);
- `headers`: header name -> exact value, ANDed; the chart cannot say "present" or regex, so those are refused;
- `deployment`: a key per version the chart runs; `header` adds the canary's (`{}`), `finish` drops the old
  primary's, `abort` the canary's (`--keep-old`/`--keep-canary` keep them). Other keys and values are kept.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from kubectl_canary.errors import CanaryError
from kubectl_canary.model.rollout import PERCENT_DECIMALS, HeaderMatch, RolloutState, validate_name

Values = dict[str, Any]


def _problem(path: Path, text: str) -> CanaryError:
    return CanaryError(f"{path}: {text}; expected the seed's chart values (routes.primary.version, routes.canary)")


def state_of(values: Any, app: str, path: Path) -> RolloutState:
    """The rollout these values describe; an error naming `path` when they are not the seed's chart's."""
    if not isinstance(values, dict) or not isinstance(values.get("routes"), dict):
        raise _problem(path, "no routes key")
    routes = values["routes"]
    primary = (routes.get("primary") or {}).get("version") if isinstance(routes.get("primary"), dict) else None
    if not isinstance(primary, str) or not primary:
        raise _problem(path, "no routes.primary.version")
    canary = routes.get("canary")
    if canary is None:
        return RolloutState(app=app, primary=primary)
    if not isinstance(canary, dict) or not isinstance(canary.get("version"), str):
        raise _problem(path, "routes.canary has no version")
    if canary["version"] == primary:
        raise _problem(path, f"routes.canary.version and routes.primary.version are both {primary}")
    weight = canary.get("weight", 0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 100:
        raise _problem(path, f"routes.canary.weight {weight!r} is not a number from 0 to 100")
    headers = canary.get("headers") or {}
    if not isinstance(headers, dict):
        raise _problem(path, "routes.canary.headers is not a mapping of header name to value")
    matches = tuple(HeaderMatch(str(name).lower(), str(value)) for name, value in headers.items())
    percent = Fraction(Decimal(str(weight)))
    return RolloutState(app=app, primary=primary, canary=canary["version"], headers=matches,
                        weight=percent or None)


def _number(percent: Fraction) -> int | float:
    return int(percent) if percent.denominator == 1 else float(round(percent, PERCENT_DECIMALS))


def values_for(values: Values, before: RolloutState, after: RolloutState, *, keep: frozenset[str] = frozenset()
               ) -> Values:
    """`values` (describing `before`) changed to describe `after`; every other key kept as it was.

    `keep`: versions whose `deployment` key stays although no route names them (--keep-old, --keep-canary).
    """
    if after.shadow is not None:
        raise CanaryError("the seed's chart has no shadowing: shadow on the cluster, or add it to the chart")
    for header in after.headers:
        if header.value is None or header.regex or header.invert_match:
            raise CanaryError(f"the seed's chart matches headers by exact value only: give {header.name}=VALUE")
    result = copy.deepcopy(values)
    running = [v for v in (after.primary, after.canary) if v]
    for version in running:
        validate_name(version, "version")
    if isinstance(result.get("deployment"), dict):  # values without it deploy some other way: left so
        deployments = result["deployment"]
        for version in running:
            deployments.setdefault(version, {})
        for version in [v for v in (before.primary, before.canary) if v and v not in running and v not in keep]:
            deployments.pop(version, None)
    routes = result["routes"]
    routes["primary"] = {**routes["primary"], "version": after.primary}
    if after.canary is None:
        routes.pop("canary", None)
        return result
    canary = dict(routes.get("canary") or {})
    canary["version"] = after.canary
    canary["weight"] = _number(after.weight or Fraction(0))
    canary["headers"] = {h.name: h.value for h in after.headers}
    routes["canary"] = canary
    return result
