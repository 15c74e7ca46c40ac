"""`kubectl canary rbac APP`: the Role and RoleBinding that let a user or pipeline run every command."""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml

from kubectl_canary.commands import Command
from kubectl_canary.errors import CanaryError, UsageError
from kubectl_canary.kube.permissions import Permission, for_routers, merged
from kubectl_canary.model.rollout import validate_name
from kubectl_canary.routers import ROUTERS
from kubectl_canary.workflow.invocation import Invocation

LONG = """\
Prints, for `kubectl apply -f -`, a namespaced Role with exactly the verbs and resources the
commands use, and a RoleBinding for the subject (default: ServiceAccount kubectl-canary in the
namespace). Reads that cross namespaces (the namespace itself, the platform's VirtualServices
for the delegation check) go in a ClusterRole and ClusterRoleBinding; without them every command
still works, with less precise messages.

Least privilege per router: --router gloo grants Gloo's kinds (RouteTables, Upstreams,
VirtualServices) and no Gateway API kind, --router gateway-api the reverse; commands then take a
403 on the other router's kinds as "no app there". Without --router, the Role is for the routers
the cluster serves: the one request sent is API discovery (GET /apis: are gateway.solo.io and
gateway.networking.k8s.io served?); when the cluster cannot be asked, or serves neither, the Role
grants both, saying so on stderr. `migrate` reads Gloo and writes the Gateway API: it needs both."""

EXAMPLES = """\
  # Grant the ServiceAccount kubectl-canary in echo what the commands need
  kubectl canary rbac echo -n echo | kubectl apply -f -

  # For a person
  kubectl canary rbac echo -n echo --user jane@example.com

  # For a CI pipeline's ServiceAccount in another namespace
  kubectl canary rbac echo -n echo --serviceaccount ci:deployer

  # Only what an app on Gloo Edge needs, whatever the cluster serves
  kubectl canary rbac echo -n echo --router gloo"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("app", metavar="APP")
    subject = parser.add_mutually_exclusive_group()
    subject.add_argument("--serviceaccount", metavar="NAMESPACE:NAME", help="bind to this ServiceAccount")
    subject.add_argument("--user", help="bind to this user")
    subject.add_argument("--group", help="bind to this group")
    parser.add_argument("-o", "--output", choices=("yaml", "json"), default="yaml")


def _subject(args: argparse.Namespace, namespace: str) -> dict[str, str]:
    if args.user:
        return {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": args.user}
    if args.group:
        return {"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": args.group}
    account_namespace, name = namespace, "kubectl-canary"
    if args.serviceaccount:
        account_namespace, sep, name = args.serviceaccount.partition(":")
        if not sep or not account_namespace or not name:
            raise UsageError(f"invalid --serviceaccount {args.serviceaccount!r}: use NAMESPACE:NAME")
    return {"kind": "ServiceAccount", "name": name, "namespace": account_namespace}


def _rules(permissions: list[Permission]) -> list[dict[str, Any]]:
    return [
        {"apiGroups": [p.resource.group], "resources": [p.resource.plural], "verbs": list(p.verbs)} for p in permissions
    ]


def rbac_objects(app: str, namespace: str, subject: dict[str, str], routers: set[str] | None = None
                 ) -> list[dict[str, Any]]:
    """The Role, ClusterRole and their bindings for apps on `routers` (default: every router)."""
    from kubectl_canary.commands import all_commands

    permissions = for_routers(merged([c.permissions for c in all_commands()]), routers or set(ROUTERS))
    name = f"kubectl-canary-{app}"
    role_ref = {"apiGroup": "rbac.authorization.k8s.io", "name": name}
    rbac = "rbac.authorization.k8s.io/v1"
    return [
        {
            "apiVersion": rbac,
            "kind": "Role",
            "metadata": {"name": name, "namespace": namespace},
            "rules": _rules([p for p in permissions if not p.cluster_wide]),
        },
        {
            "apiVersion": rbac,
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": namespace},
            "roleRef": {**role_ref, "kind": "Role"},
            "subjects": [subject],
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRole",
            "metadata": {"name": f"{name}-{namespace}-reads"},
            "rules": _rules([p for p in permissions if p.cluster_wide]),
        },
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": {"name": f"{name}-{namespace}-reads"},
            "roleRef": {**role_ref, "kind": "ClusterRole", "name": f"{name}-{namespace}-reads"},
            "subjects": [subject],
        },
    ]


def served_routers(invocation: Invocation) -> set[str]:
    """The routers whose API the cluster serves (one discovery request); both when it cannot be asked."""
    try:
        groups = invocation.cluster().served_groups()
    except CanaryError as error:
        invocation.warn(f"cannot ask the cluster which gateways it serves ({error}); the Role grants what both "
                        f"routers need (--router gloo|gateway-api picks one)")
        return set(ROUTERS)
    served = {router.name for router in ROUTERS.values() if router.resource.group in groups}
    if not served:
        invocation.warn("the cluster serves neither gateway.solo.io (Gloo Edge) nor gateway.networking.k8s.io "
                        "(the Gateway API); the Role grants what both routers need (--router gloo|gateway-api "
                        "picks one)")
        return set(ROUTERS)
    return served


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    app = validate_name(args.app, "app name")
    namespace = invocation.namespace_or_default
    subject = _subject(args, namespace)
    routers = {invocation.router} if invocation.router else served_routers(invocation)
    objects = rbac_objects(app, namespace, subject, routers)
    if args.output == "json":
        text = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=2)
    else:
        text = yaml.safe_dump_all(objects, sort_keys=False).rstrip()
    print(text, file=invocation.out)
    return 0


COMMAND = Command(
    name="rbac",
    short="Print the Role and RoleBinding the commands need",
    long=LONG,
    examples=EXAMPLES,
    mutating=False,
    add_arguments=add_arguments,
    run=run,
)
