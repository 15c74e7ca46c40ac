"""The rollout model: what phase an app is in, and the pure transitions between phases.

Nothing here knows about Gloo or the API server. A router module reads its routes into a
`RolloutState` and renders a `RolloutState` back into routes; the verbs move between states
with the functions below, which refuse transitions that make no sense.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import Enum

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

    `weight` is the canary's share of the non-header traffic in percent, or None while no
    weighted route exists (the header phase). `headers` are the conditions of the header route;
    empty when there is none.
    """

    app: str
    primary: str
    canary: str | None = None
    weight: int | None = None
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


def parse_percent(text: str) -> int:
    if not re.fullmatch(r"[0-9]{1,3}", text.strip()) or int(text) > 100:
        raise UsageError(f"invalid weight {text!r}: give a whole number of percent from 0 to 100")
    return int(text)


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


def shift_weight(state: RolloutState, percent: int) -> RolloutState:
    """Phase 2: `percent` of the traffic without the header goes to the canary."""
    if state.canary is None:
        raise _no_canary(state, "shift traffic to")
    return replace(state, weight=percent)


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
