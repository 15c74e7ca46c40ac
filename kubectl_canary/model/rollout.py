"""The rollout model: what phase an app is in, and the pure transitions between phases.

Nothing here knows about Gloo or the API server. A router module reads its routes into a
`RolloutState` and renders a `RolloutState` back into routes; the verbs move between states
with the functions below, which refuse transitions that make no sense.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import Enum
from fractions import Fraction

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
