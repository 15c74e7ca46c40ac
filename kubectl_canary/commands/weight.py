"""`kubectl canary weight APP PERCENT`: phase 2, a share of all other traffic goes to the canary."""

from __future__ import annotations

import argparse

from kubectl_canary.cluster import DEPLOYMENTS, EVENTS, NAMESPACES, ROUTE_TABLES
from kubectl_canary.commands import Command
from kubectl_canary.invocation import Invocation
from kubectl_canary.permissions import needs
from kubectl_canary.rollout import RolloutState, parse_percent, shift_weight, validate_name
from kubectl_canary.route_updates import require_ready, update_routes

LONG = """\
Makes the primary route weighted: 100-PERCENT to the primary, PERCENT to the canary. The
header route stays, so testers keep reaching the canary. Refused while there is no canary
(run `kubectl canary header` first) and, when PERCENT > 0, while the canary Deployment has
fewer ready replicas than desired: --force routes traffic anyway."""

EXAMPLES = """\
  # Send half of the traffic to the canary
  kubectl canary weight echo 50 -n echo

  # Back to header-only testing, keeping the weighted route at 0%
  kubectl canary weight echo 0"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP")
    parser.add_argument("percent", metavar="PERCENT", help="the canary's share, a whole number from 0 to 100")
    parser.add_argument("--force", action="store_true", help="route to the canary even if it is not ready")


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    app = validate_name(args.app, "app name")
    percent = parse_percent(args.percent)
    namespace = invocation.namespace
    cluster = invocation.cluster()

    def plan(live: RolloutState) -> RolloutState:
        desired = shift_weight(live, percent)
        if desired.canary_receives_traffic and desired.canary is not None:
            require_ready(cluster, namespace, app, desired.canary, force=args.force)
        return desired

    change = update_routes(
        cluster, namespace, app, plan, force_conflicts=args.force_conflicts, gloo_timeout=args.gloo_timeout
    )
    invocation.report_routes(change)
    invocation.record_change(change, "CanaryWeight")
    after = change.after
    invocation.say(f"{app}: {100 - percent}% to {after.primary}, {percent}% to {after.canary}")
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
        needs(ROUTE_TABLES, "get", "patch", "watch"),
        needs(DEPLOYMENTS, "get"),
        needs(NAMESPACES, "get", cluster_wide=True),
    ),
)
