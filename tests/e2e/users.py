"""Users as clusters hold them: Roles written the way platform teams write them, and what a limited user's
requests meet. `kubectl auth can-i` is asked about every request the plugin made (its `-v` log), so the
plugin's verdict and the API server's RBAC are compared request by request."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.conftest import Cluster, Result

# A per-tool Role as platform teams write them for Gloo Edge (or as any Role looks that was written before
# the plugin learnt the Gateway API): Gloo's kinds and the workloads, nothing of gateway.networking.k8s.io.
GLOO_ONLY_ROLE = {
    "metadata": {"name": "gloo-canary"},
    "rules": [
        {"apiGroups": ["gateway.solo.io"], "resources": ["routetables", "virtualservices"],
         "verbs": ["get", "list", "watch", "create", "update", "patch"]},
        {"apiGroups": ["gloo.solo.io"], "resources": ["upstreams"],
         "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        {"apiGroups": ["apps"], "resources": ["deployments"],
         "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "create", "update", "patch", "delete"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "list"]},
    ],
}

# The same for a team on the Gateway API (kgateway, Envoy Gateway, ...): no Gloo kind.
GATEWAY_API_ONLY_ROLE = {
    "metadata": {"name": "gateway-api-canary"},
    "rules": [
        {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["httproutes"],
         "verbs": ["get", "list", "watch", "create", "update", "patch"]},
        {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["gateways", "referencegrants"],
         "verbs": ["get", "list"]},
        {"apiGroups": ["apps"], "resources": ["deployments"],
         "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
        {"apiGroups": [""], "resources": ["services"], "verbs": ["get", "list", "create", "update", "patch", "delete"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "list"]},
    ],
}

LOG_LINE = re.compile(r"^I (GET|POST|PUT|PATCH|DELETE) (\S+) (\d{3}) in ")


@dataclass(frozen=True)
class Request:
    """One request of the plugin's `-v` log, as RBAC sees it."""

    verbs: tuple[str, ...]
    resource: str  # plural.group, as `kubectl auth can-i` takes it
    namespace: str | None  # None: cluster scope (or every namespace)
    status: int


def requests_of(result: Result) -> list[Request]:
    found = []
    for line in result.err.splitlines():
        match = LOG_LINE.match(line)
        if not match:
            continue
        method, url, status = match.group(1), urllib.parse.urlsplit(match.group(2)), int(match.group(3))
        parts = url.path.strip("/").split("/")
        group, rest = ("", parts[2:]) if parts[0] == "api" else (parts[1], parts[3:])
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        resource, name = rest[0], (rest[1] if len(rest) > 1 else None)
        if len(rest) > 2:
            resource = f"{resource}/{rest[2]}"
        query = urllib.parse.parse_qs(url.query)
        if method == "GET":
            verbs: tuple[str, ...] = ("get",) if name else (("watch",) if query.get("watch") else ("list",))
        elif method == "PATCH":
            # A server-side apply that creates (201) needs both.
            verbs = ("patch", "create") if status == 201 else ("patch",)
        else:
            verbs = ({"POST": "create", "PUT": "update", "DELETE": "delete"}[method],)
        plural, _, sub = resource.partition("/")
        qualified = f"{plural}.{group}" if group else plural
        found.append(Request(verbs, f"{qualified}/{sub}" if sub else qualified, namespace, status))
    return found


class CanI:
    """`kubectl auth can-i`, asked once per question."""

    def __init__(self, cluster: Cluster, kubeconfig: Path) -> None:
        self.cluster, self.kubeconfig = cluster, kubeconfig
        self.answers: dict[tuple[str, str, str | None], bool] = {}

    def __call__(self, verb: str, resource: str, namespace: str | None) -> bool:
        key = (verb, resource, namespace)
        if key not in self.answers:
            where = ["-n", namespace] if namespace else ["--all-namespaces"]
            answer = self.cluster.kubectl("auth", "can-i", verb, resource, *where, kubeconfig=self.kubeconfig)
            assert answer.out.strip() in ("yes", "no"), answer
            self.answers[key] = answer.out.strip() == "yes"
        return self.answers[key]

    def agrees(self, result: Result) -> list[Request]:
        """Every request of `result` (run with -v) was refused (403) exactly when `kubectl auth can-i` says
        no to one of its verbs. Returns the requests."""
        made = requests_of(result)
        assert made, f"no request in the -v log: {result.err}"
        for request in made:
            allowed = all(self(verb, request.resource, request.namespace) for verb in request.verbs)
            assert allowed == (request.status != 403), (request, result.err)
        return made


def forbidden_in(result: Result) -> tuple[str, str, str | None]:
    """(verb, resource, namespace) of the plugin's one `error: forbidden: cannot VERB RESOURCE in namespace
    NS` line."""
    assert result.code == 1, result
    assert len(result.errors) == 1 and result.err.strip().endswith(result.errors[0]), result.err
    match = re.match(r"error: forbidden: cannot (\S+) (\S+) (?:in namespace ([^\s;]+)|at cluster scope)",
                     result.errors[0])
    assert match, result.errors[0]
    return match.group(1), match.group(2), match.group(3)
