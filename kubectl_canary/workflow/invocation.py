"""What every verb shares: the cluster connection (made on first use), the namespace, and output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from kubectl_canary.errors import CanaryError
from kubectl_canary.kube.cluster import Cluster, ConnectionOptions, connect
from kubectl_canary.model.app_names import AppNames
from kubectl_canary.model.events import event, transition_message
from kubectl_canary.model.resources import Obj, Resource, resource_of
from kubectl_canary.model.rollout import RolloutState, validate_name
from kubectl_canary.routers import read_rollout
from kubectl_canary.routers.seam import LiveRollout, RouteChange
from kubectl_canary.workflow.route_updates import update_routes

if TYPE_CHECKING:
    import argparse

    from kubectl_canary.gitops.manifest_cluster import ManifestCluster


@dataclass
class Invocation:
    """One command's settings from its flags, and the cluster (or manifests) it acts on."""

    connection: ConnectionOptions
    namespace_flag: str | None
    field_manager: str = "kubectl-canary"
    dry_run: str = "none"
    output: str | None = None
    verbose: bool = False
    # Write flags (commands that change routes): take over fields, and wait for Gloo's verdict.
    force_conflicts: bool = False
    gloo_timeout: float = 0.0
    # --router: which gateway's routes to read and write; None finds the one the app's routes are on.
    router: str | None = None
    # --route-table, --route-name, --upstream, --deployment: an app's objects named, not derived.
    names: AppNames = field(default_factory=AppNames)
    out: TextIO = field(default_factory=lambda: sys.stdout)
    # Offline (--local -f PATH): the objects of manifest files stand in for the cluster (manifest_cluster.py).
    manifests: ManifestCluster | None = None
    written: list[Obj] = field(default_factory=list)
    # The command line's parser for one verb (cli.py hands it down): `route --after 'weight 30'` parses the verb
    # it answers for exactly as that verb would be parsed.
    parse_verb: Callable[[list[str]], argparse.Namespace] | None = None
    _progress_shown: str = ""
    _cluster: Cluster | None = None
    _context_namespace: str | None = None

    def __post_init__(self) -> None:
        if self.namespace_flag is not None:
            validate_name(self.namespace_flag, "namespace")

    def cluster(self) -> Cluster:
        if self._cluster is None:
            self._cluster, self._context_namespace = connect(
                self.connection,
                field_manager=self.field_manager,
                dry_run=self.dry_run,
                log=self.log if self.verbose else None,
            )
        return self._cluster

    @property
    def namespace(self) -> str:
        """-n, else the kubeconfig context's namespace; a client dry run needs no kubeconfig."""
        return self.namespace_or_default if self.dry_run == "client" else self._namespace()

    @property
    def namespace_or_default(self) -> str:
        """-n, else the kubeconfig context's namespace, else "default" when there is no usable kubeconfig."""
        try:
            return self._namespace()
        except CanaryError:
            return "default"

    def _namespace(self) -> str:
        if self.namespace_flag:
            return self.namespace_flag
        if self._context_namespace is None:
            self.cluster()
        assert self._context_namespace is not None
        return self._context_namespace

    @property
    def dry_run_suffix(self) -> str:
        return {"client": " (dry run)", "server": " (server dry run)"}.get(self.dry_run, "")

    def log(self, line: str) -> None:
        print(f"I {line}", file=sys.stderr, flush=True)

    def warn(self, line: str) -> None:
        """Something the user should know that does not stop the command; always on stderr."""
        print(f"warning: {line}", file=sys.stderr, flush=True)

    def note(self, line: str) -> None:
        """Something worth knowing about what the command did (not a problem); always on stderr."""
        print(f"note: {line}", file=sys.stderr, flush=True)

    def progress(self, state: str, elapsed: str) -> None:
        """A progress line on stderr: redrawn in place on a terminal, else printed when `state` changes."""
        if self.output is not None:
            return
        if sys.stderr.isatty():
            sys.stderr.write(f"\r\x1b[K{state} ({elapsed})")
            sys.stderr.flush()
        elif state != self._progress_shown:
            print(state, file=sys.stderr, flush=True)
        self._progress_shown = state

    def end_progress(self) -> None:
        if self._progress_shown and sys.stderr.isatty():
            sys.stderr.write("\n")
        self._progress_shown = ""

    def wait_until_ready(self, namespace: str, name: str, timeout: float) -> None:
        """Wait (watch) until Deployment `name` is ready, with a progress line; an error at the timeout."""
        from kubectl_canary.kube.waiting import wait_until_ready
        from kubectl_canary.model.durations import format_duration
        from kubectl_canary.model.readiness import Readiness

        def show(readiness: Readiness, elapsed: float) -> None:
            self.progress(f"waiting for deployment {name}: {readiness} ready", format_duration(elapsed))

        try:
            wait_until_ready(self.cluster(), namespace, name, timeout, show)
        finally:
            self.end_progress()

    def say(self, line: str) -> None:
        """A progress line for people; silent when -o asks for machine-readable output."""
        if self.output is None:
            print(line, file=self.out, flush=True)

    def report(self, obj: Obj, action: str) -> None:
        """Record a written object; print `kind.group/name action` as kubectl does."""
        self.written.append(obj)
        self.say(f"{resource_of(obj).display}/{obj['metadata']['name']} {action}{self.dry_run_suffix}")

    def report_deleted(self, resource: Resource, name: str | None) -> None:
        if name:
            self.say(f"{resource.display}/{name} deleted{self.dry_run_suffix}")

    def report_routes(self, change: RouteChange) -> None:
        self.report(change.route_object, "configured" if change.changed else "unchanged")
        what = f"{change.router.resource.kind} {change.route_object['metadata']['name']}"
        if change.earlier.state == "Rejected":
            self.warn(
                f"{change.router.gateway} had rejected {what} before this command: "
                f"{change.earlier.reason or 'no reason given'}; check with kubectl canary status {change.after.app}"
            )
        for warning in change.warnings:
            self.warn(warning)
        reason = change.verdict.reason or "no reason given"
        if change.verdict.state == "Warning":
            self.warn(f"{change.router.gateway} accepted {what} with a warning: {reason}")
        elif change.verdict.state in ("Degraded", "Pending"):
            self.warn(f"{change.router.gateway} reports {what} {change.verdict.state}: {reason}")

    def read_rollout(self, app: str) -> LiveRollout:
        """The app's live routes, on the gateway --router names or wherever they are (offline: in the files)."""
        files = None if self.manifests is None else self.manifests.server
        return read_rollout(self.cluster(), self.namespace, app, self.router, self.names, files=files)

    def use_manifests(self, path: str, *, check_live: bool, missing_ok: bool = False) -> None:
        """Offline: read and write the objects of the manifests at `path` instead of the cluster's
        (`missing_ok`: init writes into a directory it may have to make)."""
        from kubectl_canary.gitops.manifest_cluster import ManifestCluster
        from kubectl_canary.gitops.manifest_files import load

        manifests = load(Path(path), missing_ok=missing_ok)
        declared = [o.obj["metadata"].get("namespace") or o.namespace for o in manifests.objects]
        namespace = self.namespace_flag or manifests.kustomize_namespace or next(filter(None, declared), "default")
        live = None
        if check_live:
            live, _ = connect(self.connection, field_manager=self.field_manager, dry_run="none",
                              log=self.log if self.verbose else None)
        self.manifests = ManifestCluster(manifests, namespace, field_manager=self.field_manager, live=live)
        self._cluster, self._context_namespace = self.manifests, namespace

    def end_offline(self, *, write_files: bool, diff_only: bool) -> None:
        """Offline, after the command: write the files (see write_manifests), name the checks skipped."""
        assert self.manifests is not None
        if write_files:
            self.write_manifests(diff_only=diff_only)
        for check in self.manifests.skipped:
            print(f"skipped: {check} (needs the cluster; --check-live checks it there)", file=sys.stderr)

    def write_manifests(self, *, diff_only: bool) -> None:
        """Print the unified diff of the files, then write them (not with --diff)."""
        from kubectl_canary.gitops.manifest_files import write

        assert self.manifests is not None
        changes = self.manifests.changes()
        if self.output is None:
            for change in changes:
                self.out.write(change.diff(self.manifests.manifests.root))
        if diff_only:
            self.say(f"{len(changes)} file(s) would change; nothing written (--diff)")
            return
        write(changes)
        self.say(f"{len(changes)} file(s) changed" if changes else "no file changed")

    def record(self, route_object: Obj, reason: str, message: str, *, warning: bool = False,
               app: str | None = None) -> None:
        """Record a transition as an Event on the route object. Never fails the command: it warns."""
        if self.dry_run != "none" or self._cluster is None:
            return
        try:
            self._cluster.create(event(route_object, reason, message, warning=warning, app=app))
        except CanaryError as error:
            self.warn(f"could not record the {reason} event: {error}")

    def change_routes(
        self,
        app: str,
        plan: Callable[[RolloutState], RolloutState],
        *,
        transition: str,
        first_read: LiveRollout | None = None,
        force: bool = False,
        starting: frozenset[str] = frozenset(),
    ) -> RouteChange:
        """Move the app's routes to `plan(live state)`, say so, and record the Event Canary<Transition>."""
        change = update_routes(
            self.cluster(),
            self.namespace,
            app,
            plan,
            force_conflicts=self.force_conflicts,
            first_read=first_read,
            router=self.router,
            gloo_timeout=self.gloo_timeout,
            transition=transition,
            force=force,
            starting=starting,
            names=self.names,
        )
        self.report_routes(change)
        if change.changed:
            reason = f"Canary{transition.capitalize()}"
            self.record(change.route_object, reason, transition_message(change.before, change.after), app=app)
        return change

    def print_written(self) -> None:
        """With -o, print every object that was (or would be) written."""
        if self.output == "json":
            body = (
                self.written[0]
                if len(self.written) == 1
                else {"apiVersion": "v1", "kind": "List", "items": self.written}
            )
            print(json.dumps(body, indent=2), file=self.out)
        elif self.output == "yaml":
            import yaml

            print(yaml.safe_dump_all(self.written, sort_keys=False).rstrip(), file=self.out)
