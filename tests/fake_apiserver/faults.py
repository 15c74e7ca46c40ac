"""Fault injection: make the Nth matching request fail (a Status), stall, or lose its connection."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """What happens to a request a rule selects. Build one with the class methods."""

    kind: str  # "status" | "delay" | "drop" | "after_write_drop"
    code: int = 0
    reason: str = ""
    message: str = ""
    seconds: float = 0.0
    retry_after: int | None = None

    @classmethod
    def status(cls, code: int, reason: str = "InternalError", message: str = "injected") -> Fault:
        """Answer with a Kubernetes Status of this code instead of serving the request."""
        return cls("status", code=code, reason=reason, message=message)

    @classmethod
    def throttle(cls, retry_after: int = 1) -> Fault:
        """429 TooManyRequests with a Retry-After header, as API Priority and Fairness answers."""
        return cls("status", code=429, reason="TooManyRequests", message="Too many requests, please try again later.",
                   retry_after=retry_after)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        """Sleep, then serve the request normally (to exercise client timeouts)."""
        return cls("delay", seconds=seconds)

    @classmethod
    def drop(cls) -> Fault:
        """Close the connection without any response; the request is not served."""
        return cls("drop")

    @classmethod
    def after_write_drop(cls) -> Fault:
        """Serve the request (a write is stored), then close the connection without the response."""
        return cls("after_write_drop")


@dataclass
class FaultRule:
    fault: Fault
    method: str | None
    path_contains: str | None
    nth: int
    times: int
    seen: int = 0

    def matches(self, method: str, path: str) -> bool:
        return ((self.method is None or self.method.upper() == method)
                and (self.path_contains is None or self.path_contains in path))


class FaultPlan:
    """The injected rules. Each matching request counts for every rule it matches; the first rule whose
    window [nth, nth + times) contains the count decides the fault."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, fault: Fault, method: str | None, path_contains: str | None, nth: int, times: int) -> None:
        if nth < 1 or times < 1:
            raise ValueError("nth and times start at 1")
        with self._lock:
            self._rules.append(FaultRule(fault, method, path_contains, nth, times))

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def fault_for(self, method: str, path: str) -> Fault | None:
        chosen: Fault | None = None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                rule.seen += 1
                if chosen is None and rule.nth <= rule.seen < rule.nth + rule.times:
                    chosen = rule.fault
            self._rules = [rule for rule in self._rules if rule.seen < rule.nth + rule.times - 1]
        return chosen
