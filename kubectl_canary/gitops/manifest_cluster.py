"""Offline mode (`--local -f PATH`): the objects of manifest files behind the Cluster interface.

The commands run unchanged against it: they find and read the app's objects with the cluster's code
(routers.read_rollout: name flags, the record on a shared route table, derived names; LISTs selected by
label and field as the API server selects them), the same pure code computes the change, and their
writes (server-side applies, creations, deletions) land on the objects in memory. At the end `changes()`
turns the difference into edits of the files (manifest_files.py): changed values in place, new objects in
a new file beside the app's routes (and in its kustomization's `resources`), deleted objects out of their
file.

What only a cluster knows is not in the files: whether a Deployment's pods are ready. Those checks are
skipped and listed (`skipped`); with a `live` cluster (--check-live) they are made against it instead.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from kubectl_canary.errors import CanaryError, ForbiddenError, UsageError
from kubectl_canary.gitops.manifest_files import (
    KUSTOMIZATION_FILES,
    Document,
    FileChange,
    ManifestFile,
    Manifests,
    changes_of,
    layout_of,
    new_document,
    plain,
)
from kubectl_canary.kube.cluster import Cluster
from kubectl_canary.model.readiness import taken_as_available
from kubectl_canary.model.resources import DEPLOYMENTS, EVENTS, GATEWAYS, NAMESPACES, VIRTUAL_SERVICES, Obj, Resource
from kubectl_canary.model.selectors import fields_match, labels_match

Key = tuple[str, str, str, str]  # apiVersion, kind, namespace, name


def _merge(base: Any, overlay: Any) -> Any:
    """Server-side apply's merge for our bodies: mappings merge, lists and scalars are replaced whole."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        merged = dict(base)
        for key, value in overlay.items():
            merged[key] = _merge(base.get(key), value)
        return merged
    return copy.deepcopy(overlay)


class ManifestCluster(Cluster):
    """A Cluster whose objects are those of manifest files; writes change them in memory only."""

    def __init__(self, manifests: Manifests, namespace: str, *, field_manager: str,
                 live: Cluster | None = None) -> None:
        # No transport: nothing is sent (a `live` cluster answers the readiness checks, --check-live).
        self.server = str(manifests.root)
        self.field_manager = field_manager
        self.dry_run = "none"
        self._log = None
        self.manifests = manifests
        self.namespace = namespace
        self.live = live
        self.skipped: list[str] = []
        self._objects: dict[Key, Obj] = {}
        self._declares_namespace: dict[Key, bool] = {}
        self._origin: dict[Key, int] = {}
        for index, located in enumerate(manifests.objects):
            obj = copy.deepcopy(located.obj)
            meta = obj["metadata"]
            meta.setdefault("namespace", located.namespace or namespace)
            key = self._key(obj)
            self._declares_namespace[key] = bool(located.obj["metadata"].get("namespace"))
            self._objects[key] = obj
            self._origin[key] = index
        self._original = copy.deepcopy(self._objects)

    @staticmethod
    def _key(obj: Obj) -> Key:
        meta = obj.get("metadata") or {}
        return (str(obj.get("apiVersion")), str(obj.get("kind")), str(meta.get("namespace") or ""), str(meta["name"]))

    def _find(self, resource: Resource, namespace: str | None, name: str) -> Key | None:
        return next(
            (k for k in self._objects if k[:2] == (resource.api_version, resource.kind) and k[3] == name
             and (namespace is None or k[2] == namespace)),
            None,
        )

    def get(self, resource: Resource, namespace: str | None, name: str) -> Obj | None:
        if resource in (NAMESPACES, GATEWAYS) and not self._declared(resource):
            # Rarely in the app's manifests: whether they exist is the cluster's to say (init asks).
            if self.live is not None:
                return self.live.get(resource, namespace, name)
            if resource == NAMESPACES:
                self._skip(f"namespace {name} exists")
                return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            self._skip(f"gateway {namespace}/{name} exists")
            raise ForbiddenError("get", resource, namespace, {})
        key = self._find(resource, namespace, name)
        return None if key is None else copy.deepcopy(self._objects[key])

    def list(self, resource: Resource, namespace: str | None, label_selector: str | None = None,
             field_selector: str | None = None) -> list[Obj]:
        if resource == VIRTUAL_SERVICES and not self._declared(resource):
            # The platform team's VirtualServices live elsewhere: who delegates is the cluster's to say.
            if self.live is not None:
                return self.live.list(resource, namespace, label_selector, field_selector)
            self._skip("which VirtualServices delegate to the routes")
            raise ForbiddenError("list", resource, namespace, {})
        if resource == DEPLOYMENTS:
            if self.live is not None:
                return self.live.list(resource, namespace, label_selector, field_selector)
            return [self._as_available(d) for d in self._list(resource, namespace, label_selector, field_selector)]
        return self._list(resource, namespace, label_selector, field_selector)

    def _declared(self, resource: Resource) -> bool:
        return any(key[:2] == (resource.api_version, resource.kind) for key in self._objects)

    def _skip(self, check: str) -> None:
        if check not in self.skipped:
            self.skipped.append(check)

    def _as_available(self, deployment: Obj) -> Obj:
        """A declared Deployment, taken as available (offline nothing runs to say otherwise)."""
        self._skip(f"deployment {deployment['metadata']['name']} is available")
        return taken_as_available(deployment)

    def _list(self, resource: Resource, namespace: str | None, label_selector: str | None,
              field_selector: str | None) -> builtins.list[Obj]:
        """The objects of a kind, selected as the API server selects them (model/selectors.py)."""
        return [
            copy.deepcopy(obj) for key, obj in self._objects.items()
            if key[:2] == (resource.api_version, resource.kind) and (namespace is None or key[2] == namespace)
            and labels_match(obj["metadata"].get("labels") or {}, label_selector) and fields_match(obj, field_selector)
        ]

    def iter_list(self, resource: Resource, namespace: str | None, label_selector: str | None = None,
                  field_selector: str | None = None) -> Iterator[Obj]:
        return iter(self.list(resource, namespace, label_selector, field_selector))

    def read_ahead(self, lists: Sequence[tuple[Resource, str | None]], *, managed_fields: bool = True
                   ) -> tuple[Iterator[Obj], ...]:
        """The files' objects are in memory already: each list read when its consumer asks for it (so an error
        surfaces there, as from the cluster's). Their managedFields, if they have any, cost nothing to keep."""
        return tuple(self._read_later(resource, namespace) for resource, namespace in lists)

    def _read_later(self, resource: Resource, namespace: str | None) -> Iterator[Obj]:
        yield from self.iter_list(resource, namespace)

    def watch(self, resource: Resource, namespace: str | None, name: str | None, resource_version: str | None,
              timeout: float, label_selector: str | None = None) -> Iterator[tuple[str, Obj]]:
        raise UsageError("offline (--local) nothing runs, so there is nothing to wait for; drop --wait")

    def create(self, obj: Obj) -> Obj:
        if obj.get("kind") == EVENTS.kind:
            return obj  # the transitions are recorded by the commit that changes the files, not as Events
        return self.apply(obj)

    def apply(self, obj: Obj, *, force: bool = False) -> Obj:
        body = copy.deepcopy(obj)
        body["metadata"].pop("resourceVersion", None)
        body["metadata"].setdefault("namespace", self.namespace)
        key = self._key(body)
        self._objects[key] = _merge(self._objects[key], body) if key in self._objects else body
        return copy.deepcopy(self._objects[key])

    def delete(self, resource: Resource, namespace: str, name: str) -> bool:
        key = self._find(resource, namespace, name)
        if key is None:
            return False
        del self._objects[key]
        return True

    def live_deployment(self, namespace: str, name: str) -> Obj | None:
        """With --check-live, the cluster's Deployment. Offline, the one in the files, taken as available."""
        if self.live is not None:
            return self.live.get(DEPLOYMENTS, namespace, name)
        declared = self.get(DEPLOYMENTS, namespace, name)
        return None if declared is None else self._as_available(declared)

    # --- back to the files -------------------------------------------------------------------------

    def changes(self) -> builtins.list[FileChange]:
        """The edits that make the files declare the objects as they are now."""
        located = self.manifests.objects
        for key, index in self._origin.items():
            place = located[index]
            document = place.file.documents[place.index]
            if key not in self._objects:
                document.removed = True
            elif self._objects[key] != self._original[key]:
                document.changed = self._as_declared(key, self._objects[key])
        new = [key for key in self._objects if key not in self._origin]
        if new:
            self._write_new(new)
        for manifest in self.manifests.files:
            if manifest.path.name not in KUSTOMIZATION_FILES and not manifest.render():
                self._edit_kustomization(manifest.path.parent, remove=manifest.path.name)  # the file goes
        return changes_of(self.manifests.files + self.manifests.created)

    def _as_declared(self, key: Key, obj: Obj) -> Obj:
        """The object as the files spell it: no namespace where they leave it to kustomize or kubectl."""
        declared = copy.deepcopy(obj)
        if not self._declares_namespace.get(key, True):
            declared["metadata"].pop("namespace", None)
        return declared

    def _routes_file(self) -> ManifestFile | None:
        """The file of the app's route object (where new objects go beside): the first changed one;
        None when the files declare no object yet (init)."""
        for index in self._origin.values():
            place = self.manifests.objects[index]
            if place.file.documents[place.index].changed is not None:
                return place.file
        return self.manifests.objects[0].file if self.manifests.objects else None

    def _write_new(self, keys: builtins.list[Key]) -> None:
        """New objects into new files beside the app's route object, one file per object name (a version's
        Deployment and Service together in `APP-VERSION.yaml`), each listed in the kustomization there."""
        beside = self._routes_file()
        root = self.manifests.root
        directory = beside.path.parent if beside is not None else root.parent if root.is_file() else root
        declares, given = next(((self._declares_namespace[k], self.manifests.objects[i].namespace)
                                for k, i in self._origin.items()
                                if beside is not None and self.manifests.objects[i].file is beside),
                               (True, None))
        layout = layout_of(beside) if beside is not None else (2, 4, 2)
        for name in dict.fromkeys(key[3] for key in keys):
            path = directory / f"{name}.yaml"
            if path.exists():
                raise CanaryError(f"cannot write the new objects to {path}: it exists; move it away and run again")
            documents = []
            for number, key in enumerate(k for k in keys if k[3] == name):
                obj = copy.deepcopy(self._objects[key])
                if not declares and obj["metadata"].get("namespace") == (given or self.namespace):
                    obj["metadata"].pop("namespace")
                like = next((o.file.documents[o.index].node for o in self.manifests.objects
                             if o.obj.get("kind") == obj.get("kind")), None)
                documents.append(Document("---\n" if number else "", new_document(obj, layout, like), None))
            self.manifests.created.append(ManifestFile(path, "", documents, new=True))
            self._edit_kustomization(directory, add=path.name)

    def _edit_kustomization(self, directory: Path, *, add: str = "", remove: str = "") -> None:
        """List a new file in the `resources` of the kustomization beside it, or unlist a deleted one."""
        for manifest in self.manifests.files:
            if manifest.path.parent == directory and manifest.path.name in KUSTOMIZATION_FILES:
                document = manifest.documents[0]
                content = document.changed or plain(document.node) or {}
                resources = [r for r in content.get("resources") or [] if r != remove]
                if add and add not in resources:
                    resources.append(add)
                if resources != (content.get("resources") or []):
                    document.changed = {**content, "resources": resources}
