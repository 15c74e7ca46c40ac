"""The request a model routes, and its answer: where the request goes and why. Pure data."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any


@dataclass(frozen=True)
class Request:
    """One HTTP request as the routing rules see it: header names are compared case-insensitively by the
    models (RFC 7230), query parameter names exactly."""

    path: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.path, self.method, tuple(sorted(self.headers.items())), tuple(sorted(self.query.items()))))

    def __str__(self) -> str:
        """`GET /echo/a?debug=1 stage: canary`: the request line, then each header."""
        query = "&".join(f"{k}={v}" if v else k for k, v in self.query.items())
        line = f"{self.method} {self.path}" + (f"?{query}" if query else "")
        return ", ".join([line, *(f"{name}: {value}" for name, value in self.headers.items())])

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "headers": dict(self.headers), "query": dict(self.query)}


def canonical(value: Any) -> str:
    """A destination (or options) as a comparable key: two outcomes are equal when these are."""
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class Outcome:
    """Where a request goes: the route's options, and each destination (with its per-destination
    options, as a canonical key) with its share; or an action that is not a route to backends; or
    nothing (404). Two requests that go to the same place have equal outcomes."""

    route_options: str = ""
    destinations: tuple[tuple[str, Fraction], ...] = ()
    other: str = ""

    def shares(self) -> dict[str, Fraction]:
        return dict(self.destinations)


NO_ROUTE = Outcome(other="no route: 404")


@dataclass(frozen=True)
class PassedOver:
    """A route (Gloo) or rule (Gateway API) the request did not take, and why."""

    route: str  # as messages name it: its name, else `#N (unnamed)`
    reason: str


@dataclass(frozen=True)
class Decision:
    """The route or rule that takes a request, where it sends it, and every route the request passed over.

    `destinations` are the backends as the route spells them (a Gloo destination, a Gateway API
    backendRef), each with its share of the requests; `outcome` is the same answer as a comparable key.
    `route` is None when nothing matches (404).
    """

    request: Request
    outcome: Outcome
    route: str | None = None
    index: int | None = None  # the position of the route (the rule) in the list the model was given
    matched: str = ""  # the matcher (match) that took the request, described
    destinations: tuple[tuple[Mapping[str, Any], Fraction], ...] = ()
    passed_over: tuple[PassedOver, ...] = ()
    precedence: str = ""  # Gateway API: the winning match's precedence, described

    @property
    def answer(self) -> str:
        """What happens to the request when it is not sent to backends: `no route: 404`, a redirect..."""
        return self.outcome.other

