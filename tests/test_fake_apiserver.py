"""The fake API server, over real HTTP: through the `kubernetes` client, raw HTTP, and the real kubectl."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes.client
import kubernetes.config
import kubernetes.watch
import pytest
import urllib3
import yaml
from kubernetes.client.exceptions import ApiException

from tests.design_routes import PHASE1, STABLE, phase2
from tests.fake_apiserver import ApiError, FakeApiServer, Fault

NAMESPACE = "echo"
RT_PATH = f"/apis/gateway.solo.io/v1/namespaces/{NAMESPACE}/routetables"
DEPLOY_PATH = f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
STALE = ('Operation cannot be fulfilled on routetables.gateway.solo.io "echo-routes": the object has been '
         "modified; please apply your changes to the latest version and try again")


def single_route(version: str, prefix: str = "/echo") -> dict[str, Any]:
    return {"matchers": [{"prefix": prefix}],
            "routeAction": {"single": {"upstream": {"name": "echo", "namespace": NAMESPACE},
                                       "subset": {"values": {"version": version}}}}}


def route_table(routes: list[dict[str, Any]] | None = None, *, name: str = "echo-routes",
                labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels or {"apiGroup": "example"}},
            "spec": {"routes": routes if routes is not None else [single_route("v1")]}}


def deployment(name: str = "echo-v1", replicas: int = 2) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app": "echo"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "echo"}},
                     "template": {"metadata": {"labels": {"app": "echo"}},
                                  "spec": {"containers": [{"name": "echo", "image": "echo:1"},
                                                          {"name": "sidecar", "image": "proxy:1"}]}}}}


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    with FakeApiServer() as api:
        api.ensure_namespace(NAMESPACE)
        yield api


@pytest.fixture
def kubeconfig(fake: FakeApiServer, tmp_path: Path) -> Path:
    return fake.write_kubeconfig(tmp_path / "kubeconfig", namespace=NAMESPACE)


def api_client(kubeconfig: Path) -> kubernetes.client.ApiClient:
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return kubernetes.client.ApiClient(configuration)


@pytest.fixture
def client(kubeconfig: Path) -> Iterator[kubernetes.client.ApiClient]:
    with api_client(kubeconfig) as configured:
        yield configured


def call(client: kubernetes.client.ApiClient, method: str, path: str, body: Any = None, *,
         content_type: str = "application/json", query: dict[str, str] | None = None,
         timeout: float | None = None) -> tuple[int, Any]:
    """One request through the kubernetes client's REST layer: (status, decoded body)."""
    try:
        data, status, _ = client.call_api(
            path, method, query_params=list((query or {}).items()),
            header_params={"Content-Type": content_type, "Accept": "application/json"}, body=body,
            response_type="object", auth_settings=["BearerToken"], _return_http_data_only=False,
            _request_timeout=timeout)
    except ApiException as error:
        return error.status, json.loads(error.body)
    return status, data


def raw(fake: FakeApiServer, method: str, path: str, body: bytes | dict[str, Any] | None = None, *,
        content_type: str = "application/json", token: str | None = "fake-token",
        timeout: float = 5) -> tuple[int, Any]:
    """One request over a fresh plain-HTTP connection: (status, decoded body)."""
    host, port = fake.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else None
    finally:
        connection.close()


def raw_text(fake: FakeApiServer, method: str, path: str) -> tuple[int, str, str]:
    """One request, its answer undecoded: (status, Content-Type, body)."""
    host, port = fake.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request(method, path, headers={"Authorization": f"Bearer {fake.token}"})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read().decode()
    finally:
        connection.close()


def status_of(body: dict[str, Any]) -> tuple[str, str]:
    assert body["kind"] == "Status" and body["status"] == "Failure", body
    return body["reason"], body["message"]


# --- create, read, metadata ------------------------------------------------------------------------------


def test_create_answers_201_and_fills_metadata(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    before = int(fake.resource_version)
    custom = kubernetes.client.CustomObjectsApi(client)
    created, status, _ = custom.create_namespaced_custom_object_with_http_info(
        "gateway.solo.io", "v1", NAMESPACE, "routetables", route_table())
    assert status == 201
    metadata = created["metadata"]
    assert re.fullmatch(r"[0-9a-f-]{36}", metadata["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", metadata["creationTimestamp"])
    assert metadata["generation"] == 1
    assert metadata["namespace"] == NAMESPACE
    assert int(metadata["resourceVersion"]) == before + 1
    assert fake.get("routetables", NAMESPACE, "echo-routes") == created

    status, body = call(client, "POST", RT_PATH, route_table())
    assert status == 409
    assert status_of(body) == ("AlreadyExists", 'routetables.gateway.solo.io "echo-routes" already exists')
    assert body["details"] == {"name": "echo-routes", "group": "gateway.solo.io", "kind": "routetables"}

    generated = route_table()
    generated["metadata"] = {"generateName": "echo-", "labels": {"apiGroup": "example"}}
    status, body = call(client, "POST", RT_PATH, generated)
    assert status == 201 and re.fullmatch(r"echo-[a-z0-9]{5}", body["metadata"]["name"])


def test_generation_moves_with_spec_only(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    fake.create(deployment())
    status, labelled = call(client, "PATCH", f"{DEPLOY_PATH}/echo-v1", {"metadata": {"labels": {"x": "y"}}},
                            content_type=MERGE)
    assert status == 200 and labelled["metadata"]["generation"] == 1
    status, scaled = call(client, "PATCH", f"{DEPLOY_PATH}/echo-v1", {"spec": {"replicas": 3}},
                          content_type=MERGE)
    assert scaled["metadata"]["generation"] == 2
    assert int(scaled["metadata"]["resourceVersion"]) > int(labelled["metadata"]["resourceVersion"])
    ready = fake.set_deployment_ready(NAMESPACE, "echo-v1")
    assert ready["metadata"]["generation"] == 2 and ready["status"]["readyReplicas"] == 3


def test_not_found_and_unknown_paths_are_status_404(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    status, body = call(client, "GET", f"{RT_PATH}/missing")
    assert status == 404
    assert status_of(body) == ("NotFound", 'routetables.gateway.solo.io "missing" not found')
    assert body["details"] == {"name": "missing", "group": "gateway.solo.io", "kind": "routetables"}
    for path in ("/apis/gateway.solo.io/v1/namespaces/echo/gateways", "/openapi/v2"):
        status, body = call(client, "GET", path)
        assert status == 404 and status_of(body)[0] == "NotFound", path
    # A group the server does not serve at all: its mux answers in plain text, as a real server does.
    assert raw_text(fake, "GET", "/apis/nope/v1/things") == (404, "text/plain; charset=utf-8", "404 page not found\n")
    elsewhere = route_table()
    elsewhere["metadata"]["namespace"] = "nowhere"
    status, body = call(client, "POST", "/apis/gateway.solo.io/v1/namespaces/nowhere/routetables", elsewhere)
    assert status == 404 and status_of(body) == ("NotFound", 'namespaces "nowhere" not found')


def test_list_has_the_list_shape(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    fake.create(route_table())
    fake.create(deployment())
    status, listed = call(client, "GET", RT_PATH)
    assert status == 200
    assert listed["kind"] == "RouteTableList" and listed["apiVersion"] == "gateway.solo.io/v1"
    assert listed["metadata"]["resourceVersion"] == fake.resource_version
    assert [item["metadata"]["name"] for item in listed["items"]] == ["echo-routes"]
    assert listed["items"][0]["kind"] == "RouteTable"
    status, everywhere = call(client, "GET", "/apis/apps/v1/deployments")
    assert everywhere["kind"] == "DeploymentList" and len(everywhere["items"]) == 1
    assert "kind" not in everywhere["items"][0]  # typed lists carry no kind in their items


# --- optimistic concurrency -------------------------------------------------------------------------------


def test_stale_resource_version_is_a_conflict_for_every_write(fake: FakeApiServer,
                                                              client: kubernetes.client.ApiClient) -> None:
    stored = fake.create(route_table())
    stale = stored["metadata"]["resourceVersion"]
    fake.replace({**stored, "metadata": {**stored["metadata"], "labels": {"apiGroup": "other"}}})
    path = f"{RT_PATH}/echo-routes"
    stale_body = route_table([single_route("v2")])
    stale_body["metadata"]["resourceVersion"] = stale
    attempts = [
        ("PUT", stale_body, "application/json", {}),
        ("PATCH", {"metadata": {"resourceVersion": stale}, "spec": {"routes": []}}, MERGE, {}),
        ("PATCH", [{"op": "replace", "path": "/metadata/resourceVersion", "value": stale}], JSON_PATCH, {}),
        ("PATCH", stale_body, APPLY, {"fieldManager": "kubectl-canary"}),
        ("PATCH", stale_body, APPLY, {"fieldManager": "kubectl-canary", "force": "true"}),
    ]
    for method, body, content_type, query in attempts:
        status, answer = call(client, method, path, body, content_type=content_type, query=query)
        assert status == 409, (method, content_type, query)
        assert status_of(answer) == ("Conflict", STALE)
        assert answer["details"] == {"name": "echo-routes", "group": "gateway.solo.io", "kind": "routetables"}
    live = fake.get("routetables", NAMESPACE, "echo-routes")
    assert live is not None and live["spec"]["routes"] == [single_route("v1")]
    fresh = {"metadata": {"resourceVersion": live["metadata"]["resourceVersion"]}, "spec": {"routes": []}}
    status, _ = call(client, "PATCH", path, fresh, content_type=MERGE)
    assert status == 200


def test_put_needs_a_resource_version_on_custom_resources_only(fake: FakeApiServer,
                                                              client: kubernetes.client.ApiClient) -> None:
    fake.create(route_table())
    fake.create(deployment())
    status, body = call(client, "PUT", f"{RT_PATH}/echo-routes", route_table([]))
    assert status == 422
    assert status_of(body) == ("Invalid", 'routetables.gateway.solo.io "echo-routes" is invalid: metadata.'
                                          "resourceVersion: Invalid value: 0x0: must be specified for an update")
    status, body = call(client, "PUT", f"{DEPLOY_PATH}/echo-v1", deployment(replicas=5))
    assert status == 200 and body["spec"]["replicas"] == 5 and body["metadata"]["generation"] == 2


def test_a_write_that_changes_nothing_keeps_the_resource_version(fake: FakeApiServer,
                                                                  client: kubernetes.client.ApiClient) -> None:
    _, first = apply(client, route_table())
    _, again = apply(client, route_table())
    _, patched = call(client, "PATCH", f"{RT_PATH}/echo-routes", {"spec": {"routes": [single_route("v1")]}},
                      content_type=MERGE, query={"fieldManager": "kubectl-canary"})
    assert first["metadata"]["resourceVersion"] == again["metadata"]["resourceVersion"]
    assert patched["metadata"] == first["metadata"]


def test_delete_answers_and_honours_preconditions(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    stored = fake.create(route_table())
    fake.create(deployment())
    status, body = call(client, "DELETE", f"{RT_PATH}/echo-routes",
                        {"preconditions": {"resourceVersion": "1"}})
    assert status == 409 and status_of(body)[0] == "Conflict"
    assert "Precondition failed: ResourceVersion in precondition: 1" in body["message"]
    status, body = call(client, "DELETE", f"{RT_PATH}/echo-routes",
                        {"preconditions": {"resourceVersion": stored["metadata"]["resourceVersion"]}})
    assert status == 200 and body["metadata"]["name"] == "echo-routes"
    assert fake.get("routetables", NAMESPACE, "echo-routes") is None
    status, body = call(client, "DELETE", f"{RT_PATH}/echo-routes")
    assert status == 404
    status, body = call(client, "DELETE", f"{DEPLOY_PATH}/echo-v1")
    assert status == 200 and body["kind"] == "Status" and body["status"] == "Success"


# --- patch types --------------------------------------------------------------------------------------------


def test_strategic_merge_is_415_for_custom_resources_and_merges_deployments(
        fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    fake.create(route_table())
    fake.create(deployment())
    status, body = call(client, "PATCH", f"{RT_PATH}/echo-routes", {"spec": {"routes": []}},
                        content_type=STRATEGIC)
    assert status == 415
    assert status_of(body) == ("UnsupportedMediaType",
                               "the body of the request was in an unknown format - accepted media types include: "
                               "application/json-patch+json, application/merge-patch+json, "
                               "application/apply-patch+yaml")
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "echo", "image": "echo:2"}]}}}}
    status, body = call(client, "PATCH", f"{DEPLOY_PATH}/echo-v1", patch, content_type=STRATEGIC)
    assert status == 200
    assert body["spec"]["template"]["spec"]["containers"] == [{"name": "echo", "image": "echo:2"},
                                                              {"name": "sidecar", "image": "proxy:1"}]
    deletion = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    status, body = call(client, "PATCH", f"{DEPLOY_PATH}/echo-v1", deletion, content_type=STRATEGIC)
    assert body["spec"]["template"]["spec"]["containers"] == [{"name": "echo", "image": "echo:2"}]


def test_json_patch_applies_and_a_failed_test_op_is_422(fake: FakeApiServer,
                                                        client: kubernetes.client.ApiClient) -> None:
    fake.create(route_table())
    path = f"{RT_PATH}/echo-routes"
    guarded = [{"op": "test", "path": "/spec/routes/0/matchers/0/prefix", "value": "/echo"},
               {"op": "add", "path": "/spec/routes/0", "value": single_route("v2")},
               {"op": "remove", "path": "/metadata/labels/apiGroup"}]
    status, body = call(client, "PATCH", path, guarded, content_type=JSON_PATCH)
    assert status == 200
    assert body["spec"]["routes"] == [single_route("v2"), single_route("v1")]
    assert "labels" not in body["metadata"] or "apiGroup" not in body["metadata"]["labels"]
    failing = [{"op": "test", "path": "/spec/routes/0/matchers/0/prefix", "value": "/other"},
               {"op": "remove", "path": "/spec/routes/0"}]
    status, body = call(client, "PATCH", path, failing, content_type=JSON_PATCH)
    assert status == 422 and status_of(body)[0] == "Invalid"
    assert "testing value /spec/routes/0/matchers/0/prefix failed" in json.dumps(body)
    live = fake.get("routetables", NAMESPACE, "echo-routes")
    assert live is not None and len(live["spec"]["routes"]) == 2


def test_merge_patch_follows_rfc_7386(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    fake.create(route_table(labels={"apiGroup": "example", "team": "a"}))
    status, body = call(client, "PATCH", f"{RT_PATH}/echo-routes",
                        {"metadata": {"labels": {"team": None, "tier": "b"}}, "spec": {"routes": []}},
                        content_type=MERGE)
    assert status == 200
    assert body["metadata"]["labels"] == {"apiGroup": "example", "tier": "b"}
    assert body["spec"]["routes"] == []


# --- server-side apply --------------------------------------------------------------------------------------


def apply(client: kubernetes.client.ApiClient, body: dict[str, Any], manager: str | None = "kubectl-canary",
          **query: str) -> tuple[int, Any]:
    if manager is not None:
        query["fieldManager"] = manager
    name = body["metadata"]["name"]
    return call(client, "PATCH", f"{RT_PATH}/{name}", body, content_type=APPLY, query=query)


def managers(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(entry["manager"], entry["operation"]): entry["fieldsV1"] for entry in obj["metadata"]["managedFields"]}


def test_apply_creates_then_updates_and_needs_a_field_manager(fake: FakeApiServer,
                                                              client: kubernetes.client.ApiClient) -> None:
    status, body = apply(client, route_table(), manager=None)
    assert status == 400 and status_of(body)[0] == "BadRequest" and "fieldManager" in body["message"]
    assert fake.get("routetables", NAMESPACE, "echo-routes") is None
    status, created = apply(client, route_table())
    assert status == 201
    assert managers(created) == {("kubectl-canary", "Apply"): {
        "f:metadata": {"f:labels": {"f:apiGroup": {}}}, "f:spec": {"f:routes": {}}}}
    entry = created["metadata"]["managedFields"][0]
    assert entry["apiVersion"] == "gateway.solo.io/v1" and entry["fieldsType"] == "FieldsV1"
    status, updated = apply(client, route_table([single_route("v2")]))
    assert status == 200 and updated["spec"]["routes"] == [single_route("v2")]


def test_apply_accepts_a_yaml_body(fake: FakeApiServer) -> None:
    text = yaml.safe_dump(route_table()).encode()
    status, body = raw(fake, "PATCH", f"{RT_PATH}/echo-routes?fieldManager=kubectl-canary", text,
                       content_type=APPLY)
    assert status == 201 and body["spec"]["routes"] == [single_route("v1")]


def test_apply_replaces_lists_whole(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    apply(client, route_table([single_route("v2", "/echo/a"), single_route("v1")]))
    status, body = apply(client, route_table([single_route("v3")]))
    assert status == 200 and body["spec"]["routes"] == [single_route("v3")]


def test_apply_conflicts_name_the_other_manager_and_force_takes_over(fake: FakeApiServer,
                                                                     client: kubernetes.client.ApiClient) -> None:
    fake.apply(route_table(), manager="helm")
    status, body = apply(client, route_table([single_route("v2")]))
    assert status == 409
    assert status_of(body) == ("Conflict", 'Apply failed with 1 conflict: conflict with "helm": .spec.routes')
    assert body["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "helm"', "field": ".spec.routes"}]

    status, shared = apply(client, route_table())  # the same values: shared ownership, no conflict
    assert status == 200
    assert managers(shared)[("helm", "Apply")] == managers(shared)[("kubectl-canary", "Apply")]

    status, forced = apply(client, route_table([single_route("v2")]), force="true")
    assert status == 200 and forced["spec"]["routes"] == [single_route("v2")]
    assert managers(forced)[("helm", "Apply")] == {"f:metadata": {"f:labels": {"f:apiGroup": {}}}}
    assert managers(forced)[("kubectl-canary", "Apply")]["f:spec"] == {"f:routes": {}}


def test_owning_an_empty_map_is_not_owning_what_goes_into_it(fake: FakeApiServer,
                                                              client: kubernetes.client.ApiClient) -> None:
    empty = route_table()
    empty["spec"] = {}
    fake.create(empty, manager="kubectl-create")
    status, body = apply(client, route_table())
    assert status == 200, body
    assert body["spec"]["routes"] == [single_route("v1")]


def test_apply_conflict_with_update_managers_and_several_fields(fake: FakeApiServer,
                                                                client: kubernetes.client.ApiClient) -> None:
    fake.create(route_table(), manager="kubectl-edit")
    status, body = apply(client, route_table([single_route("v2")], labels={"apiGroup": "other"}))
    assert status == 409
    assert re.fullmatch(r'Apply failed with 2 conflicts: conflicts with "kubectl-edit" using gateway.solo.io/v1 at '
                        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ:\n- \.metadata\.labels\.apiGroup\n- \.spec\.routes",
                        body["message"]), body["message"]
    assert [cause["field"] for cause in body["details"]["causes"]] == [".metadata.labels.apiGroup", ".spec.routes"]


def test_update_takes_the_fields_it_changes(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    fake.apply(route_table(), manager="helm")
    status, body = call(client, "PATCH", f"{RT_PATH}/echo-routes", {"spec": {"routes": []}}, content_type=MERGE,
                        query={"fieldManager": "kubectl-canary"})
    assert status == 200
    owners = managers(body)
    assert owners[("kubectl-canary", "Update")] == {"f:spec": {"f:routes": {}}}
    assert owners[("helm", "Apply")] == {"f:metadata": {"f:labels": {"f:apiGroup": {}}}}
    # An apply by helm now conflicts with the Update owner.
    status, body = call(client, "PATCH", f"{RT_PATH}/echo-routes", route_table(), content_type=APPLY,
                        query={"fieldManager": "helm"})
    assert status == 409 and 'conflict with "kubectl-canary" using gateway.solo.io/v1 at' in body["message"]


def test_apply_removes_fields_the_manager_stops_applying(fake: FakeApiServer,
                                                          client: kubernetes.client.ApiClient) -> None:
    apply(client, route_table(labels={"apiGroup": "example", "canary": "echo"}))
    status, body = apply(client, route_table())
    assert status == 200 and body["metadata"]["labels"] == {"apiGroup": "example"}


def test_dry_run_stores_nothing(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    fake.create(deployment())
    before = fake.resource_version
    status, body = call(client, "POST", RT_PATH, route_table(), query={"dryRun": "All"})
    assert status == 201 and body["metadata"]["name"] == "echo-routes"
    assert fake.get("routetables", NAMESPACE, "echo-routes") is None
    status, body = apply(client, route_table(), dryRun="All")
    assert status == 201 and fake.get("routetables", NAMESPACE, "echo-routes") is None
    status, body = call(client, "PATCH", f"{DEPLOY_PATH}/echo-v1", {"spec": {"replicas": 5}}, content_type=MERGE,
                        query={"dryRun": "All"})
    assert status == 200 and body["spec"]["replicas"] == 5
    status, body = call(client, "DELETE", f"{DEPLOY_PATH}/echo-v1", query={"dryRun": "All"})
    assert status == 200
    live = fake.get("deployments", NAMESPACE, "echo-v1")
    assert live is not None and live["spec"]["replicas"] == 2
    assert fake.resource_version == before


# --- selectors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("selector", "expected"), [
    ("app=echo", ["echo-v1", "echo-v2"]),
    ("app==echo,version=v2", ["echo-v2"]),
    ("version!=v1", ["echo-v2", "other"]),
    ("version in (v1, v2)", ["echo-v1", "echo-v2"]),
    ("version notin (v1)", ["echo-v2", "other"]),
    ("canary", ["echo-v2"]),
    ("!canary", ["echo-v1", "other"]),
    ("app=echo,!canary", ["echo-v1"]),
])
def test_label_selectors(fake: FakeApiServer, client: kubernetes.client.ApiClient, selector: str,
                         expected: list[str]) -> None:
    for name, labels in (("echo-v1", {"app": "echo", "version": "v1"}),
                         ("echo-v2", {"app": "echo", "version": "v2", "canary": "true"}),
                         ("other", {"app": "other"})):
        fake.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NAMESPACE,
                                                                        "labels": labels}})
    status, body = call(client, "GET", f"/api/v1/namespaces/{NAMESPACE}/services",
                        query={"labelSelector": selector})
    assert status == 200
    assert [item["metadata"]["name"] for item in body["items"]] == expected


def test_field_selector_and_bad_selectors(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    fake.create(route_table())
    fake.create(route_table(name="other-routes"))
    status, body = call(client, "GET", RT_PATH, query={"fieldSelector": "metadata.name=other-routes"})
    assert [item["metadata"]["name"] for item in body["items"]] == ["other-routes"]
    for query in ({"labelSelector": "app in v1"}, {"fieldSelector": "spec.x=1"}):
        status, body = call(client, "GET", RT_PATH, query=query)
        assert status == 400 and status_of(body)[0] == "BadRequest", query


# --- watch --------------------------------------------------------------------------------------------------


def test_watch_replays_events_after_a_resource_version(fake: FakeApiServer,
                                                       client: kubernetes.client.ApiClient) -> None:
    since = fake.resource_version
    stored = fake.create(route_table())
    fake.replace({**stored, "spec": {"routes": []}})
    fake.delete("routetables", NAMESPACE, "echo-routes")
    custom = kubernetes.client.CustomObjectsApi(client)
    watcher = kubernetes.watch.Watch()
    seen = []
    for event in watcher.stream(custom.list_namespaced_custom_object, "gateway.solo.io", "v1", NAMESPACE,
                                "routetables", resource_version=since, timeout_seconds=5):
        seen.append((event["type"], event["object"]["spec"]["routes"]))
        if len(seen) == 3:
            watcher.stop()
    assert seen == [("ADDED", [single_route("v1")]), ("MODIFIED", []), ("DELETED", [])]


def test_watch_streams_live_events_through_selectors(fake: FakeApiServer) -> None:
    fake.create(route_table())
    pool = urllib3.PoolManager()
    response = pool.request("GET", f"{fake.url}{RT_PATH}?watch=true&labelSelector=apiGroup%3Dexample",
                            headers={"Authorization": "Bearer fake-token"}, preload_content=False)
    assert response.status == 200
    lines = (json.loads(line) for chunk in response.stream() for line in chunk.decode().splitlines() if line)
    first = next(lines)
    assert (first["type"], first["object"]["metadata"]["name"]) == ("ADDED", "echo-routes")
    stored = fake.get("routetables", NAMESPACE, "echo-routes")
    assert stored is not None
    fake.replace({**stored, "spec": {"routes": []}})
    modified = next(lines)
    assert (modified["type"], modified["object"]["spec"]["routes"]) == ("MODIFIED", [])
    relabelled = fake.get("routetables", NAMESPACE, "echo-routes")
    assert relabelled is not None
    relabelled["metadata"]["labels"] = {"apiGroup": "other"}
    fake.replace(relabelled)
    assert next(lines)["type"] == "DELETED"  # it stopped matching the selector
    response.release_conn()
    pool.clear()


def test_watch_ends_after_timeout_seconds(fake: FakeApiServer) -> None:
    started = time.monotonic()
    status, _ = 0, None
    host, port = fake.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request("GET", f"{RT_PATH}?watch=1&timeoutSeconds=1", headers={"Authorization": "Bearer fake-token"})
    response = connection.getresponse()
    status = response.status
    assert response.read() == b""  # nothing happened, and the stream ended cleanly
    connection.close()
    assert status == 200 and 0.9 < time.monotonic() - started < 3


# --- faults ---------------------------------------------------------------------------------------------------


def test_status_fault_fails_the_nth_matching_request(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    fake.create(route_table())
    fake.inject_fault(Fault.status(503, "ServiceUnavailable", "etcd is down"), method="GET",
                      path_contains="/routetables/", nth=2)
    codes = [call(client, "GET", f"{RT_PATH}/echo-routes")[0] for _ in range(3)]
    assert codes == [200, 503, 200]
    record = fake.requests[1]
    assert (record.method, record.status) == ("GET", 503)
    status, body = 0, None
    fake.inject_fault(Fault.status(500), method="GET")
    status, body = call(client, "GET", RT_PATH)
    assert status == 500 and status_of(body) == ("InternalError", "injected")


def test_delay_fault_trips_a_client_timeout(fake: FakeApiServer) -> None:
    fake.inject_fault(Fault.delay(0.6), path_contains="/routetables")
    with pytest.raises(TimeoutError):
        raw(fake, "GET", RT_PATH, timeout=0.2)
    status, _ = raw(fake, "GET", RT_PATH, timeout=2)
    assert status == 200


def test_drop_fault_closes_without_an_answer(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    fake.create(route_table())
    fake.inject_fault(Fault.drop(), method="PATCH")
    with pytest.raises(urllib3.exceptions.HTTPError):
        call(client, "PATCH", f"{RT_PATH}/echo-routes", {"spec": {"routes": []}}, content_type=MERGE)
    live = fake.get("routetables", NAMESPACE, "echo-routes")
    assert live is not None and live["spec"]["routes"] == [single_route("v1")]  # not served
    assert fake.requests[-1].status == 0
    status, _ = call(client, "PATCH", f"{RT_PATH}/echo-routes", {"spec": {"routes": []}}, content_type=MERGE)
    assert status == 200


def test_after_write_drop_stores_the_write_and_loses_the_reply(fake: FakeApiServer,
                                                               client: kubernetes.client.ApiClient) -> None:
    fake.create(route_table())
    fake.inject_fault(Fault.after_write_drop(), method="PATCH", path_contains="/routetables/echo-routes")
    with pytest.raises(urllib3.exceptions.HTTPError):
        call(client, "PATCH", f"{RT_PATH}/echo-routes", {"spec": {"routes": []}}, content_type=MERGE)
    live = fake.get("routetables", NAMESPACE, "echo-routes")
    assert live is not None and live["spec"]["routes"] == []
    assert (fake.requests[-1].method, fake.requests[-1].status) == ("PATCH", 0)


# --- schema validation ------------------------------------------------------------------------------------------



def test_schema_accepts_the_design_routes(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    for phase, routes in {"stable": STABLE, "header": PHASE1, "weight": phase2(10)}.items():
        status, body = apply(client, route_table(routes))
        assert status in (200, 201), (phase, body)
    upstream = {"apiVersion": "gloo.solo.io/v1", "kind": "Upstream",
                "metadata": {"name": "echo", "namespace": NAMESPACE},
                "spec": {"kube": {"selector": {"app": "echo"}, "serviceName": "echo", "serviceNamespace": NAMESPACE,
                                  "servicePort": 8080, "subsetSpec": {"selectors": [{"keys": ["version"]}]}}}}
    status, body = call(client, "POST", f"/apis/gloo.solo.io/v1/namespaces/{NAMESPACE}/upstreams", upstream)
    assert status == 201, body


def test_schema_rejects_unknown_fields_and_wrong_types(fake: FakeApiServer,
                                                       client: kubernetes.client.ApiClient) -> None:
    typo = route_table([{"matcher": [{"prefix": "/echo"}], "routeAction": single_route("v1")["routeAction"]}])
    status, body = call(client, "POST", RT_PATH, typo)
    assert status == 422 and status_of(body)[0] == "Invalid"
    assert body["message"].startswith('RouteTable.gateway.solo.io "echo-routes" is invalid: spec.routes[0].matcher:')
    assert body["details"]["causes"][0]["field"] == "spec.routes[0].matcher"
    status, body = call(client, "POST", RT_PATH, typo, query={"fieldValidation": "Strict"})
    assert status == 400 and body["message"] == 'strict decoding error: unknown field "spec.routes[0].matcher"'

    weighted = phase2(10)
    weighted[1]["routeAction"]["multi"]["destinations"][0]["weight"] = "ninety"
    status, body = call(client, "POST", RT_PATH, route_table(weighted))
    assert status == 422
    assert ('spec.routes[1].routeAction.multi.destinations[0].weight in body must be of type integer: "string"'
            in body["message"])
    weighted[1]["routeAction"]["multi"]["destinations"][0]["weight"] = -1
    status, body = call(client, "POST", RT_PATH, route_table(weighted))
    assert status == 422 and "should be greater than or equal to 0" in body["message"]
    assert fake.list("routetables", NAMESPACE) == []


def test_schema_defaults_are_filled_on_every_write(fake: FakeApiServer,
                                                   client: kubernetes.client.ApiClient) -> None:
    # Gloo's CRDs default `status: {statuses: {}}`; a real server fills it on create and keeps it on apply.
    status, body = apply(client, route_table(STABLE))
    assert status == 201 and body["status"] == {"statuses": {}}
    version = body["metadata"]["resourceVersion"]
    status, body = apply(client, route_table(STABLE))
    assert status == 200 and body["status"] == {"statuses": {}}
    assert body["metadata"]["resourceVersion"] == version  # a default is no change on the next write


def test_the_schemas_come_from_the_repository() -> None:
    # A plain clone validates with what it carries: no path outside tests/fake_apiserver/schemas/.
    from tests.fake_apiserver import schema

    assert str(schema.SCHEMAS) == str(Path(__file__).resolve().parent / "fake_apiserver" / "schemas")
    for key in [("gateway.solo.io", "v1", "routetables"), ("gloo.solo.io", "v1", "upstreams"),
                ("gateway.solo.io", "v1", "virtualservices")]:
        assert schema.crd_schema(*key)["type"] == "object"


# --- auth, forbid ------------------------------------------------------------------------------------------------


def test_forbid_answers_403_like_rbac(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    fake.create(route_table())
    fake.forbid("patch", "routetables")
    status, body = call(client, "PATCH", f"{RT_PATH}/echo-routes", {"spec": {"routes": []}}, content_type=MERGE)
    assert status == 403
    assert status_of(body) == ("Forbidden", 'routetables.gateway.solo.io "echo-routes" is forbidden: User "fake" '
                                            'cannot patch resource "routetables" in API group "gateway.solo.io" in '
                                            'the namespace "echo"')
    assert call(client, "GET", f"{RT_PATH}/echo-routes")[0] == 200
    fake.forbid("LIST", "deployments")
    status, body = call(client, "GET", "/apis/apps/v1/deployments")
    assert status == 403 and body["message"].endswith('in API group "apps" at the cluster scope')


def test_forbid_every_verb_of_a_resource(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    fake.create(route_table())
    fake.forbid("*", "routetables")
    for method, path in (("GET", f"{RT_PATH}/echo-routes"), ("GET", RT_PATH), ("DELETE", f"{RT_PATH}/echo-routes")):
        assert call(client, method, path)[0] == 403, (method, path)
    assert call(client, "GET", DEPLOY_PATH)[0] == 200


def test_grant_allows_only_what_the_rules_grant(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    """A user bound to a Role naming only Gloo's kinds: 403 on any HTTPRoute request, like a real server."""
    fake.create(route_table())
    fake.grant([{"apiGroups": ["gateway.solo.io"], "resources": ["routetables"], "verbs": ["get", "list"]},
                {"apiGroups": ["apps"], "resources": ["*"], "verbs": ["*"]}])
    assert call(client, "GET", f"{RT_PATH}/echo-routes")[0] == 200
    assert call(client, "GET", DEPLOY_PATH)[0] == 200
    status, body = call(client, "GET", f"/apis/gateway.networking.k8s.io/v1/namespaces/{NAMESPACE}/httproutes/echo")
    assert status == 403 and body["details"] == {"name": "echo", "group": "gateway.networking.k8s.io",
                                                 "kind": "httproutes"}
    status, body = call(client, "PATCH", f"{RT_PATH}/echo-routes", {"spec": {"routes": []}}, content_type=MERGE)
    assert status == 403 and "cannot patch resource" in body["message"]
    assert call(client, "GET", "/apis")[0] == 200  # discovery stays open
    fake.clear_forbidden()
    assert call(client, "GET", f"/apis/gateway.networking.k8s.io/v1/namespaces/{NAMESPACE}/httproutes")[0] == 200


def test_an_unserved_group_is_absent_from_discovery_and_a_plain_404(fake: FakeApiServer,
                                                                    client: kubernetes.client.ApiClient) -> None:
    """As a real server (v1.36) without the Gateway API CRDs: no Status, no details.name, text/plain."""
    fake.unserve("gateway.networking.k8s.io")
    groups = [g["name"] for g in call(client, "GET", "/apis")[1]["groups"]]
    assert "gateway.networking.k8s.io" not in groups and "gateway.solo.io" in groups
    page = (404, "text/plain; charset=utf-8", "404 page not found\n")
    for path in (f"/apis/gateway.networking.k8s.io/v1/namespaces/{NAMESPACE}/httproutes/echo",
                 f"/apis/gateway.networking.k8s.io/v1/namespaces/{NAMESPACE}/httproutes?limit=500",
                 "/apis/gateway.networking.k8s.io/v1", "/apis/gateway.networking.k8s.io"):
        assert raw_text(fake, "GET", path) == page, path
    # Authorization comes first: a forbidden request is 403 whether or not the kind is served.
    fake.forbid("get", "httproutes")
    assert call(client, "GET", f"/apis/gateway.networking.k8s.io/v1/namespaces/{NAMESPACE}/httproutes/echo")[0] == 403


def test_requests_need_the_bearer_token(fake: FakeApiServer, tmp_path: Path) -> None:
    status, body = raw(fake, "GET", RT_PATH, token=None)
    assert status == 401 and status_of(body) == ("Unauthorized", "Unauthorized")
    wrong = fake.write_kubeconfig(tmp_path / "wrong", namespace=NAMESPACE, token="wrong")
    with api_client(wrong) as client:
        assert call(client, "GET", RT_PATH)[0] == 401
    assert raw(fake, "GET", RT_PATH)[0] == 200


# --- request log, deployments, keep-alive ---------------------------------------------------------------------


def test_request_log_records_method_path_status_and_manager(fake: FakeApiServer,
                                                            client: kubernetes.client.ApiClient) -> None:
    fake.create(route_table())
    fake.clear_requests()
    call(client, "GET", f"{RT_PATH}/echo-routes")
    call(client, "PATCH", f"{RT_PATH}/echo-routes", {"spec": {"routes": []}}, content_type=MERGE,
         query={"fieldManager": "kubectl-canary"})
    call(client, "PATCH", f"{RT_PATH}/echo-routes", {"spec": {"routes": []}}, content_type=MERGE)
    get, patched, by_agent = fake.requests
    assert (get.method, get.path, get.status, get.manager) == ("GET", f"{RT_PATH}/echo-routes", 200, None)
    assert (patched.method, patched.status, patched.manager, patched.content_type) == (
        "PATCH", 200, "kubectl-canary", MERGE)
    assert patched.query == {"fieldManager": "kubectl-canary"}
    assert json.loads(patched.body) == {"spec": {"routes": []}}
    assert by_agent.manager == "OpenAPI-Generator"  # the User-Agent's product, as the real server derives it


def test_deployment_status_is_kept_on_spec_writes(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    fake.create(deployment())
    ready = fake.set_deployment_ready(NAMESPACE, "echo-v1", 1)
    assert ready["status"]["readyReplicas"] == 1 and ready["status"]["replicas"] == 2
    status, body = call(client, "PATCH", f"{DEPLOY_PATH}/echo-v1",
                        {"spec": {"replicas": 4}, "status": {"readyReplicas": 9}}, content_type=MERGE)
    assert status == 200 and body["status"]["readyReplicas"] == 1  # status is not written through the resource
    fake.set_deployment_ready(NAMESPACE, "echo-v1", 0)
    live = fake.get("deployments", NAMESPACE, "echo-v1")
    assert live is not None and "readyReplicas" not in live["status"]  # zero is omitted, as on the wire
    fake.auto_ready = True
    status, body = call(client, "PATCH", f"{DEPLOY_PATH}/echo-v1", {"spec": {"replicas": 3}}, content_type=MERGE)
    assert body["status"]["readyReplicas"] == 3 and body["status"]["observedGeneration"] == 3
    status, body = call(client, "POST", DEPLOY_PATH, deployment("echo-v2", replicas=2))
    assert status == 201 and body["status"]["availableReplicas"] == 2


def conditions(deployment_object: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in deployment_object["status"]["conditions"]}


def test_deployment_status_as_the_controller_reports_it(fake: FakeApiServer) -> None:
    """Available when availableReplicas >= replicas - maxUnavailable (25% rounded down by default, resolved
    with maxSurge rounded up; both 0 -> 1), Progressing with the controller's reasons, observedGeneration."""
    fake.create(deployment("two", replicas=2))
    one_of_two = fake.set_deployment_ready(NAMESPACE, "two", 1)
    assert {k: v for k, v in one_of_two["status"].items() if k != "conditions"} == {
        "observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 1, "availableReplicas": 1,
        "unavailableReplicas": 1}
    assert conditions(one_of_two) == {"Available": ("False", "MinimumReplicasUnavailable"),
                                      "Progressing": ("True", "ReplicaSetUpdated")}
    done = fake.set_deployment_ready(NAMESPACE, "two")
    assert conditions(done) == {"Available": ("True", "MinimumReplicasAvailable"),
                                "Progressing": ("True", "NewReplicaSetAvailable")}
    assert done["status"]["conditions"][1]["message"].startswith('ReplicaSet "two-')
    # A rolling update: one new pod starting, the two old ones still serving.
    rolling = fake.set_deployment_status(NAMESPACE, "two", updated=1, ready=0, old=2)
    assert (rolling["status"]["replicas"], rolling["status"]["updatedReplicas"],
            rolling["status"]["availableReplicas"]) == (3, 1, 2)
    assert conditions(rolling) == {"Available": ("True", "MinimumReplicasAvailable"),
                                   "Progressing": ("True", "ReplicaSetUpdated")}
    stuck = fake.set_deployment_status(NAMESPACE, "two", updated=1, ready=0, old=2, stuck=True)
    assert conditions(stuck)["Progressing"] == ("False", "ProgressDeadlineExceeded")
    unobserved = fake.set_deployment_status(NAMESPACE, "two", observed=False)
    assert unobserved["status"].get("observedGeneration", 0) == unobserved["metadata"]["generation"] - 1

    def available_with(ready: int, replicas: int, strategy: dict[str, Any] | None = None) -> bool:
        body = deployment("d", replicas=replicas)
        if strategy is not None:
            body["spec"]["strategy"] = strategy
        fake.delete("deployments", NAMESPACE, "d")
        fake.create(body)
        return conditions(fake.set_deployment_ready(NAMESPACE, "d", ready))["Available"][0] == "True"

    assert available_with(3, 4) and not available_with(2, 4)  # 25% of 4: one may be missing
    assert available_with(7, 10, {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "33%"}})
    assert not available_with(6, 10, {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "33%"}})
    assert not available_with(3, 4, {"type": "Recreate"})  # Recreate: every replica
    # maxSurge 0 and 10% of 2 rounded down to 0: the controller allows one unavailable anyway.
    assert available_with(1, 2, {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "10%"}})


def test_direct_methods_raise_status_errors(fake: FakeApiServer) -> None:
    fake.create(route_table())
    with pytest.raises(ApiError) as raised:
        fake.create(route_table())
    assert raised.value.code == 409 and raised.value.reason == "AlreadyExists"
    assert fake.delete("routetables", NAMESPACE, "echo-routes") is not None
    assert fake.delete("routetables", NAMESPACE, "echo-routes") is None


def test_keep_alive_requests_do_not_stall(fake: FakeApiServer) -> None:
    host, port = fake.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    started = time.monotonic()
    for _ in range(40):
        connection.request("PATCH", f"/api/v1/namespaces/{NAMESPACE}?fieldManager=t", body=b'{"metadata":{}}',
                           headers={"Authorization": "Bearer fake-token", "Content-Type": MERGE})
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Content-Length")
        response.read()
    connection.close()
    assert time.monotonic() - started < 1.0  # >= 1.6 s without TCP_NODELAY (a delayed ACK per request)


def test_concurrent_writers_get_conflicts_not_lost_updates(fake: FakeApiServer, kubeconfig: Path) -> None:
    fake.create(route_table(labels={"apiGroup": "example", "count": "0"}))
    errors: list[BaseException] = []

    def increment() -> None:
        try:
            with api_client(kubeconfig) as own:
                for _ in range(5):
                    while True:
                        _, live = call(own, "GET", f"{RT_PATH}/echo-routes")
                        count = int(live["metadata"]["labels"]["count"]) + 1
                        patch = {"metadata": {"resourceVersion": live["metadata"]["resourceVersion"],
                                              "labels": {"count": str(count)}}}
                        status, _ = call(own, "PATCH", f"{RT_PATH}/echo-routes", patch, content_type=MERGE)
                        if status == 200:
                            break
                        assert status == 409
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=increment) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert not errors
    live = fake.get("routetables", NAMESPACE, "echo-routes")
    assert live is not None and live["metadata"]["labels"]["count"] == "15"


# --- discovery and the real kubectl ----------------------------------------------------------------------------


def test_discovery_documents(fake: FakeApiServer, client: kubernetes.client.ApiClient) -> None:
    status, groups = call(client, "GET", "/apis")
    assert status == 200 and groups["kind"] == "APIGroupList"
    assert {group["name"] for group in groups["groups"]} == {"apps", "gloo.solo.io", "gateway.solo.io",
                                                                  "gateway.networking.k8s.io"}
    status, gateway = call(client, "GET", "/apis/gateway.solo.io/v1")
    by_name = {resource["name"]: resource for resource in gateway["resources"]}
    assert by_name["routetables"]["kind"] == "RouteTable" and by_name["routetables"]["namespaced"] is True
    assert "rt" in by_name["routetables"]["shortNames"] and "vs" in by_name["virtualservices"]["shortNames"]
    assert "patch" in by_name["routetables"]["verbs"]
    status, core = call(client, "GET", "/api/v1")
    namespaces = next(resource for resource in core["resources"] if resource["name"] == "namespaces")
    assert namespaces["namespaced"] is False
    assert call(client, "GET", "/api")[1]["versions"] == ["v1"]


def kubectl_binary() -> str:
    beside_python = Path(sys.executable).with_name("kubectl")
    found = os.environ.get("KUBECTL") or (str(beside_python) if beside_python.exists() else shutil.which("kubectl"))
    if not found:
        pytest.fail("no kubectl: set KUBECTL or put one on PATH (scripts install it into .venv/bin)")
    return found


def run_kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [kubectl_binary(), f"--kubeconfig={kubeconfig}", f"--cache-dir={kubeconfig.parent / 'cache'}",
               "--request-timeout=10s", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def test_kubectl_gets_and_patches(fake: FakeApiServer, kubeconfig: Path) -> None:
    fake.create(route_table())
    fake.create(deployment())
    listed = run_kubectl(kubeconfig, "get", "routetables")
    assert listed.returncode == 0, listed.stderr
    assert "echo-routes" in listed.stdout
    short = run_kubectl(kubeconfig, "get", "rt", "echo-routes", "-o", "json")
    assert short.returncode == 0 and json.loads(short.stdout)["spec"]["routes"] == [single_route("v1")]
    deployments = run_kubectl(kubeconfig, "get", "deploy", "-o", "name")
    assert deployments.stdout.split() == ["deployment.apps/echo-v1"]
    fake.clear_requests()
    patched = run_kubectl(kubeconfig, "patch", "routetable", "echo-routes", "--type", "merge",
                      "-p", '{"metadata":{"labels":{"apiGroup":"canary"}}}')
    assert patched.returncode == 0, patched.stderr
    assert "routetable.gateway.solo.io/echo-routes patched" in patched.stdout
    live = fake.get("routetables", NAMESPACE, "echo-routes")
    assert live is not None and live["metadata"]["labels"] == {"apiGroup": "canary"}
    patch_record = next(record for record in fake.requests if record.method == "PATCH")
    assert (patch_record.manager, patch_record.content_type, patch_record.status) == ("kubectl-patch", MERGE, 200)
    strategic = run_kubectl(kubeconfig, "patch", "routetable", "echo-routes", "-p", '{"spec":{"routes":[]}}')
    assert strategic.returncode != 0 and "unknown format" in strategic.stderr + strategic.stdout


def test_kubectl_server_side_apply_conflict(fake: FakeApiServer, kubeconfig: Path, tmp_path: Path) -> None:
    fake.apply(route_table(), manager="helm")
    manifest = tmp_path / "rt.yaml"
    manifest.write_text(yaml.safe_dump(route_table([single_route("v2")])))
    # --validate=false: the fake serves no /openapi, which kubectl's own schema validation needs.
    refused = run_kubectl(kubeconfig, "apply", "--server-side", "--validate=false", "--field-manager=kubectl-canary",
                          "-f", str(manifest))
    assert refused.returncode != 0 and 'conflict with "helm": .spec.routes' in refused.stderr
    forced = run_kubectl(kubeconfig, "apply", "--server-side", "--validate=false", "--force-conflicts",
                         "--field-manager=kubectl-canary", "-f", str(manifest))
    assert forced.returncode == 0, forced.stderr
    live = fake.get("routetables", NAMESPACE, "echo-routes")
    assert live is not None and live["spec"]["routes"] == [single_route("v2")]


def test_server_stops_cleanly_with_an_open_watch() -> None:
    api = FakeApiServer().start()
    host, port = api.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(b"GET /api/v1/namespaces?watch=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer fake-token\r\n\r\n")
    assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    started = time.monotonic()
    api.stop()
    assert time.monotonic() - started < 2
    sock.settimeout(2)
    while sock.recv(4096):  # the stream is cut, not left hanging
        pass
    sock.close()



# --- stand-ins for cluster controllers ---------------------------------------------------------------------


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "condition not reached in time"
        time.sleep(0.01)
    return time.monotonic() - started


def _live(api: FakeApiServer, resource: str, name: str) -> dict[str, Any]:
    obj = api.get(resource, "echo", name)
    assert obj is not None
    return obj


def _deployment(name: str, image: str) -> dict[str, Any]:
    labels = {"app": "echo", "version": name.rsplit("-", 1)[-1]}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "echo"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "echo", "image": image}]}},
        },
    }


def test_kubelet_makes_deployments_available_after_a_delay_never_for_a_broken_image() -> None:
    from kubectl_canary.model.readiness import readiness_of
    from tests.fake_apiserver.kubelet import Kubelet

    with FakeApiServer() as api, Kubelet(api, delay=0.3, broken_images={"echo:broken"}):
        api.ensure_namespace("echo")
        api.create(_deployment("echo-v1", "echo:1"))
        api.create(_deployment("echo-v2", "echo:broken"))

        def ready(name: str) -> bool:
            return readiness_of(_live(api, "deployments", name)).takes_new_traffic

        waited = _wait_for(lambda: ready("echo-v1"))
        assert waited >= 0.2
        v2 = _live(api, "deployments", "echo-v2")
        assert v2["status"]["observedGeneration"] == v2["metadata"]["generation"]  # observed, never available
        time.sleep(0.5)
        assert not ready("echo-v2")
        # A new spec starts over: observed at once, available after the delay again.
        live = _live(api, "deployments", "echo-v1")
        live["spec"]["template"]["spec"]["containers"][0]["image"] = "echo:1.1"
        api.replace(live)
        _wait_for(lambda: not ready("echo-v1"), timeout=2)
        _wait_for(lambda: ready("echo-v1"))


def test_gloo_reporter_writes_a_verdict_only_when_it_changes() -> None:
    from tests.fake_apiserver.gloo_reporter import GlooReporter

    destination = {"upstream": {"name": "echo", "namespace": "echo"}, "subset": {"values": {"version": "v1"}}}

    def table(weights: tuple[int, int]) -> list[dict[str, Any]]:
        items = [{"destination": destination, "weight": w} for w in weights]
        action = {"multi": {"destinations": items}}
        return [{"name": "echo-primary", "matchers": [{"prefix": "/echo"}], "routeAction": action}]

    def state() -> str | None:
        statuses = (_live(api, "routetables", "echo-routes").get("status") or {}).get("statuses") or {}
        found = (statuses.get("gloo-system") or {}).get("state")
        return None if found is None else str(found)

    def set_routes(weights: tuple[int, int]) -> None:
        live = _live(api, "routetables", "echo-routes")
        live["spec"]["routes"] = table(weights)
        api.replace(live, manager="kubectl-canary")

    with FakeApiServer() as api:
        api.ensure_namespace("echo")
        api.create({"apiVersion": "gateway.solo.io/v1", "kind": "RouteTable",
                    "metadata": {"name": "echo-routes", "namespace": "echo"}, "spec": {"routes": table((1, 1))}})
        with GlooReporter(api, delay=0.1) as reporter:
            _wait_for(lambda: state() == "Accepted")
            assert reporter.writes == 1
            set_routes((9, 1))  # still Accepted: no new report, however long one waits
            time.sleep(0.4)
            assert state() == "Accepted" and reporter.writes == 1
            set_routes((0, 0))  # all-zero weights: Rejected, with a reason
            _wait_for(lambda: state() == "Rejected")
            assert reporter.writes == 2
            reason = _live(api, "routetables", "echo-routes")["status"]["statuses"]["gloo-system"]["reason"]
            assert "all weights are zero" in reason
