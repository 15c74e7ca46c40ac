"""The pure transitions and argument checks of the rollout model."""

from __future__ import annotations

from fractions import Fraction

import pytest

from kubectl_canary.errors import CanaryError, UsageError
from kubectl_canary.model.rollout import (
    DEFAULT_HEADER,
    HeaderMatch,
    Phase,
    RolloutState,
    format_percent,
    parse_header,
    parse_percent,
    promote,
    rollback,
    shift_weight,
    start_canary,
    validate_version,
)

STABLE = RolloutState("echo", "v1")
HEADER = RolloutState("echo", "v1", "v2", None, (DEFAULT_HEADER,))


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("7", 7), ("100", 100), (" 50 ", 50), ("50%", 50), ("0.1", Fraction(1, 10)), ("12.125", 12.125)],
)
def test_percent_accepts_0_to_100_with_up_to_three_decimals(text, expected):
    assert parse_percent(text) == expected


@pytest.mark.parametrize("text", ["-1", "101", "100.001", "0.0001", "1e2", "", "abc", "1000", ".5"])
def test_percent_refuses_the_rest(text):
    with pytest.raises(UsageError, match="give a percentage from 0 to 100, with at most 3 decimals"):
        parse_percent(text)


@pytest.mark.parametrize(
    ("percent", "text"), [(Fraction(1, 10), "0.1"), (50, "50"), (Fraction(100, 3), "~33.333"), (0, "0")]
)
def test_format_percent_is_exact_or_says_it_rounded(percent, text):
    assert format_percent(percent) == text


@pytest.mark.parametrize("version", ["V2", "v_2", "-v2", "v2-", "", "a" * 64])
def test_version_must_be_a_dns_label(version):
    with pytest.raises(UsageError):
        validate_version("echo", version)


def test_deployment_name_length_is_checked():
    with pytest.raises(UsageError, match="exceed 63"):
        validate_version("a" * 40, "b" * 30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stage=canary", HeaderMatch("stage", "canary")),
        ("X-Canary=Yes", HeaderMatch("x-canary", "Yes")),
        ("x-beta", HeaderMatch("x-beta", None)),
    ],
)
def test_header(text, expected):
    assert parse_header(text) == expected


@pytest.mark.parametrize("text", ["=x", "a b=c", "stage="])
def test_bad_header(text):
    with pytest.raises(UsageError):
        parse_header(text)


def test_phases():
    assert STABLE.phase is Phase.STABLE
    assert HEADER.phase is Phase.HEADER
    assert shift_weight(HEADER, 0).phase is Phase.WEIGHTED


def test_canary_equal_to_primary_is_refused():
    with pytest.raises(UsageError, match="already the primary"):
        start_canary(STABLE, "v1", (DEFAULT_HEADER,))


def test_second_canary_is_refused():
    with pytest.raises(CanaryError, match="already has canary v2"):
        start_canary(HEADER, "v3", (DEFAULT_HEADER,))


def test_same_canary_updates_the_header_and_keeps_the_weight():
    weighted = shift_weight(HEADER, 30)
    again = start_canary(weighted, "v2", (HeaderMatch("x", "y"),))
    assert (again.weight, again.headers) == (Fraction(30), (HeaderMatch("x", "y"),))


@pytest.mark.parametrize("transition", [lambda s: shift_weight(s, 10), promote, rollback])
def test_no_canary_is_refused_with_next_step(transition):
    with pytest.raises(CanaryError, match=r"has no canary .* kubectl canary header echo VERSION"):
        transition(STABLE)


def test_promote_and_rollback():
    assert promote(shift_weight(HEADER, 50)) == RolloutState("echo", "v2")
    assert rollback(shift_weight(HEADER, 50)) == RolloutState("echo", "v1")
