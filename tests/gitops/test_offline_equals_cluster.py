"""The same phases run offline on files and on the fake cluster end with the same objects."""

from __future__ import annotations

import pytest

from kubectl_canary.manifest_files import load
from tests.gitops.golden import REPOS, checkout, run

KINDS = {"Deployment": "deployments", "Service": "services", "Upstream": "upstreams", "RouteTable": "routetables",
         "HTTPRoute": "httproutes"}
NS = "echo"


def declared(root) -> dict[tuple[str, str], dict]:
    return {(o.obj["kind"], o.obj["metadata"]["name"]): o.obj for o in load(root).objects if o.obj["kind"] in KINDS}


def live(api) -> dict[tuple[str, str], dict]:
    return {(kind, o["metadata"]["name"]): o for kind, plural in KINDS.items() for o in api.list(plural, NS)}


def assert_same_objects(files: dict, cluster: dict) -> None:
    assert sorted(files) == sorted(cluster)
    for key, obj in files.items():
        on_cluster = cluster[key]
        for field in ("labels", "annotations"):
            assert obj["metadata"].get(field) == on_cluster["metadata"].get(field), (key, field)
        assert obj["spec"] == on_cluster["spec"], key


@pytest.mark.parametrize("phases", [
    [["header", "echo", "v2"], ["weight", "echo", "10"], ["weight", "echo", "50"], ["finish", "echo"]],
    [["header", "echo", "v2", "--header", "x-canary=yes"], ["weight", "echo", "25"], ["abort", "echo"]],
    [["header", "echo", "v2"], ["shadow", "echo", "v2", "--percent", "10"], ["shadow", "echo", "--off"]],
])
def test_offline_and_cluster_end_with_the_same_objects(api, canary, tmp_path, phases):
    repo = checkout("plain", tmp_path)
    for obj in declared(REPOS / "plain").values():
        api.create(obj, manager=None)
    for args in phases:
        offline = run(*args, "--local", "-f", str(repo))
        assert offline.code == 0, offline.err
        for name in ("echo-v1", "echo-v2"):
            if api.get("deployments", NS, name) is not None:
                api.set_deployment_ready(NS, name)
        online = canary(*args)
        assert online.code == 0, online.err
        assert_same_objects(declared(repo), live(api))
