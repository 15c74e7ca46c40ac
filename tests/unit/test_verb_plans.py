"""Each routing verb's plan, read once from its parsed arguments: the transition and what goes with it."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kubectl_canary.arguments import build_parser
from kubectl_canary.commands.route import ROUTING_VERBS
from kubectl_canary.errors import CanaryError, UsageError
from kubectl_canary.model.rollout import DEFAULT_HEADER, HeaderMatch, RolloutState, Shadow
from kubectl_canary.model.verb_plans import PLANS, VerbPlan

STABLE = RolloutState("echo", "v1")
HEADER = RolloutState("echo", "v1", "v2", headers=(DEFAULT_HEADER,))
WEIGHTED = RolloutState("echo", "v1", "v2", Fraction(30), (DEFAULT_HEADER,))


def plan(*words: str) -> VerbPlan:
    return PLANS[words[0]](build_parser(only=words[0]).parse_args(list(words)))


def test_every_routing_verb_has_one_plan():
    assert tuple(PLANS) == ROUTING_VERBS == ("header", "weight", "finish", "abort", "shadow")


def test_header():
    header = plan("header", "echo", "v2", "--header", "x-canary=yes", "--image", "echo:2")
    assert (header.app, header.version, header.image, header.starting) == ("echo", "v2", "echo:2", frozenset({"v2"}))
    assert header.move(STABLE) == RolloutState("echo", "v1", "v2", headers=(HeaderMatch("x-canary", "yes"),))
    assert plan("header", "echo", "v2").move(STABLE) == HEADER


def test_weight():
    weight = plan("weight", "echo", "12.5", "--force")
    assert (weight.percent, weight.force) == (Fraction(25, 2), True)
    assert weight.move(HEADER) == RolloutState("echo", "v1", "v2", Fraction(25, 2), (DEFAULT_HEADER,))
    with pytest.raises(CanaryError, match="echo has no canary to shift traffic to"):
        weight.move(STABLE)


@pytest.mark.parametrize("words, after, leaving, kept", [
    (["finish", "echo"], RolloutState("echo", "v2"), "v1", frozenset()),
    (["finish", "echo", "--keep-old"], RolloutState("echo", "v2"), "v1", frozenset({"v1"})),
    (["abort", "echo"], STABLE, "v2", frozenset()),
    (["abort", "echo", "--keep-canary"], STABLE, "v2", frozenset({"v2"})),
])
def test_finish_and_abort(words, after, leaving, kept):
    ending = plan(*words)
    assert (ending.move(WEIGHTED), ending.leaving(WEIGHTED), ending.kept(WEIGHTED)) == (after, leaving, kept)


def test_shadow():
    shadow = plan("shadow", "echo", "v3", "--percent", "10")
    assert shadow.version == "v3"
    assert shadow.move(WEIGHTED).shadow == Shadow("v3", 10.0)
    off = plan("shadow", "echo", "--off")
    assert off.version is None and off.move(shadow.move(WEIGHTED)) == WEIGHTED
    with pytest.raises(UsageError, match=r"give either VERSION \(to start shadowing\) or --off"):
        plan("shadow", "echo")


def test_bad_arguments_are_refused_before_anything_is_read():
    with pytest.raises(UsageError, match="invalid app name 'Echo'"):
        plan("finish", "Echo")
    with pytest.raises(UsageError, match="invalid weight '101'"):
        plan("weight", "echo", "101")
