"""Which VirtualServices route to a RouteTable."""

from __future__ import annotations

import pytest

from kubectl_canary.routers.gloo_delegation import Delegation, delegation_notes, delegations_to

TABLE = {"metadata": {"name": "echo-routes", "namespace": "echo", "labels": {"apiGroup": "example"}}}


def vs(action: dict, namespace: str = "gloo-system") -> dict:
    return {
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {"virtualHost": {"routes": [{"matchers": [{"prefix": "/"}], "delegateAction": action}]}},
    }


@pytest.mark.parametrize(
    ("action", "namespace", "expected"),
    [
        ({"selector": {"labels": {"apiGroup": "example"}, "namespaces": ["*"]}}, "gloo-system", "selector"),
        ({"selector": {"labels": {"apiGroup": "example"}, "namespaces": ["echo"]}}, "gloo-system", "selector"),
        ({"selector": {"labels": {"apiGroup": "example"}}}, "echo", "selector"),  # default: the VS's namespace
        ({"selector": {"labels": {"apiGroup": "example"}}}, "gloo-system", None),
        ({"selector": {"labels": {"apiGroup": "other"}, "namespaces": ["*"]}}, "gloo-system", None),
        (
            {
                "selector": {
                    "namespaces": ["*"],
                    "expressions": [{"key": "apiGroup", "operator": "In", "values": ["example"]}],
                }
            },
            "gloo-system",
            "selector",
        ),
        (
            {"selector": {"namespaces": ["*"], "expressions": [{"key": "apiGroup", "operator": "DoesNotExist"}]}},
            "gloo-system",
            None,
        ),
        ({"ref": {"name": "echo-routes", "namespace": "echo"}}, "gloo-system", "ref"),
        ({"name": "echo-routes", "namespace": "echo"}, "gloo-system", "ref"),  # the older inline form
        ({"ref": {"name": "echo-routes"}}, "gloo-system", None),  # namespace defaults to the VS's
        ({"ref": {"name": "other-routes", "namespace": "echo"}}, "gloo-system", None),
    ],
)
def test_delegation(action, namespace, expected):
    found = delegations_to(TABLE, [vs(action, namespace)])
    assert found == ([Delegation(f"{namespace}/default", expected)] if expected else [])


def test_notes():
    assert "traffic will not reach it" in delegation_notes(TABLE, [])[0]
    assert "by label selector" in delegation_notes(TABLE, [Delegation("gloo-system/default", "selector")])[0]
    assert delegation_notes(TABLE, [Delegation("gloo-system/default", "ref")]) == []
