"""What each routing verb does to the rollout, read once from its arguments: a pure plan over RolloutState.

The cluster path (commands/), offline mode (`--local -f`: the same commands on manifest files) and
`--helm-values` (gitops/helm_values_file.py) all run the plan `PLANS[verb](args)` gives, and no mode says
again what a verb means. A plan checks the verb's arguments (a bad one is a UsageError before anything is
read) and carries, besides the transition, what the guards and the retiring of versions need to know.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

from kubectl_canary.errors import UsageError
from kubectl_canary.model.rollout import (
    DEFAULT_HEADER,
    RolloutState,
    parse_header,
    parse_percent,
    parse_shadow_percent,
    promote,
    rollback,
    shift_weight,
    start_canary,
    start_shadow,
    stop_shadow,
    validate_name,
    validate_version,
)

Move = Callable[[RolloutState], RolloutState]


def _nobody(before: RolloutState) -> str | None:
    return None


@dataclass(frozen=True)
class VerbPlan:
    """A routing verb, as its arguments state it."""

    verb: str
    app: str
    move: Move  # the transition; it refuses what makes no sense in the state it is given (rollout.py)
    version: str | None = None  # the VERSION argument: header's canary, the version shadow copies to
    percent: Fraction | None = None  # weight's PERCENT: the canary's share it moves to
    force: bool = False  # --force: past a readiness refusal (never toward a missing Deployment)
    # Versions whose Deployment the verb brings up itself (header: the canary's; with --helm-values, the chart
    # does from the values): they exist, and are not available yet.
    starting: frozenset[str] = frozenset()
    image: str | None = None  # header --image: the canary's image (default: the primary's)
    # The version that takes no traffic after the move, whose Deployment goes (finish: the old primary; abort:
    # the canary), and whether the verb keeps it (--keep-old, --keep-canary).
    leaving: Callable[[RolloutState], str | None] = field(default=_nobody)
    keep_leaving: bool = False

    def kept(self, before: RolloutState) -> frozenset[str]:
        """The versions whose Deployment stays although no route names them after the move."""
        leaving = self.leaving(before)
        return frozenset({leaving}) if leaving and self.keep_leaving else frozenset()


def to_weight(percent: Fraction) -> Move:
    """The weight verb's move (and each step of a stepped rollout's)."""
    return lambda state: shift_weight(state, percent)


def header(args: argparse.Namespace) -> VerbPlan:
    app = validate_name(args.app, "app name")
    version = validate_version(app, args.canary_version)
    headers = tuple(parse_header(h) for h in args.header) or (DEFAULT_HEADER,)
    return VerbPlan("header", app, lambda state: start_canary(state, version, headers), version,
                    starting=frozenset({version}), image=args.image)


def weight(args: argparse.Namespace) -> VerbPlan:
    app = validate_name(args.app, "app name")
    percent = parse_percent(args.percent)
    return VerbPlan("weight", app, to_weight(percent), percent=percent, force=args.force)


def finish(args: argparse.Namespace) -> VerbPlan:
    return VerbPlan("finish", validate_name(args.app, "app name"), promote, force=args.force,
                    leaving=lambda before: before.primary, keep_leaving=args.keep_old)


def abort(args: argparse.Namespace) -> VerbPlan:
    return VerbPlan("abort", validate_name(args.app, "app name"), rollback, force=args.force,
                    leaving=lambda before: before.canary, keep_leaving=args.keep_canary)


def shadow(args: argparse.Namespace) -> VerbPlan:
    app = validate_name(args.app, "app name")
    if args.off == bool(args.shadow_version):
        raise UsageError("give either VERSION (to start shadowing) or --off")
    version = validate_version(app, args.shadow_version) if args.shadow_version else None
    percent = parse_shadow_percent(args.percent)
    if version is None:
        return VerbPlan("shadow", app, stop_shadow, force=args.force)
    return VerbPlan("shadow", app, lambda state: start_shadow(state, version, percent), version, force=args.force)


# The verbs that change where traffic goes, by name: what --helm-values and `route --after` run.
PLANS: dict[str, Callable[[argparse.Namespace], VerbPlan]] = {
    "header": header,
    "weight": weight,
    "finish": finish,
    "abort": abort,
    "shadow": shadow,
}
