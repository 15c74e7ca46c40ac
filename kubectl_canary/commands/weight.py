"""`kubectl canary weight APP PERCENT`: phase 2, a share of all other traffic goes to the canary."""

from __future__ import annotations

import argparse
from fractions import Fraction

from kubectl_canary.commands import Command
from kubectl_canary.errors import UsageError
from kubectl_canary.kube.permissions import needs
from kubectl_canary.model.durations import parse_duration
from kubectl_canary.model.resources import DEPLOYMENTS, EVENTS, HTTP_ROUTES, NAMESPACES, ROUTE_TABLES, UPSTREAMS
from kubectl_canary.model.rollout import format_percent
from kubectl_canary.model.stepping import parse_steps, plan_steps
from kubectl_canary.model.verb_plans import weight
from kubectl_canary.workflow.gates import (
    DEFAULT_ERROR_RATE_QUERY,
    DEFAULT_P99_QUERY,
    CommandGate,
    Gate,
    PrometheusGate,
    parse_rate,
)
from kubectl_canary.workflow.invocation import Invocation
from kubectl_canary.workflow.progressive import SteppedRollout

LONG = (
    """\
Makes each of the app's routes weighted: 100-PERCENT to the primary, PERCENT to the canary.
The header routes stay, so testers keep reaching the canary. Refused while there is no canary
(run `kubectl canary header` first). Raising the weight needs the canary's Deployment
Available at its current generation with no rollout in progress (--force routes traffic
anyway); lowering it needs one available pod of the primary, and warns below its minimum.

With --step or --steps the weight moves from the live weight to PERCENT in steps, --interval
apart; the last step lands exactly on PERCENT. Between steps the gates run (--check commands,
Prometheus thresholds); when one fails, --on-failure abort (default) sends all traffic back to
the primary and keeps the canary Deployment for inspection, --on-failure pause returns to the
last good step. Ctrl-C or a lost connection leaves the routes at the last applied step; running
the same command again resumes from the live weight.

Prometheus queries read Envoy's statistics of the app's Upstream (Envoy cluster
"$upstream_$upstream_namespace"); Envoy does not split them by subset, so the defaults see
primary and canary together. Override them with --query-error-rate/--query-p99; variables:
$app $namespace $primary $canary $weight $upstream $upstream_namespace $cluster $window.
Default error rate (a fraction):
  """
    + DEFAULT_ERROR_RATE_QUERY
    + """
Default p99 latency (milliseconds):
  """
    + DEFAULT_P99_QUERY
)

EXAMPLES = """\
  # Send half of the traffic to the canary
  kubectl canary weight echo 50 -n echo

  # 10% more every 30s up to 100%, stopping if the smoke test fails
  kubectl canary weight echo 100 --step 10 --interval 30s --check './smoke.sh'

  # Explicit steps, gated on Envoy's error rate and p99 latency
  kubectl canary weight echo 100 --steps 1,5,25,50 --interval 1m \\
      --prometheus http://prometheus:9090 --max-error-rate 1% --max-p99 500ms"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP")
    parser.add_argument(
        "percent", metavar="PERCENT", help="the canary's share in percent, 0 to 100, at most 3 decimals (e.g. 0.5)"
    )
    parser.add_argument("--force", action="store_true", help="route to the canary even if it is not ready")
    stepping = parser.add_argument_group("stepping and gates")
    how = stepping.add_mutually_exclusive_group()
    how.add_argument("--step", type=int, help="move the weight by this many percent per step")
    how.add_argument("--steps", help="the weights to stop at, e.g. 1,5,25,50,100")
    stepping.add_argument("--interval", default="1m", help="time between steps (default 1m)")
    stepping.add_argument(
        "--check",
        action="append",
        default=[],
        metavar="CMD",
        help="shell command run between steps; exit 0 continues (repeatable)",
    )
    stepping.add_argument("--check-timeout", default="5m", help="how long a --check may run (default 5m)")
    stepping.add_argument("--prometheus", metavar="URL", help="Prometheus server for the metric gates")
    stepping.add_argument("--max-error-rate", metavar="RATE", help="highest 5xx share allowed, e.g. 1%%")
    stepping.add_argument("--max-p99", metavar="DURATION", help="highest p99 latency allowed, e.g. 500ms")
    stepping.add_argument(
        "--query-error-rate",
        default=DEFAULT_ERROR_RATE_QUERY,
        metavar="PROMQL",
        help="PromQL for the error rate (a fraction)",
    )
    stepping.add_argument(
        "--query-p99", default=DEFAULT_P99_QUERY, metavar="PROMQL", help="PromQL for the p99 latency (milliseconds)"
    )
    stepping.add_argument(
        "--on-failure",
        choices=("abort", "pause"),
        default="abort",
        help="when a gate fails: all traffic back to the primary (abort), or the last good step",
    )


def _gates(args: argparse.Namespace) -> list[Gate]:
    gates: list[Gate] = [CommandGate(c, parse_duration(args.check_timeout, "--check-timeout")) for c in args.check]
    if (args.max_error_rate or args.max_p99) and not args.prometheus:
        raise UsageError("--max-error-rate and --max-p99 need --prometheus URL")
    if args.prometheus and not (args.max_error_rate or args.max_p99):
        raise UsageError("--prometheus needs a threshold: --max-error-rate and/or --max-p99")
    if args.max_error_rate:
        limit = parse_rate(args.max_error_rate)
        gates.append(PrometheusGate(args.prometheus, args.query_error_rate, limit, "error rate", "%"))
    if args.max_p99:
        limit = parse_duration(args.max_p99, "--max-p99") * 1000
        gates.append(PrometheusGate(args.prometheus, args.query_p99, limit, "p99 latency", "ms"))
    return gates


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    plan = weight(args)
    app, percent = plan.app, plan.percent
    assert percent is not None  # weight's plan always has one
    stepped = args.step is not None or args.steps is not None
    steps = parse_steps(args.steps) if args.steps is not None else None
    gates = _gates(args)
    interval = parse_duration(args.interval, "--interval", allow_zero=True)
    if gates and not stepped:
        raise UsageError("gates run between steps: add --step N or --steps LIST")
    namespace = invocation.namespace
    first_read = invocation.read_rollout(app)
    plan.move(first_read.state)  # no canary: refuse before anything else
    current = first_read.state.weight or Fraction(0)
    weights = (plan_steps(current, percent, step=args.step, steps=steps) if stepped else []) or [percent]

    rollout = SteppedRollout(
        invocation,
        namespace,
        app,
        gates,
        interval,
        on_failure=args.on_failure,
        force=plan.force,
    )
    after = rollout.run(weights, first_read).after
    invocation.say(
        f"{app}: {format_percent(100 - percent)}% to {after.primary}, {format_percent(percent)}% to {after.canary}"
    )
    invocation.print_written()
    return 0


COMMAND = Command(
    name="weight",
    short="Phase 2: send PERCENT of the traffic without the header to the canary",
    long=LONG,
    examples=EXAMPLES,
    mutating=True,
    add_arguments=add_arguments,
    run=run,
    permissions=(
        needs(EVENTS, "create"),
        needs(ROUTE_TABLES, "get", "list", "patch", "watch"),  # list: an app recorded on a shared table
        needs(HTTP_ROUTES, "get", "list", "patch", "watch"),
        needs(DEPLOYMENTS, "get"),
        needs(UPSTREAMS, "delete"),  # a failed gate ends shadowing with the rollout
        needs(NAMESPACES, "get", cluster_wide=True),
    ),
)
