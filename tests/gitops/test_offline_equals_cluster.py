"""The same phases run offline on files and on the fake cluster end with the same objects, for every
repository layout: plain manifests (Gloo), the Gateway API, a kustomize base behind an overlay."""

from __future__ import annotations

import copy

import pytest

from kubectl_canary.gitops.manifest_files import load
from tests.fake_apiserver.schema import apply_defaults, crd_schema
from tests.gitops.golden import REPOS, checkout, run

KINDS = {"Deployment": "deployments", "Service": "services", "Upstream": "upstreams", "RouteTable": "routetables",
         "HTTPRoute": "httproutes"}
NS = "echo"
# -f for each repository: the overlay of the kustomize one (its base holds the objects).
TARGETS = {"plain": "", "gateway-api": "", "kustomize": "overlays/prod"}


def declared(root) -> dict[tuple[str, str], dict]:
    """The objects the files declare, with the namespace kustomize would give them."""
    objects = {}
    for located in load(root).objects:
        if located.obj["kind"] in KINDS:
            obj = copy.deepcopy(located.obj)
            obj["metadata"].setdefault("namespace", located.namespace or NS)
            objects[(obj["kind"], obj["metadata"]["name"])] = obj
    return objects


def live(api) -> dict[tuple[str, str], dict]:
    return {(kind, o["metadata"]["name"]): o for kind, plural in KINDS.items() for o in api.list(plural, NS)}


def with_server_defaults(obj: dict) -> dict:
    """A custom resource as the API server stores it: the CRD's defaults filled (HTTPRoute weight 1...)."""
    group, _, version = obj["apiVersion"].rpartition("/")
    if not group or "." not in group or group == "apps":
        return obj
    stored = copy.deepcopy(obj)
    apply_defaults(crd_schema(group, version, KINDS[obj["kind"]]), stored)
    return stored


def assert_same_objects(files: dict, cluster: dict) -> None:
    assert sorted(files) == sorted(cluster)
    for key, obj in files.items():
        on_cluster = cluster[key]
        for field in ("labels", "annotations"):
            assert obj["metadata"].get(field) == on_cluster["metadata"].get(field), (key, field)
        assert with_server_defaults(obj)["spec"] == on_cluster["spec"], key


PHASES = [
    [["header", "echo", "v2"], ["weight", "echo", "10"], ["weight", "echo", "50"], ["finish", "echo"]],
    [["header", "echo", "v2", "--header", "x-canary=yes"], ["weight", "echo", "25"], ["abort", "echo"]],
    [["header", "echo", "v2"], ["shadow", "echo", "v2", "--percent", "10"], ["shadow", "echo", "--off"]],
]


@pytest.mark.parametrize("repo_name", sorted(TARGETS))
@pytest.mark.parametrize("phases", PHASES, ids=["finish", "abort", "shadow"])
def test_offline_and_cluster_end_with_the_same_objects(api, canary, tmp_path, repo_name, phases):
    repo = checkout(repo_name, tmp_path)
    target = repo / TARGETS[repo_name]
    for obj in declared(REPOS / repo_name / TARGETS[repo_name]).values():
        api.create(obj, manager=None)
    for args in phases:
        offline = run(*args, "--local", "-f", str(target))
        assert offline.code == 0, offline.err
        for name in ("echo-v1", "echo-v2"):
            if api.get("deployments", NS, name) is not None:
                api.set_deployment_ready(NS, name)
        online = canary(*args)
        assert online.code == 0, online.err
        assert_same_objects(declared(target), live(api))
