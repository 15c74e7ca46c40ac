"""The names of an app init did not make: flags over the record, and the record written back (pure)."""

from __future__ import annotations

import json

import pytest

from kubectl_canary.errors import UsageError
from kubectl_canary.model.app_names import APPS_ANNOTATION, AppNames, parse_upstream, record, recorded_names


def table(name: str, apps: dict | str | None = None) -> dict:
    annotations = {} if apps is None else {APPS_ANNOTATION: apps if isinstance(apps, str) else json.dumps(apps)}
    return {"metadata": {"name": name, "namespace": "team-a", "annotations": annotations}}


CART = {"routeName": "cart", "upstream": "gloo-system/team-a-cart-80", "deployments": {"v1": "cart-stable"}}


def test_recorded_names_are_read_and_flags_win():
    recorded = recorded_names(table("team-a", {"cart": CART}), "cart")
    assert recorded == AppNames("team-a", "cart", ("gloo-system", "team-a-cart-80"), {"v1": "cart-stable"})
    flags = AppNames(upstream=("gloo-system", "other-80"), deployment="cart-main")
    merged = flags.over(recorded).with_primary("v1")
    assert merged == AppNames("team-a", "cart", ("gloo-system", "other-80"), {"v1": "cart-main"})
    assert merged.deployment_of("cart", "v1") == "cart-main"
    assert merged.deployment_of("cart", "v2") == "cart-v2"  # a canary is always APP-VERSION


@pytest.mark.parametrize("raw", ["not json", "[1]", '{"cart": 3}'])
def test_an_unreadable_record_counts_as_none(raw):
    assert recorded_names(table("team-a", raw), "cart") == AppNames()


def test_the_record_keeps_other_apps_and_only_live_versions():
    shared = table("team-a", {"search": {"upstream": "gloo-system/team-a-search-80"}})
    names = AppNames("team-a", None, ("gloo-system", "team-a-cart-80"), {"v1": "cart-stable", "v0": "old"})
    value = record(shared, "cart", names, "cart", ("v1", "v2"))
    assert json.loads(value or "") == {
        "cart": {"deployments": {"v1": "cart-stable"}, "routeName": "cart", "upstream": "gloo-system/team-a-cart-80"},
        "search": {"upstream": "gloo-system/team-a-search-80"},
    }
    assert record(table("team-a", json.loads(value or "")), "cart", names, "cart", ("v1", "v2")) is None


def test_an_app_in_its_own_table_with_derived_names_needs_no_record():
    assert record(table("echo-routes"), "echo", AppNames(), None, ("v1",)) is None
    # ... but in a shared table the record is how it is found again.
    assert json.loads(record(table("team-a"), "echo", AppNames(), None, ("v1",)) or "") == {"echo": {}}


@pytest.mark.parametrize("text, expected", [("gloo-system/team-a-echo-80", ("gloo-system", "team-a-echo-80")),
                                            ("echo", ("", "echo"))])
def test_upstream_flag(text, expected):
    assert parse_upstream(text) == expected


@pytest.mark.parametrize("text", ["a/b/c", "ns/"])
def test_bad_upstream_flag(text):
    with pytest.raises(UsageError):
        parse_upstream(text)
