"""What the seam between the rollout and its gateway is made of: pure types, no I/O.

`Router` (routers/__init__.py holds the two: Gloo and the Gateway API) reads the app's routes into a
`Parsed` (the state, and where the routes sit), renders a state back, and reads the gateway's `Verdict`.
`LiveRollout` is an app's route object as read through its router, `RouteChange` a change written
through it. `Reporter` is what the routers' I/O (routers/*_backends.py) tells the user through: the
invocation is one, and the backends need nothing else of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Protocol

from kubectl_canary.model.app_names import AppNames, recorded_names
from kubectl_canary.model.resources import Obj, Resource
from kubectl_canary.model.rollout import RolloutState
from kubectl_canary.routers.gloo_delegation import Delegation


class Parsed(Protocol):
    """A router's reading of the app's routes: the state, plus where the routes sit (router-specific)."""

    @property
    def state(self) -> RolloutState: ...

    @property
    def route_states(self) -> tuple[RolloutState, ...]:
        """Each route's own state (an app may have several routes); all equal to `state` unless degraded."""

    @property
    def disagreements(self) -> tuple[str, ...]:
        """The routes whose own state differs from the app's, each named: the app is degraded."""


@dataclass(frozen=True)
class Verdict:
    """The gateway's judgement of the route object: `state` None while it has reported nothing."""

    state: str | None
    reason: str = ""


NO_VERDICT = Verdict(None)


@dataclass(frozen=True)
class StatusNotes:
    """What `status APP` adds beyond the routes: problems (degrade the rollout) and notes."""

    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    delegations: list[Delegation] | None = None  # Gloo: the VirtualServices that reach the RouteTable


@dataclass(frozen=True)
class Router:
    """A gateway's routes as the commands see them: their object, how to read and write them."""

    name: str  # the value of --router
    gateway: str  # who judges the routes, in messages
    resource: Resource  # the kind of the object holding the app's routes
    list_field: str  # spec.<list_field>: the atomic list of routes the plugin writes whole
    object_name: Callable[[str], str]
    app_of: Callable[[str], str | None]  # the app whose route object has this name, if any
    parse: Callable[[str, list[Any], AppNames], Parsed]  # names: where the app's routes are (Gloo)
    # (the whole route list, the router's own Parsed of it, the desired state) -> the whole route list
    render: Callable[[list[Any], Any, RolloutState], list[Any]]
    holds_app: Callable[[str, list[Any]], bool]  # whether a route object carries routes of the app
    verdict: Callable[[Obj], Verdict]
    # Whether `written` carries the gateway's verdict on itself (vs. the `before` the command read).
    reported: Callable[[Obj, Obj], bool]
    # True when the verdict says which generation it judged (so waiting for it has an exact end).
    exact_verdict: bool
    # For status -o wide: (Parsed, the object's namespace) -> what the routes send to (Upstreams, Services),
    # and the object -> its parents, when the object itself names them (Gloo's come from VirtualServices).
    backends: Callable[[Any, str], tuple[str, ...]]
    parents: Callable[[Obj], tuple[str, ...] | None]

    def routes_of(self, obj: Obj) -> list[Any]:
        return list((obj.get("spec") or {}).get(self.list_field) or [])

    def read(self, app: str, obj: Obj, names: AppNames | None = None) -> Parsed:
        """The app's rollout in `obj`, its routes found by `names` (flags), else as `obj` records them."""
        return self.read_named(app, obj, (names or AppNames()).over(recorded_names(obj, app)))

    def read_named(self, app: str, obj: Obj, names: AppNames) -> Parsed:
        """`read` with the names already over the object's record (AppNames.over gives the same again)."""
        return self.parse(app, self.routes_of(obj), replace(names, route_table=obj["metadata"]["name"]))


class LiveRollout(NamedTuple):
    """The app's route object as read, the rollout read from it, and the router that reads it."""

    obj: Obj
    parsed: Any  # the router's Parsed: `.state` and where the app's routes sit
    router: Router
    # The names of the app's objects: given by flags, else recorded on the route table, else derived.
    names: AppNames = AppNames()

    def deployment_of(self, version: str) -> str:
        return self.names.deployment_of(self.state.app, version)

    @property
    def state(self) -> RolloutState:
        state: RolloutState = self.parsed.state
        return state

    def render(self, desired: RolloutState) -> list[Any]:
        """The whole route list with the app's routes at `desired` (raises what the router refuses)."""
        return self.router.render(self.router.routes_of(self.obj), self.parsed, desired)


@dataclass(frozen=True)
class RouteChange:
    """The rollout before and after a change of routes, the route object written, and its verdict."""

    before: RolloutState
    after: RolloutState
    route_object: Obj
    changed: bool
    router: Router
    # The gateway's verdict on the written routes, when waited for (--gloo-timeout) and reported in time.
    verdict: Verdict = NO_VERDICT
    # The gateway's verdict as it stood before the command: on the routes someone wrote earlier.
    earlier: Verdict = NO_VERDICT
    # What the guards let through but the user should know (e.g. traffic back to a primary below its minimum).
    warnings: tuple[str, ...] = ()


class Reporter(Protocol):
    """How the routers' I/O speaks to the user (the invocation is one)."""

    @property
    def dry_run(self) -> str: ...  # "none" when writes are sent: only then is there more to look up and warn about

    def warn(self, line: str) -> None: ...
    def report(self, obj: Obj, action: str) -> None: ...  # `kind.group/name action`, as kubectl prints
    def report_deleted(self, resource: Resource, name: str | None) -> None: ...
