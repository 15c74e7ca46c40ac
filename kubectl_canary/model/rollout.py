"""The rollout model: what phase an app is in, and the pure transitions between phases.

Nothing here knows about Gloo or the API server. A router module reads its routes into a
`RolloutState` and renders a `RolloutState` back into routes; the verbs move between states
with the functions below, which refuse transitions that make no sense.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Any

from kubectl_canary.errors import CanaryError, UsageError

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# `<app>-<version>` must itself be a DNS-1123 label for the Deployment name.
_MAX_NAME = 63


class Phase(str, Enum):
    STABLE = "stable"
    HEADER = "header"
    WEIGHTED = "weighted"


@dataclass(frozen=True)
class HeaderMatch:
    """One request-header condition; several in a route are ANDed. `value=None` means "present"."""

    name: str
    value: str | None = None
    regex: bool = False
    invert_match: bool = False

    def __str__(self) -> str:
        op = "!=" if self.invert_match else ("=~" if self.regex else "=")
        return self.name if self.value is None else f"{self.name}{op}{self.value}"


DEFAULT_HEADER = HeaderMatch("stage", "canary")


@dataclass(frozen=True)
class Shadow:
    """A copy of `percent`% of the primary route's requests goes to `version`; its answers are dropped."""

    version: str
    percent: float


@dataclass(frozen=True)
class RolloutState:
    """Where one app's traffic goes.

    `weight` is the canary's share of the non-header traffic in percent, exact (a Fraction: a
    router's integer weights 999/1 are 0.1%, not 0%), or None while no weighted route exists (the
    header phase). `headers` are the conditions of the header route; empty when there is none.
    """

    app: str
    primary: str
    canary: str | None = None
    weight: Fraction | None = None
    headers: tuple[HeaderMatch, ...] = ()
    shadow: Shadow | None = None

    @property
    def phase(self) -> Phase:
        if self.canary is None:
            return Phase.STABLE
        return Phase.HEADER if self.weight is None else Phase.WEIGHTED

    @property
    def canary_receives_traffic(self) -> bool:
        """True when requests without the header can reach the canary."""
        return self.canary is not None and bool(self.weight)


class UnreadableRoutes(ValueError):
    """The routes do not describe a rollout; a router names its object and the fix around the reason."""


def read_state(
    app: str, primary: list[tuple[str, int]], header: tuple[str, tuple[HeaderMatch, ...]] | None
) -> RolloutState:
    """The rollout that a router's routes describe, whatever the router.

    `primary` is the (version, weight) of each destination of the primary route, `header` the header
    route's version and its canary headers (beyond the primary's own), if there is one.
    """
    header_version, headers = header if header is not None else (None, ())
    if header is not None and not headers:
        raise UnreadableRoutes("the header route matches no header beyond the primary route's")
    if len(primary) == 1:
        version = primary[0][0]
        if header_version == version:
            raise UnreadableRoutes(f"the header route and the primary route both go to {version}")
        return RolloutState(app=app, primary=version, canary=header_version, headers=headers)
    if len(primary) != 2:
        raise UnreadableRoutes("the primary route does not send to one version, or to two by weight")
    (first, first_weight), (second, second_weight) = primary
    if first == second:
        raise UnreadableRoutes(f"both weighted destinations go to {first}")
    if first_weight + second_weight == 0:
        raise UnreadableRoutes("all weights are zero, which leaves the route without a destination")
    if header_version not in (None, first, second):
        raise UnreadableRoutes(f"the header route goes to {header_version}, not to a weighted version")
    # The canary is the header route's version, else the second destination (the plugin's order).
    if header_version == first:
        primary_version, canary, canary_weight = second, first, first_weight
    else:
        primary_version, canary, canary_weight = first, second, second_weight
    weight = Fraction(100 * canary_weight, first_weight + second_weight)
    return RolloutState(app=app, primary=primary_version, canary=canary, weight=weight, headers=headers)


def added_headers(header_route: tuple[HeaderMatch, ...], primary: tuple[HeaderMatch, ...]) -> tuple[HeaderMatch, ...]:
    """The header route's conditions beyond the primary's own: those the plugin added to narrow it."""
    own = Counter(primary)
    added = []
    for header in header_route:
        if own[header] > 0:
            own[header] -= 1
        else:
            added.append(header)
    return tuple(added)


def validate_name(value: str, what: str) -> str:
    if not _DNS1123_LABEL.match(value) or len(value) > _MAX_NAME:
        raise UsageError(
            f"invalid {what} {value!r}: use lowercase letters, digits and '-', starting and ending "
            f"with a letter or digit, at most {_MAX_NAME} characters"
        )
    return value


def validate_version(app: str, version: str) -> str:
    validate_name(version, "version")
    if len(f"{app}-{version}") > _MAX_NAME:
        raise UsageError(f"deployment name {app}-{version!r} would exceed {_MAX_NAME} characters")
    return version


# Three decimals: 0.001% is one request in 100,000, finer than any canary needs, and the weights
# stay well inside what routers take (Gateway API: at most 1,000,000 in total).
PERCENT_DECIMALS = 3


def parse_percent(text: str) -> Fraction:
    """A percentage from 0 to 100 with at most three decimals (`0.1`, `12.5`, `50`), exact."""
    cleaned = text.strip().removesuffix("%")
    if not re.fullmatch(rf"[0-9]{{1,3}}(\.[0-9]{{1,{PERCENT_DECIMALS}}})?", cleaned) or Decimal(cleaned) > 100:
        raise UsageError(
            f"invalid weight {text!r}: give a percentage from 0 to 100, with at most {PERCENT_DECIMALS} decimals"
        )
    return Fraction(Decimal(cleaned))


# The smallest total of integer weights that states a share of three decimals of a percent exactly
# (at most 100,000: Gloo takes any uint32, the Gateway API at most 1,000,000 per backend).
_WEIGHT_TOTALS = (100, 1_000, 10_000, 100_000)


def integer_weights(percent: Fraction) -> tuple[int, int]:
    """(primary, canary) integer weights giving the canary exactly `percent`; never both zero."""
    for total in _WEIGHT_TOTALS:
        canary = percent * total / 100
        if canary.denominator == 1:
            return total - int(canary), int(canary)
    raise ValueError(f"{percent}% has more than three decimals")


def format_percent(percent: Fraction | int) -> str:
    """`12.5`, `0.1`, `50`: exact when it has at most three decimals, else rounded and marked `~`."""
    value = Fraction(percent)
    scaled = value * 10**PERCENT_DECIMALS
    text = f"{Decimal(round(scaled)) / 10**PERCENT_DECIMALS:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if scaled.denominator == 1 else f"~{text}"


def parse_header(text: str) -> HeaderMatch:
    """`NAME=VALUE`, or `NAME` alone to match on the header being present."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
        raise UsageError(f"invalid header {text!r}: use NAME=VALUE (for example stage=canary)")
    if sep and not value:
        raise UsageError(f"invalid header {text!r}: the value is empty; use NAME alone to match presence")
    return HeaderMatch(name.lower(), value if sep else None)


def _no_canary(state: RolloutState, verb: str) -> CanaryError:
    return CanaryError(
        f"{state.app} has no canary to {verb} (stable on {state.primary}); "
        f"start one with: kubectl canary header {state.app} VERSION"
    )


def start_canary(state: RolloutState, version: str, headers: tuple[HeaderMatch, ...]) -> RolloutState:
    """Phase 1: a header route to `version`. Re-running with other headers updates them."""
    if version == state.primary:
        raise UsageError(f"{version} is already the primary version of {state.app}; choose a new version")
    if state.canary not in (None, version):
        raise CanaryError(
            f"{state.app} already has canary {state.canary} in progress; "
            f"finish or abort it first (kubectl canary finish|abort {state.app})"
        )
    return replace(state, canary=version, headers=headers)


def shift_weight(state: RolloutState, percent: Fraction | int) -> RolloutState:
    """Phase 2: `percent` of the traffic without the header goes to the canary."""
    if state.canary is None:
        raise _no_canary(state, "shift traffic to")
    return replace(state, weight=Fraction(percent))


def promote(state: RolloutState) -> RolloutState:
    """Finish: the canary becomes the only version (shadowing ends with the rollout)."""
    if state.canary is None:
        raise _no_canary(state, "finish")
    return RolloutState(app=state.app, primary=state.canary)


def rollback(state: RolloutState) -> RolloutState:
    """Abort: everything back on the primary, the stable single route (shadowing ends too)."""
    if state.canary is None and state.shadow is None:
        raise _no_canary(state, "abort")
    return RolloutState(app=state.app, primary=state.primary)


def parse_shadow_percent(text: str) -> float:
    try:
        percent = float(text.rstrip("%"))
    except ValueError:
        percent = -1
    if not 0 < percent <= 100:
        raise UsageError(f"invalid --percent {text!r}: give a number of percent above 0, at most 100")
    return percent


def start_shadow(state: RolloutState, version: str, percent: float) -> RolloutState:
    if version == state.primary:
        raise UsageError(f"{version} is the primary version of {state.app}: shadow another version")
    return replace(state, shadow=Shadow(version, percent))


def stop_shadow(state: RolloutState) -> RolloutState:
    if state.shadow is None:
        raise CanaryError(f"{state.app} has no shadowing to turn off")
    return replace(state, shadow=None)


# --- guards by direction -----------------------------------------------------------------------------------


class Direction(str, Enum):
    """Which way a move sends traffic to a version; readiness.py judges a Deployment for each."""

    TOWARD = "toward"  # a larger share of the requests without the header, to a version that is not the primary
    BACK = "back"  # a larger share back to the primary (abort, weight down, a failed gate's --on-failure)
    HEADER = "header"  # only the requests carrying the canary header: opt-in


@dataclass(frozen=True)
class Judgement:
    """A version's Deployment judged for the traffic a move would send it (readiness.judge)."""

    deployment: str  # its name
    missing: bool = False
    refusal: str = ""  # why it cannot take that traffic (empty: it can); --force overrides
    warning: str = ""  # it takes it, and the user should know something (e.g. below its minimum availability)


def traffic_shares(state: RolloutState) -> dict[str, Fraction]:
    """Percent of the requests without the canary header that each version receives (zero shares left out)."""
    if state.canary is None or state.weight is None:
        return {state.primary: Fraction(100)}
    shares = {state.primary: 100 - state.weight, state.canary: state.weight}
    return {version: share for version, share in shares.items() if share > 0}


def routed_versions(state: RolloutState) -> set[str]:
    """Every version the routes name: primary, canary, shadow."""
    return {v for v in (state.primary, state.canary, state.shadow.version if state.shadow else None) if v}


def header_versions(state: RolloutState) -> set[str]:
    """The versions that requests carrying the canary header reach."""
    if state.canary is not None and state.headers:
        return {state.canary}
    return set(traffic_shares(state))


def versions_gaining(before: RolloutState, after: RolloutState) -> list[str]:
    """The versions that receive traffic after a transition that they did not receive before: a larger
    share of the requests without the header, or the header requests. Only these need checking."""
    return list(moves(before, after))


def moves(before: RolloutState, after: RolloutState) -> dict[str, Direction]:
    """Each version that gains traffic, and which way it goes: back to the primary, toward any other version
    (a canary, a new primary), or only the header requests."""
    old = traffic_shares(before)
    gaining = {
        version: Direction.BACK if version == before.primary else Direction.TOWARD
        for version, share in traffic_shares(after).items() if share > old.get(version, 0)
    }
    for version in sorted(header_versions(after) - header_versions(before)):
        gaining.setdefault(version, Direction.HEADER)
    return gaining


def check_moves(
    before: RolloutState,
    after: RolloutState,
    judgements: dict[str, Judgement],
    *,
    force: bool,
) -> list[str]:
    """Refuse a transition that moves traffic toward a version that cannot take it; the warnings to show.

    Never toward a missing Deployment, whatever `force` says (moving traffic away from one is allowed: it
    shrinks an outage). Otherwise each gaining version's judgement (readiness.judge, by direction) refuses
    or warns; `force` overrides a refusal. `judgements` holds every version of `moves(before, after)`.
    """
    gaining = moves(before, after)
    for version in gaining:
        if judgements[version].missing:
            raise CanaryError(_missing_message(before, after, version, judgements[version].deployment))
    warnings = []
    for version in gaining:
        judgement = judgements[version]
        if judgement.refusal and not force:
            raise CanaryError(judgement.refusal)
        if judgement.warning:
            warnings.append(judgement.warning)
    return warnings


def _missing_message(before: RolloutState, after: RolloutState, version: str, name: str) -> str:
    where = ", ".join(f"{format_percent(s)}% to {v}" for v, s in traffic_shares(before).items())
    text = f"deployment {name} not found, so {version} has no pods to serve traffic; the routes stay as they are"
    text += f" ({where})"
    others = [v for v in (before.primary, before.canary) if v is not None and v != version]
    if version == before.primary and others:
        return (
            f"{text}; recreate deployment {name} (e.g. from your manifests), or make {others[0]} the only "
            f"version with: kubectl canary finish {after.app}"
        )
    return f"{text}; recreate it with: kubectl canary header {after.app} {version}"


# --- an app of several routes ------------------------------------------------------------------------------
#
# An app's routes are every route of its table that sends to it (Gloo: to its Upstream; the Gateway API: to
# its version Services). Each is read on its own, as a primary route with the header route right before
# it, and every command moves all of them together. What the two routers share lives here: the names, how a
# header route finds its primary route, and how the routes' own states make one state of the app.


def primary_route_names(app: str, live: list[str | None], taken: set[str]) -> list[str]:
    """The names of the app's primary routes, in order: a named route keeps its name (the team's tools may
    refer to it); an unnamed one becomes `APP-primary` when it is the app's only route, else `APP-primary-N`
    (N its place among the app's routes, or the next number no route of the table has)."""
    if len(live) == 1:
        return [live[0] or f"{app}-primary"]
    used = set(taken) | {name for name in live if name}
    names = []
    for place, name in enumerate(live, 1):
        if not name:
            number = place
            while f"{app}-primary-{number}" in used:
                number += 1
            name = f"{app}-primary-{number}"
            used.add(name)
        names.append(name)
    return names


def header_route_name_of(app: str, primary_name: str, routes_of_app: int) -> str:
    """The header route's name: `APP-canary-header` for an app of one route (whatever its primary route is
    called); with several, derived from its primary route's name, so it stays the same from one write to
    the next: `APP-primary-N` -> `APP-canary-header-N`, any other NAME -> `NAME-canary-header`."""
    if routes_of_app == 1 or primary_name == f"{app}-primary":
        return f"{app}-canary-header"
    number = primary_name.removeprefix(f"{app}-primary-")
    if number != primary_name and number.isdigit():
        return f"{app}-canary-header-{number}"
    return f"{primary_name}-canary-header"


def header_route_target(app: str, name: str | None, primary_names: set[str]) -> str | None:
    """For a route named like a header route of `app`: the name of its primary route, "" when that is found
    by place (the app's only route, or the route right after it); None for any other name."""
    if not name:
        return None
    if name == f"{app}-canary-header":
        return f"{app}-primary" if f"{app}-primary" in primary_names else ""
    number = name.removeprefix(f"{app}-canary-header-")
    if number != name and number.isdigit():
        return f"{app}-primary-{number}" if f"{app}-primary-{number}" in primary_names else ""
    base = name.removesuffix("-canary-header")
    return base if base != name and base in primary_names else None


def pair_routes(
    app: str,
    names: Sequence[str | None],
    candidates: Sequence[int],
    narrows: Callable[[int, int], bool],
    describe: Callable[[int], str],
) -> list[tuple[int, int | None]]:
    """The app's routes among `candidates` (indices of the route list, every route that sends to the app):
    (primary route, its header route or None) per primary route, in list order.

    A header route is known by its name (`header_route_name_of`, the plugin's), or, unnamed, by its shape
    (`narrows(h, p)`: it matches what primary route p matches plus headers and sends to one version, as the
    seed's charts render it); it pairs with the primary route its name says, else the one it narrows (the
    next one after it first), else (`APP-canary-header`) the app's only route, else the route right after it.
    """
    ordered = sorted(set(candidates))
    primary_names = {str(names[i]) for i in ordered if names[i]}
    by_name = {i: target for i in ordered if (target := header_route_target(app, names[i], primary_names)) is not None}
    primaries = [i for i in ordered if i not in by_name]
    unnamed = [h for h in primaries if not names[h] and any(narrows(h, p) for p in primaries if p != h)]
    primaries = [i for i in primaries if i not in unnamed]
    header_of: dict[int, list[int]] = {}
    for h in unnamed:
        options = [p for p in primaries if narrows(h, p)]
        if not options:  # it only narrows other header routes: a route of its own
            primaries = sorted([*primaries, h])
            continue
        after = [p for p in options if p > h]
        header_of.setdefault(after[0] if after else options[-1], []).append(h)
    index_of = {names[i]: i for i in primaries if names[i]}
    for h, target in by_name.items():
        following = [i for i in ordered if i > h]
        if target:
            primary = index_of[target]
        elif len(primaries) == 1 and names[h] == f"{app}-canary-header":
            primary = primaries[0]
        elif following and following[0] in primaries:
            primary = following[0]
        else:
            raise UnreadableRoutes(f"header route {describe(h)} has no primary route of its own")
        header_of.setdefault(primary, []).append(h)
    pairs = []
    for primary in primaries:
        headers = header_of.get(primary, [])
        if len(headers) > 1:
            raise UnreadableRoutes(
                f"route {describe(primary)} has {len(headers)} header routes ({', '.join(map(describe, headers))})"
            )
        pairs.append((primary, headers[0] if headers else None))
    return pairs


def _where(state: RolloutState) -> str:
    """Where one route sends its requests, for messages that compare routes."""
    if state.canary is None:
        return f"stable on {state.primary}"
    headers = " & ".join(map(str, state.headers))
    if state.weight is None:
        return f"on {state.primary}, header {headers} to {state.canary}"
    split = f"{state.primary} {format_percent(100 - state.weight)}% / {state.canary} {format_percent(state.weight)}%"
    return f"{split}, header {headers}" if headers else f"{split}, no header route"


def _reference(values: list[Any], prefer: Callable[[Any], bool] = lambda _: True) -> Any:
    """The value most routes have (the first route's among equals), among the preferred ones if any."""
    pool = [v for v in values if prefer(v)] or values
    counts = Counter(pool)
    return max(pool, key=lambda v: (counts[v], -pool.index(v)))


def combine_states(app: str, routes: list[tuple[str, RolloutState]], noun: str = "route"
                   ) -> tuple[RolloutState, tuple[str, ...]]:
    """The one state of an app from the states of its routes (each labelled for messages; `noun`: what the
    router calls them), and how routes that disagree with the others do (the app is then degraded: `status`
    exits 1, and the next command sets every route to the one state).

    Routes on different primaries, or in different phases (stable, header, weighted; or with different
    canaries) cannot be read as one app: UnreadableRoutes, naming each route and where it is.
    """
    states = [state for _, state in routes]
    if len({s.primary for s in states}) > 1:
        where = ", ".join(f"{label} on {s.primary}" for label, s in routes)
        raise UnreadableRoutes(f"its {noun}s are on different primaries: {where}")
    if len({(s.phase, s.canary) for s in states}) > 1:
        where = "; ".join(f"{label} {_where(s)}" for label, s in routes)
        raise UnreadableRoutes(f"its {noun}s are in different phases: {where}")
    first = states[0]
    weight = _reference([s.weight for s in states])
    headers = _reference([s.headers for s in states], prefer=bool)  # a missing header route is the odd one
    shadow = _reference([s.shadow for s in states])
    state = RolloutState(app=app, primary=first.primary, canary=first.canary, weight=weight, headers=headers,
                         shadow=shadow)
    others = f"the app's other {noun}s"
    problems = []
    for label, route in routes:
        if route.weight != weight:
            problems.append(f"{noun} {label} sends {format_percent(route.weight or 0)}% to {state.canary}, {others} "
                            f"{format_percent(weight or 0)}%")
        if route.headers != headers:
            wanted = " & ".join(map(str, headers)) or "none"
            if not route.headers:
                problems.append(f"{noun} {label} has no header {noun} ({others} send {wanted} to {state.canary})")
            else:
                problems.append(f"{noun} {label} sends header {' & '.join(map(str, route.headers))} to "
                                f"{state.canary}, {others} {wanted}")
        if route.shadow != shadow:
            own = f"{route.shadow.percent:g}% to {route.shadow.version}" if route.shadow else "nothing"
            theirs = f"{shadow.percent:g}% to {shadow.version}" if shadow else "nothing"
            problems.append(f"{noun} {label} shadows {own}, {others} {theirs}")
    return state, tuple(problems)
