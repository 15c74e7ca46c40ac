"""Ending a rollout, `finish` or `abort`: one version keeps all the traffic and the other one goes.

The routes change before anything is deleted, so a failure half-way never routes to a missing
Deployment; running the command again completes the deletion (route_updates.complete_earlier_run).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from kubectl_canary.kube.permissions import Permission, needs
from kubectl_canary.model.manifests import deployment_name
from kubectl_canary.model.resources import (
    DEPLOYMENTS,
    EVENTS,
    HTTP_ROUTES,
    NAMESPACES,
    ROUTE_TABLES,
    SERVICES,
    UPSTREAMS,
)
from kubectl_canary.model.verb_plans import VerbPlan
from kubectl_canary.routers import backends_of
from kubectl_canary.routers.seam import LiveRollout
from kubectl_canary.workflow.invocation import Invocation
from kubectl_canary.workflow.route_updates import complete_earlier_run


@dataclass(frozen=True)
class Ending:
    """finish or abort: the verb, its word in messages, and its plan."""

    verb: str  # "finish" or "abort": the transition recorded on the route object
    done: str  # "finished" or "aborted", for a re-run that finds the routes already changed
    plan: Callable[[argparse.Namespace], VerbPlan]  # verb_plans.finish or verb_plans.abort


# What ending a rollout asks the API server for, in the app's namespace (finish and abort alike).
PERMISSIONS: tuple[Permission, ...] = (
    needs(EVENTS, "create"),
    needs(ROUTE_TABLES, "get", "list", "patch", "watch"),  # list: an app recorded on a shared table
    needs(HTTP_ROUTES, "get", "list", "patch", "watch"),
    needs(SERVICES, "get", "delete"),  # the Gateway API: the Service of the version that takes no traffic
    needs(DEPLOYMENTS, "get", "list", "delete"),
    needs(UPSTREAMS, "delete"),
    needs(NAMESPACES, "get", cluster_wide=True),
)


def end_rollout(invocation: Invocation, ending: Ending, plan: VerbPlan) -> int:
    """Move all traffic by `plan`, then delete what the leaving version had (unless the plan keeps it)."""
    app, namespace = plan.app, invocation.namespace
    cluster = invocation.cluster()

    first_read = invocation.read_rollout(app)
    done = complete_earlier_run(cluster, namespace, first_read, ending.verb, delete=not plan.keep_leaving)
    if done is not None:
        for name in done:
            invocation.report_deleted(DEPLOYMENTS, name)
        versions = [name.removeprefix(f"{app}-") for name in done]
        backends_of(first_read.router).retire_versions(cluster, invocation, namespace, app, versions)
        invocation.say(f"{app} is already {ending.done}: all traffic goes to {first_read.state.primary}")
        return 0

    change = invocation.change_routes(app, plan.move, transition=ending.verb, first_read=first_read,
                                      force=plan.force)
    leaving, kept = plan.leaving(change.before), plan.kept(change.before)
    backends_of(first_read.router).retire(cluster, invocation, first_read, change, kept)
    if leaving and leaving not in kept:
        _delete_deployment(invocation, first_read, leaving)
    invocation.say(f"{app}: all traffic goes to {change.after.primary}")
    invocation.print_written()
    return 0


def _delete_deployment(invocation: Invocation, first_read: LiveRollout, version: str) -> None:
    """The leaving version's Deployment goes, if the plugin made it (APP-VERSION; a canary's always is)."""
    app, namespace = first_read.state.app, invocation.namespace
    name = first_read.deployment_of(version)
    if name != deployment_name(app, version):
        # A Deployment the team brought (--deployment) is theirs, often in Git or a Helm release: they retire it.
        invocation.warn(f"deployment {name} of {version} takes no traffic from the routes now; kubectl canary did "
                        f"not create it, so it is left: delete it where it is defined, or kubectl delete deployment "
                        f"{name} -n {namespace}")
    elif invocation.cluster().delete(DEPLOYMENTS, namespace, name):
        invocation.report_deleted(DEPLOYMENTS, name)
