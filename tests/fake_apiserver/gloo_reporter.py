"""A stand-in for Gloo's reporter: a verdict on each RouteTable, written only when it changes.

Gloo (solo-kit `pkg/api/v2/reporter/reporter.go`) writes `status.statuses.<gloo-namespace>` with
`state: Accepted | Rejected` (and a reason) after translating the routes, and skips the write when the
status would not change ("skipping report ... as it has not changed"); the status carries no
observedGeneration. So after a write that stays Accepted, nothing new ever arrives.

The verdict is `judge(route_table)`: by default every table is Accepted unless a weighted route has all
its weights zero (which Gloo rejects). It is written `delay` seconds after the routes changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from tests.fake_apiserver.controllers import ControllerLoop
from tests.fake_apiserver.server import FakeApiServer

Verdict = tuple[str, str]
MANAGER = "gloo"


def default_judge(route_table: dict[str, Any]) -> Verdict:
    for route in (route_table.get("spec") or {}).get("routes") or []:
        destinations = ((route.get("routeAction") or {}).get("multi") or {}).get("destinations")
        if destinations is not None and sum(int(d.get("weight") or 0) for d in destinations) == 0:
            return "Rejected", f"route {route.get('name', '')!r}: all weights are zero"
    return "Accepted", ""


class GlooReporter(ControllerLoop):
    def __init__(self, api: FakeApiServer, *, delay: float = 0.1, namespace: str = "gloo-system",
                 judge: Callable[[dict[str, Any]], Verdict] = default_judge, interval: float = 0.02) -> None:
        super().__init__(interval)
        self.api = api
        self.delay = delay
        self.namespace = namespace
        self.judge = judge
        self.writes = 0  # status writes made, for tests that check the "only when it changes" rule
        self._seen: dict[tuple[str, str], tuple[str, float]] = {}

    def reconcile(self) -> None:
        now = time.monotonic()
        for route_table in self.api.list("routetables"):
            meta = route_table["metadata"]
            key = (meta["namespace"], meta["name"])
            spec = json.dumps(route_table.get("spec"), sort_keys=True)
            if self._seen.get(key, ("", 0.0))[0] != spec:
                self._seen[key] = (spec, now)
                continue
            if now - self._seen[key][1] < self.delay:
                continue
            state, reason = self.judge(route_table)
            current = ((route_table.get("status") or {}).get("statuses") or {}).get(self.namespace) or {}
            if (current.get("state"), current.get("reason", "")) == (state, reason):
                continue  # unchanged: Gloo skips the report
            report = {"state": state, "reportedBy": "gateway"}
            if reason:
                report["reason"] = reason
            route_table["status"] = {"statuses": {self.namespace: report}}
            self.api.replace(route_table, manager=MANAGER)
            self.writes += 1
