"""`kubectl canary rbac APP`: the Role and RoleBinding that let a user or pipeline run every command."""

from __future__ import annotations

import argparse
import json
from typing import Any

import yaml

from kubectl_canary.commands import Command
from kubectl_canary.errors import UsageError
from kubectl_canary.kube.permissions import Permission, merged
from kubectl_canary.model.rollout import validate_name
from kubectl_canary.workflow.invocation import Invocation

LONG = """\
Prints, for `kubectl apply -f -`, a namespaced Role with exactly the verbs and resources the
commands use, and a RoleBinding for the subject (default: ServiceAccount kubectl-canary in the
namespace). Reads that cross namespaces (the namespace itself, the platform's VirtualServices
for the delegation check) go in a ClusterRole and ClusterRoleBinding; without them every command
still works, with less precise messages. Nothing is sent to the cluster."""

EXAMPLES = """\
  # Grant the ServiceAccount kubectl-canary in echo what the commands need
  kubectl canary rbac echo -n echo | kubectl apply -f -

  # For a person
  kubectl canary rbac echo -n echo --user jane@example.com

  # For a CI pipeline's ServiceAccount in another namespace
  kubectl canary rbac echo -n echo --serviceaccount ci:deployer"""


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


def rbac_objects(app: str, namespace: str, subject: dict[str, str]) -> list[dict[str, Any]]:
    from kubectl_canary.commands import all_commands

    permissions = merged([c.permissions for c in all_commands()])
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


def run(args: argparse.Namespace, invocation: Invocation) -> int:
    app = validate_name(args.app, "app name")
    namespace = invocation.namespace_or_default
    objects = rbac_objects(app, namespace, _subject(args, namespace))
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
