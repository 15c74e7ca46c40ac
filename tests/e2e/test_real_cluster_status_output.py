"""`status -o name` and `-o wide` against a real API server: the names feed back to the real kubectl.

Runs when KUBECTL_CANARY_E2E_KUBECONFIG names a kubeconfig (see test_real_cluster.py).
"""

from __future__ import annotations

import pytest

from tests.e2e.test_real_cluster import KUBECONFIG, gateway_api, kubectl
from tests.e2e.test_real_cluster import namespace as namespace  # the fixture: CRDs installed, a fresh name

pytestmark = pytest.mark.skipif(not KUBECONFIG, reason="KUBECTL_CANARY_E2E_KUBECONFIG is not set")
__all__ = ["gateway_api"]  # a fixture


def test_status_names_feed_back_to_kubectl(namespace, gateway_api):
    ns = ["-n", namespace]
    kubectl("canary", "init", "names", *ns)
    kubectl("canary", "init", "gwnames", "--router", "gateway-api", "--gateway", gateway_api, *ns)
    names = kubectl("canary", "status", "-o", "name", *ns, check=False)
    assert names.stdout.splitlines() == [
        "httproute.gateway.networking.k8s.io/gwnames", "routetable.gateway.solo.io/names-routes"]
    # What kubectl itself prints for the same objects, so `kubectl get $(kubectl canary status -o name)` works.
    again = kubectl("get", *names.stdout.split(), "-o", "name", *ns)
    assert again.stdout == names.stdout

    wide = kubectl("canary", "status", "-o", "wide", *ns, check=False).stdout.splitlines()
    assert wide[0].split()[-4:] == ["SHADOW", "ROUTE", "BACKENDS", "PARENTS"]
    rows = {line.split()[0]: line.split()[-3:] for line in wide[1:] if not line.startswith(("!", "note:"))}
    assert rows == {
        "gwnames": ["httproute/gwnames", "gwnames-v1", gateway_api],
        "names": ["routetable/names-routes", f"{namespace}/names", "<none>"],
    }
