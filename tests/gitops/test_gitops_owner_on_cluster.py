"""`status` on a cluster names the GitOps owner of the routes (Argo CD, Flux), says that changes made on
the cluster will be reverted, and says when the live routes differ from what the owner declares."""

from __future__ import annotations

import copy
import json

from tests.gitops.golden import REPOS
from tests.gitops.test_offline_equals_cluster import NS, declared

ROUTES = ("RouteTable", "echo-routes")


def seed(api, *, route_table: dict | None = None, manager: str | None = None) -> dict:
    objects = declared(REPOS / "plain")
    for key, obj in objects.items():
        if key != ROUTES:
            api.create(obj, manager=None)
    api.set_deployment_ready(NS, "echo-v1")
    table = route_table or objects[ROUTES]
    return api.apply(table, manager=manager) if manager else api.create(table, manager=None)


def notes_of(canary) -> list[str]:
    result = canary("status", "echo", "-o", "json")
    assert result.code == 0, result.err
    return json.loads(result.out).get("notes", [])


def owned_notes(notes: list[str]) -> list[str]:
    return [n for n in notes if "managed by" in n or "live routes" in n]


def test_argo_cd_tracking_id_and_what_it_last_applied(api, canary):
    table = copy.deepcopy(declared(REPOS / "plain")[ROUTES])
    table["metadata"]["annotations"] = {
        "argocd.argoproj.io/tracking-id": "echo-prod:gateway.solo.io/RouteTable:echo/echo-routes",
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(table),
    }
    seed(api, route_table=table)
    owner = ("RouteTable echo-routes is managed by Argo CD (application echo-prod; read from the annotation "
             "argocd.argoproj.io/tracking-id): changes made on the cluster will be reverted at its next sync; "
             "change the manifests in Git (--local -f PATH)")
    assert owned_notes(notes_of(canary)) == [owner]  # live == declared: no drift

    # Someone moves the rollout on the cluster: Argo CD's self-heal will put Git's routes back.
    assert canary("header", "echo", "v2").code == 0
    drift = ("the live routes differ from what Argo CD last applied (annotation "
             "kubectl.kubernetes.io/last-applied-configuration): Git declares stable on v1, the cluster has "
             "v1, header stage=canary to v2")
    assert owned_notes(notes_of(canary)) == [owner, drift]
    assert canary("status", "echo").out.splitlines()[-2:] == [f"note: echo: {owner}", f"note: echo: {drift}"]


def test_argo_cd_label_tracking(api, canary):
    table = copy.deepcopy(declared(REPOS / "plain")[ROUTES])
    table["metadata"]["labels"]["argocd.argoproj.io/instance"] = "echo"
    seed(api, route_table=table)
    assert owned_notes(notes_of(canary)) == [
        "RouteTable echo-routes is managed by Argo CD (application echo; read from the label "
        "argocd.argoproj.io/instance): changes made on the cluster will be reverted at its next sync; "
        "change the manifests in Git (--local -f PATH)"]


def test_flux_labels_and_who_wrote_the_routes(api, canary):
    table = copy.deepcopy(declared(REPOS / "plain")[ROUTES])
    table["metadata"]["labels"].update({"kustomize.toolkit.fluxcd.io/name": "apps",
                                        "kustomize.toolkit.fluxcd.io/namespace": "flux-system"})
    seed(api, route_table=table, manager="kustomize-controller")
    owner = ("RouteTable echo-routes is managed by Flux (Kustomization flux-system/apps; read from the labels "
             "kustomize.toolkit.fluxcd.io/name and /namespace): changes made on the cluster will be reverted at "
             "its next sync; change the manifests in Git (--local -f PATH)")
    assert owned_notes(notes_of(canary)) == [owner]

    # The plugin refuses to write Flux's routes; taking them over is what Flux will revert.
    refused = canary("header", "echo", "v2")
    assert refused.code == 1 and "kustomize-controller" in refused.err
    assert canary("header", "echo", "v2", "--force-conflicts").code == 0
    assert owned_notes(notes_of(canary)) == [
        owner,
        "the live routes were written by kubectl-canary, not by Flux's kustomize-controller "
        "(metadata.managedFields): they differ from what Flux applies",
    ]


def test_no_trace_no_note(api, canary):
    seed(api)
    assert owned_notes(notes_of(canary)) == []


def test_argo_cd_on_the_gateway_api_ignores_the_defaults_the_server_fills(api, canary):
    objects = declared(REPOS / "gateway-api")
    route = objects[("HTTPRoute", "echo")]
    route["metadata"]["annotations"] = {
        "argocd.argoproj.io/tracking-id": "echo:gateway.networking.k8s.io/HTTPRoute:echo/echo",
        "kubectl.kubernetes.io/last-applied-configuration": json.dumps(route),
    }
    for obj in objects.values():
        api.create(obj, manager=None)
    api.set_deployment_ready(NS, "echo-v1")
    # The live rules carry weight 1, kind Service...: filled by the server, not a change of Git's routes.
    assert api.get("httproutes", NS, "echo")["spec"]["rules"] != route["spec"]["rules"]
    notes = [n for n in notes_of(canary) if "Argo CD" in n]
    assert len(notes) == 1 and notes[0].startswith("HTTPRoute echo is managed by Argo CD (application echo;")
    assert canary("weight", "echo", "10").code == 1  # no canary yet; header first
    assert canary("header", "echo", "v2").code == 0
    notes = [n for n in notes_of(canary) if "Argo CD" in n]
    assert notes[1] == ("the live rules differ from what Argo CD last applied (annotation "
                        "kubectl.kubernetes.io/last-applied-configuration): Git declares stable on v1, the cluster "
                        "has v1, header stage=canary to v2")
