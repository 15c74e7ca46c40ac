"""Checks between the steps of a rollout: a shell command, or Prometheus queries on Envoy's statistics.

A gate answers (passed, detail). Prometheus is read over plain HTTP(S) with the standard library.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from fractions import Fraction
from string import Template
from typing import Protocol

from kubectl_canary.errors import UsageError
from kubectl_canary.model.rollout import format_percent

# Envoy reports per cluster; Gloo names the cluster of Upstream <name> in <namespace> "<name>_<namespace>".
# Subsets of one Upstream share that cluster, so these defaults see primary and canary together:
# override them (--query-error-rate/--query-p99) to read a canary-only signal where you have one.
DEFAULT_ERROR_RATE_QUERY = (
    'sum(rate(envoy_cluster_upstream_rq_xx{envoy_cluster_name="$cluster",envoy_response_code_class="5"}[$window]))'
    ' / sum(rate(envoy_cluster_upstream_rq_xx{envoy_cluster_name="$cluster"}[$window]))'
)
DEFAULT_P99_QUERY = (
    "histogram_quantile(0.99, sum by (le) "
    '(rate(envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="$cluster"}[$window])))'
)


@dataclass(frozen=True)
class GateContext:
    """What a gate may refer to: the query variables and the command's environment."""

    app: str
    namespace: str
    primary: str
    canary: str
    weight: Fraction
    upstream: str
    upstream_namespace: str
    window: str

    def variables(self) -> dict[str, str]:
        return {
            "app": self.app,
            "namespace": self.namespace,
            "primary": self.primary,
            "canary": self.canary,
            "version": self.canary,
            "weight": format_percent(self.weight).lstrip("~"),
            "upstream": self.upstream,
            "upstream_namespace": self.upstream_namespace,
            "cluster": f"{self.upstream}_{self.upstream_namespace}",
            "window": self.window,
        }


class Gate(Protocol):
    def check(self, context: GateContext) -> tuple[bool, str]: ...


@dataclass(frozen=True)
class CommandGate:
    """A shell command: exit 0 passes. CANARY_APP, _NAMESPACE, _VERSION, _PRIMARY, _WEIGHT are set."""

    command: str
    timeout: float

    def check(self, context: GateContext) -> tuple[bool, str]:
        import subprocess  # imported when a gate runs, not on every command's start

        env = {**os.environ, **{f"CANARY_{k.upper()}": v for k, v in context.variables().items()}}
        try:
            done = subprocess.run(
                self.command, shell=True, env=env, capture_output=True, text=True, timeout=self.timeout
            )
        except subprocess.TimeoutExpired:
            return False, f"check {self.command!r} did not finish within {self.timeout:g}s"
        if done.returncode == 0:
            return True, f"check {self.command!r} passed"
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or [""]
        return False, f"check {self.command!r} exited {done.returncode}" + (f": {last[0]}" if last[0] else "")


@dataclass(frozen=True)
class PrometheusGate:
    """One instant query whose value must not exceed `limit`."""

    url: str
    query: str
    limit: float
    what: str  # "error rate" or "p99 latency"
    unit: str  # how to print values: "%" (of a fraction) or "ms"
    timeout: float = 10.0

    def _format(self, value: float) -> str:
        return f"{value * 100:.2f}%" if self.unit == "%" else f"{value:.0f}ms"

    def check(self, context: GateContext) -> tuple[bool, str]:
        import urllib.error  # imported when a gate runs: urllib.request alone costs ~40 ms
        import urllib.parse
        import urllib.request

        query = Template(self.query).safe_substitute(context.variables())
        endpoint = f"{self.url.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': query})}"
        try:
            with urllib.request.urlopen(endpoint, timeout=self.timeout) as response:
                body = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            return False, f"cannot query Prometheus at {self.url}: {reason}"
        if body.get("status") != "success":
            return False, f"Prometheus refused the {self.what} query: {body.get('error', 'unknown error')}"
        result = (body.get("data") or {}).get("result") or []
        if not result:
            # No data is not evidence of health (no traffic, wrong labels): fail closed.
            return False, f"no data for the {self.what} query (no traffic yet, or the query matches nothing)"
        value = float(result[0]["value"][1])
        if math.isnan(value):
            return False, f"the {self.what} query gave NaN (no requests in the window)"
        verdict = value <= self.limit
        comparison = "<=" if verdict else ">"
        return verdict, f"{self.what} {self._format(value)} {comparison} {self._format(self.limit)}"


def parse_rate(text: str) -> float:
    """`1%` or `0.01` -> 0.01."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 1:
        raise UsageError(f"invalid --max-error-rate {text!r}: use a percentage such as 1% (or a fraction 0..1)")
    return value
