"""Apply bodies keep every field the plugin applied before (server-side apply would delete the rest)."""

from __future__ import annotations

from kubectl_canary.model.managed_fields import apply_body, owners_of

LIVE = {
    "apiVersion": "gateway.solo.io/v1",
    "kind": "RouteTable",
    "metadata": {
        "name": "echo-routes",
        "namespace": "echo",
        "resourceVersion": "42",
        "labels": {"apiGroup": "example", "team": "a"},
        "managedFields": [
            {
                "manager": "kubectl-canary",
                "operation": "Apply",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {"f:apiGroup": {}}}, "f:spec": {"f:routes": {}}},
            },
            {
                "manager": "helm",
                "operation": "Update",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {"f:team": {}}}},
            },
        ],
    },
    "spec": {"routes": [{"name": "old"}]},
    "status": {"statuses": {}},
}


def test_apply_body_carries_owned_fields_and_the_change():
    body = apply_body(LIVE, "kubectl-canary", {"spec": {"routes": [{"name": "new"}]}})
    assert body == {
        "apiVersion": "gateway.solo.io/v1",
        "kind": "RouteTable",
        "metadata": {
            "name": "echo-routes",
            "namespace": "echo",
            "resourceVersion": "42",
            "labels": {"apiGroup": "example"},
        },
        "spec": {"routes": [{"name": "new"}]},
    }


def test_apply_body_for_an_object_we_never_applied():
    body = apply_body(LIVE, "someone-else", {"spec": {"routes": []}})
    assert body["spec"] == {"routes": []}
    assert "labels" not in body["metadata"]


def test_owners_of():
    assert owners_of(LIVE, ("spec", "routes")) == ["kubectl-canary"]
    assert owners_of(LIVE, ("metadata", "labels")) == ["kubectl-canary", "helm"]
    assert owners_of(LIVE, ("spec", "other")) == []
