"""The registry: what the API server does to an object on create, update, patch, apply and delete
(metadata, preconditions, generation, status subresources, validation, field ownership, dry run).

Every operation runs under the store lock, so a read-modify-write is atomic. The HTTP layer and the
test-side direct methods both come through here; `from_client=False` marks the direct ones, which may
also set a Deployment's status.
"""

from __future__ import annotations

import builtins
import datetime
import hashlib
import random
import re
import uuid
from dataclasses import dataclass
from typing import Any

from . import fields, patches, schema, validation_rules
from .json_values import JsonObject, decode_json, decode_yaml_or_json, deep_copy, encode_json, same_json
from .resources import DEPLOYMENTS, NAMESPACES, RESOURCE_TYPES, ResourceType
from .selectors import Matcher
from .status import (
    ApiError,
    already_exists,
    bad_request,
    conflict,
    internal_error,
    invalid,
    not_found,
    resource_version_required,
    stale_resource_version,
    unsupported_media_type,
)
from .store import ObjectStore

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
CUSTOM_RESOURCE_PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, APPLY_PATCH]
BUILTIN_PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# Resources whose names are RFC 1123 labels rather than subdomains.
_LABEL_NAMED = frozenset({"namespaces", "services"})


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class WriteOptions:
    """What a write request says besides its body."""

    manager: str = "unknown"
    dry_run: bool = False
    force: bool = False
    field_validation: str = ""  # "" | "Ignore" | "Warn" | "Strict"
    subresource: str | None = None
    from_client: bool = True


class Registry:
    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.auto_ready = False

    # --- reads ----------------------------------------------------------------------------------------

    def get(self, resource_type: ResourceType, namespace: str | None, name: str) -> JsonObject:
        with self.store.lock:
            obj = self.store.get(resource_type, namespace, name)
            if obj is None:
                raise not_found(resource_type, name)
            return deep_copy(obj)

    def list(self, resource_type: ResourceType, namespace: str | None, matchers: list[Matcher],
             window: slice = slice(None)) -> tuple[list[JsonObject], str, int]:
        """The matching objects in `window` (copies), the list's resourceVersion, and how many match in all.
        Only the window is copied: a LIST in pages of 500 over thousands of objects stays linear."""
        with self.store.lock:
            found = [obj for obj in self.store.list(resource_type, namespace) if all(m(obj) for m in matchers)]
            return [deep_copy(obj) for obj in found[window]], str(self.store.resource_version), len(found)

    # --- create ---------------------------------------------------------------------------------------

    def create(self, resource_type: ResourceType, namespace: str | None, body: Any,
               options: WriteOptions, *, operation: str = "Update") -> JsonObject:
        """POST (and the create half of an apply). Returns the stored object (or, dry run, the would-be)."""
        obj = self._checked_body(resource_type, body)
        metadata = obj["metadata"]
        namespace = self._checked_namespace(resource_type, namespace, metadata)
        if metadata.get("resourceVersion"):
            raise internal_error("resourceVersion should not be set on objects to be created")
        with self.store.lock:
            self._require_namespace(resource_type, namespace)
            if not metadata.get("name") and metadata.get("generateName"):
                metadata["name"] = self._generated_name(resource_type, namespace, metadata["generateName"])
            name = metadata.get("name") or ""
            self._admit(resource_type, obj, name, options)
            if self.store.get(resource_type, namespace, name) is not None:
                raise already_exists(resource_type, name)
            metadata.pop("managedFields", None)
            metadata["uid"] = str(uuid.uuid4())
            metadata["creationTimestamp"] = _now()
            metadata["generation"] = 1
            if resource_type.status_subresource and options.from_client:
                obj.pop("status", None)
            if resource_type is NAMESPACES:
                obj["status"] = {"phase": "Active"}
            self._apply_auto_ready(resource_type, obj)
            entries: list[fields.ManagerEntry] = []
            if operation == "Apply":
                entries, _ = fields.record_apply([], [], obj, options.manager, resource_type.api_version, _now())
            elif options.manager:
                entries = fields.record_update([], {}, obj, options.manager, resource_type.api_version, _now())
            fields.write_entries(obj, entries)
            if not options.dry_run:
                metadata["resourceVersion"] = self.store.next_resource_version()
            obj = self._ordered(obj)
            if options.dry_run:
                return deep_copy(obj)
            self.store.put(resource_type, obj)
            return deep_copy(obj)

    # --- update (PUT) ---------------------------------------------------------------------------------

    def update(self, resource_type: ResourceType, namespace: str | None, name: str, body: Any,
               options: WriteOptions) -> JsonObject:
        obj = self._checked_body(resource_type, body)
        self._checked_namespace(resource_type, namespace, obj["metadata"])
        body_name = obj["metadata"].get("name")
        if body_name != name:
            raise bad_request(f"the name of the object ({body_name}) does not match the name on the URL "
                              f"({name})")
        with self.store.lock:
            live = self._live(resource_type, namespace, name)
            if options.from_client and not resource_type.builtin and not obj["metadata"].get("resourceVersion"):
                raise resource_version_required(resource_type, name)
            return self._commit(resource_type, live, obj, options)

    # --- patch (merge, JSON, strategic, apply) --------------------------------------------------------

    def patch(self, resource_type: ResourceType, namespace: str | None, name: str, content_type: str,
              raw: bytes, options: WriteOptions) -> tuple[JsonObject, bool]:
        """Returns (object, created); only an apply creates."""
        allowed = BUILTIN_PATCH_TYPES if resource_type.builtin else CUSTOM_RESOURCE_PATCH_TYPES
        if content_type not in allowed:
            raise unsupported_media_type(allowed)
        if options.force and content_type != APPLY_PATCH:
            raise invalid(resource_type, name, [("force", "Forbidden: may not be specified for non-apply "
                                                          "patch")])
        try:
            patch_body = decode_yaml_or_json(raw) if content_type == APPLY_PATCH else decode_json(raw)
        except ValueError as error:
            raise bad_request(f"error decoding patch: {error}") from error
        if content_type == APPLY_PATCH:
            return self._apply(resource_type, namespace, name, patch_body, options)
        with self.store.lock:
            live = self._live(resource_type, namespace, name)
            try:
                if content_type == JSON_PATCH:
                    patched = patches.json_patch(live, patch_body)
                elif not isinstance(patch_body, dict):
                    raise bad_request("error decoding patch: the patch must be a JSON object")
                elif content_type == MERGE_PATCH:
                    patched = patches.merge_patch(live, patch_body)
                else:
                    patched = patches.strategic_merge_patch(live, patch_body)
            except patches.PatchFormatError as error:
                raise bad_request(str(error)) from error
            except patches.PatchApplyError as error:
                raise ApiError(422, "Invalid", "the server rejected our request due to an error in our "
                               "request", {"causes": [{"reason": "UnexpectedServerResponse",
                                                       "message": str(error)}]}) from error
            if not isinstance(patched, dict):
                raise bad_request("the patch must produce an object")
            return self._commit(resource_type, live, patched, options), False

    def _apply(self, resource_type: ResourceType, namespace: str | None, name: str, applied: Any,
               options: WriteOptions) -> tuple[JsonObject, bool]:
        if not options.manager:
            raise bad_request("PATCH /apply requires fieldManager: fieldManager is required for apply requests")
        applied = self._checked_body(resource_type, applied)
        metadata = applied["metadata"]
        self._checked_namespace(resource_type, namespace, metadata)
        if metadata.setdefault("name", name) != name:
            raise bad_request(f"the name of the object ({metadata['name']}) does not match the name on the "
                              f"URL ({name})")
        with self.store.lock:
            live = self.store.get(resource_type, namespace, name)
            if live is None:
                if metadata.get("resourceVersion"):
                    # A precondition on an object that is not there: refused (stricter than a real server,
                    # which may create it; see the package docstring).
                    raise stale_resource_version(resource_type, name)
                return self.create(resource_type, namespace, applied, options, operation="Apply"), True
            if metadata.get("resourceVersion") not in (None, "", live["metadata"]["resourceVersion"]):
                raise stale_resource_version(resource_type, name)
            entries = fields.read_entries(live)
            found = fields.apply_conflicts(entries, live, applied, options.manager)
            if found and not options.force:
                raise fields.conflict_error(found)
            entries, orphaned = fields.record_apply(entries, found, applied, options.manager,
                                                    resource_type.api_version, _now())
            merged = patches.apply_merge(deep_copy(live), applied)
            fields.remove_paths(merged, orphaned)
            return self._commit(resource_type, live, merged, options, entries=entries), False

    # --- delete ---------------------------------------------------------------------------------------

    def delete(self, resource_type: ResourceType, namespace: str | None, name: str,
               delete_options: JsonObject, dry_run: bool) -> JsonObject:
        """Returns the deleted object (its last state)."""
        if resource_type is NAMESPACES and name in ("default", "kube-system", "kube-public"):
            raise ApiError(403, "Forbidden", f'namespaces "{name}" is forbidden: this namespace may not be '
                           f"deleted", {"name": name, "kind": "namespaces"})
        with self.store.lock:
            live = self._live(resource_type, namespace, name)
            preconditions = delete_options.get("preconditions") or {}
            for field_name, label in (("resourceVersion", "ResourceVersion"), ("uid", "UID")):
                wanted = preconditions.get(field_name)
                if wanted and wanted != live["metadata"].get(field_name):
                    raise conflict(resource_type, name,
                                   f"Precondition failed: {label} in precondition: {wanted}, {label} in "
                                   f"object meta: {live['metadata'].get(field_name)}")
            if dry_run:
                return deep_copy(live)
            if resource_type is NAMESPACES:
                self._delete_namespace_contents(name)
            deleted = self.store.remove(resource_type, namespace, name)
            assert deleted is not None
            return deep_copy(deleted)

    def _delete_namespace_contents(self, namespace: str) -> None:
        for resource_type in RESOURCE_TYPES:
            if resource_type.namespaced:
                for obj in self.store.list(resource_type, namespace):
                    self.store.remove(resource_type, namespace, obj["metadata"]["name"])

    # --- Deployment status (the tests play the controller) --------------------------------------------

    def set_deployment_status(self, namespace: str, name: str, rollout: DeploymentRollout) -> JsonObject:
        with self.store.lock:
            live = self._live(DEPLOYMENTS, namespace, name)
            updated = deep_copy(live)
            updated["status"] = deployment_status(updated, rollout)
            if same_json(updated.get("status"), live.get("status")):
                return deep_copy(live)
            updated["metadata"]["resourceVersion"] = self.store.next_resource_version()
            self.store.put(DEPLOYMENTS, updated)
            return deep_copy(updated)

    def _apply_auto_ready(self, resource_type: ResourceType, obj: JsonObject) -> None:
        if self.auto_ready and resource_type is DEPLOYMENTS:
            obj["status"] = deployment_status(obj, DeploymentRollout())

    # --- the shared update path -----------------------------------------------------------------------

    def _commit(self, resource_type: ResourceType, live: JsonObject, new: JsonObject, options: WriteOptions,
                entries: builtins.list[fields.ManagerEntry] | None = None) -> JsonObject:
        """Turn a client's new version of a live object into the stored one (caller holds the lock)."""
        name = live["metadata"]["name"]
        new = self._checked_body(resource_type, new)
        wanted = new["metadata"]
        if wanted.get("resourceVersion") not in (None, "", live["metadata"]["resourceVersion"]):
            raise stale_resource_version(resource_type, name)
        if wanted.get("uid") not in (None, "", live["metadata"]["uid"]):
            raise conflict(resource_type, name, f"Precondition failed: UID in precondition: {wanted['uid']}, "
                                                f"UID in object meta: {live['metadata']['uid']}")
        if options.subresource == "status":
            status = new.get("status")
            new = deep_copy(live)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        elif _keeps_live_status(resource_type, options, new):
            _copy_status(live, new)
        metadata = new["metadata"]
        for key in ("name", "namespace", "uid", "creationTimestamp", "generateName"):
            if key in live["metadata"]:
                metadata[key] = live["metadata"][key]
            else:
                metadata.pop(key, None)
        metadata["resourceVersion"] = live["metadata"]["resourceVersion"]
        self._admit(resource_type, new, name, options)
        if entries is None:
            entries = fields.read_entries(live)
            if options.subresource is None:
                entries = fields.record_update(entries, live, new, options.manager,
                                               resource_type.api_version, _now())
        old_entries = fields.read_entries(live)
        if fields.same_ownership(entries, old_entries):
            entries = old_entries
        fields.write_entries(new, entries)
        metadata["generation"] = live["metadata"].get("generation", 1)
        if _spec_changed(resource_type, live, new):
            metadata["generation"] += 1
        self._apply_auto_ready(resource_type, new)
        new = self._ordered(new)
        if same_json(new, live) or options.dry_run:
            return deep_copy(new)
        new["metadata"]["resourceVersion"] = self.store.next_resource_version()
        self.store.put(resource_type, new)
        return deep_copy(new)

    # --- checks ---------------------------------------------------------------------------------------

    def _live(self, resource_type: ResourceType, namespace: str | None, name: str) -> JsonObject:
        live = self.store.get(resource_type, namespace, name)
        if live is None:
            raise not_found(resource_type, name)
        return live

    def _require_namespace(self, resource_type: ResourceType, namespace: str | None) -> None:
        if resource_type.namespaced and self.store.get(NAMESPACES, None, namespace or "") is None:
            raise not_found(NAMESPACES, namespace or "")

    def _generated_name(self, resource_type: ResourceType, namespace: str | None, prefix: str) -> str:
        alphabet = "bcdfghjklmnpqrstvwxz2456789"
        while True:
            name = prefix + "".join(random.choice(alphabet) for _ in range(5))
            if self.store.get(resource_type, namespace, name) is None:
                return name

    @staticmethod
    def _checked_body(resource_type: ResourceType, body: Any) -> JsonObject:
        if not isinstance(body, dict):
            raise bad_request(f"the body of the request must be a {resource_type.kind} object")
        obj = deep_copy(body)
        if "kind" not in obj or "apiVersion" not in obj:
            missing = "Kind" if "kind" not in obj else "apiVersion"
            raise bad_request(f"Object '{missing}' is missing in '{_short(obj)}'")
        if obj["apiVersion"] != resource_type.api_version or obj["kind"] != resource_type.kind:
            raise bad_request(f"the API version in the data ({obj['apiVersion']}) does not match the expected "
                              f"API version ({resource_type.api_version})"
                              if obj["apiVersion"] != resource_type.api_version else
                              f"the kind in the data ({obj['kind']}) does not match the expected kind "
                              f"({resource_type.kind})")
        metadata = obj.setdefault("metadata", {})
        if not isinstance(metadata, dict):
            raise bad_request("json: cannot unmarshal into Go struct field .metadata of type v1.ObjectMeta")
        for key in ("labels", "annotations"):
            values = metadata.get(key)
            if values is None:
                continue
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                raise bad_request(f"json: cannot unmarshal into Go struct field ObjectMeta.metadata.{key} of "
                                  f"type map[string]string")
        return obj

    @staticmethod
    def _checked_namespace(resource_type: ResourceType, namespace: str | None, metadata: JsonObject
                           ) -> str | None:
        if not resource_type.namespaced:
            metadata.pop("namespace", None)
            return None
        body_namespace = metadata.get("namespace")
        if body_namespace and body_namespace != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the "
                              "request")
        metadata["namespace"] = namespace
        return namespace

    def _admit(self, resource_type: ResourceType, obj: JsonObject, name: str, options: WriteOptions) -> None:
        """Default (custom resources: the CRD's `default`s, in place) and validate, as the server's decoding
        does on every write."""
        causes = _metadata_errors(resource_type, obj["metadata"])
        if not resource_type.builtin:
            try:
                crd_schema = schema.crd_schema(resource_type.group, resource_type.version, resource_type.plural)
            except (LookupError, OSError) as error:
                raise internal_error(f"fake apiserver: cannot load the CRD schema: {error}") from error
            schema.apply_defaults(crd_schema, obj)
            result = schema.validate_custom_resource(crd_schema, obj)
            if result.unknown_fields and options.field_validation == "Strict":
                raise bad_request("strict decoding error: " + ", ".join(
                    f'unknown field "{path}"' for path in result.unknown_fields))
            causes += [(path, f'Invalid value: "{path.rsplit(".", 1)[-1]}": unknown field "{path}" (not in the '
                              f"CRD schema; the fake apiserver rejects what a real one would prune)")
                       for path in result.unknown_fields]
            causes += result.errors
            rules = validation_rules.RULES.get(resource_type.plural)
            if rules is not None:
                causes += rules(obj)
        if causes:
            raise invalid(resource_type, name, causes)

    @staticmethod
    def _ordered(obj: JsonObject) -> JsonObject:
        """apiVersion, kind, metadata, spec, ... status: the order the real server serializes in."""
        first: JsonObject = {key: obj[key] for key in ("apiVersion", "kind", "metadata") if key in obj}
        rest: JsonObject = {key: value for key, value in obj.items() if key not in first and key != "status"}
        ordered: JsonObject = {**first, **rest}
        if "status" in obj:
            ordered["status"] = obj["status"]
        metadata = ordered.get("metadata") or {}
        metadata_order = ("name", "generateName", "namespace", "uid", "resourceVersion", "generation",
                          "creationTimestamp", "labels", "annotations")
        ordered["metadata"] = {**{k: metadata[k] for k in metadata_order if k in metadata},
                               **{k: v for k, v in metadata.items() if k not in metadata_order}}
        return ordered


def _short(obj: JsonObject) -> str:
    text = str(obj)
    return text if len(text) < 200 else text[:200] + "..."


def _keeps_live_status(resource_type: ResourceType, options: WriteOptions, new: JsonObject) -> bool:
    """A client's write keeps the stored status on kinds with a status subresource (and replaces it on the
    others); a direct (test-side) write keeps it only when the new object has none."""
    if options.from_client:
        return resource_type.status_subresource
    return "status" not in new


def _copy_status(source: JsonObject, target: JsonObject) -> None:
    if "status" in source:
        target["status"] = deep_copy(source["status"])
    else:
        target.pop("status", None)


def _spec_changed(resource_type: ResourceType, old: JsonObject, new: JsonObject) -> bool:
    """Generation moves when anything outside metadata changes; with a status subresource, status does not
    count either (a Gloo resource has none, so a status write there does bump it, as on a real server)."""
    ignored = {"metadata", "status"} if resource_type.status_subresource else {"metadata"}
    return not same_json({k: v for k, v in old.items() if k not in ignored},
                         {k: v for k, v in new.items() if k not in ignored})


def _metadata_errors(resource_type: ResourceType, metadata: JsonObject) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    name = metadata.get("name")
    if not name:
        errors.append(("metadata.name", "Required value: name or generateName is required"))
    elif resource_type.plural in _LABEL_NAMED:
        if len(name) > 63 or not _LABEL_NAME.match(name):
            errors.append(("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 label must consist '
                                            "of lower case alphanumeric characters or '-', and must start and "
                                            "end with an alphanumeric character"))
    elif len(name) > 253 or not _SUBDOMAIN.match(name):
        errors.append(("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist '
                                        "of lower case alphanumeric characters, '-' or '.', and must start and "
                                        "end with an alphanumeric character"))
    for key, value in (metadata.get("labels") or {}).items():
        prefix, _, label_name = key.rpartition("/")
        if (len(label_name) > 63 or not _QUALIFIED_NAME.match(label_name)
                or (prefix and (len(prefix) > 253 or not _SUBDOMAIN.match(prefix)))):
            errors.append(("metadata.labels", f'Invalid value: "{key}": name part must consist of alphanumeric '
                                              "characters, '-', '_' or '.', and must start and end with an "
                                              "alphanumeric character"))
        if len(value) > 63 or not _LABEL_VALUE.match(value):
            errors.append(("metadata.labels", f'Invalid value: "{value}": a valid label must be an empty string '
                                              "or consist of alphanumeric characters, '-', '_' or '.', and must "
                                              "start and end with an alphanumeric character"))
    return errors


@dataclass(frozen=True)
class DeploymentRollout:
    """What the Deployment controller would see, for `deployment_status`: `ready` pods of the current pod
    template available (None: every updated one), `updated` pods of the current template (None:
    spec.replicas), `old` available pods of earlier templates still serving (a rolling update in progress),
    `observed` whether the controller has seen the current generation, `stuck` whether the rollout passed
    its progressDeadlineSeconds."""

    ready: int | None = None
    updated: int | None = None
    old: int = 0
    observed: bool = True
    stuck: bool = False


def _scaled(value: Any, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is, "25%" of `total` rounded up or down."""
    if isinstance(value, int):
        return value
    percent = int(str(value).rstrip("%"))
    return -(-percent * total // 100) if round_up else percent * total // 100


def max_unavailable(deployment: JsonObject) -> int:
    """deploymentutil.MaxUnavailable: 0 for Recreate or no replicas; else maxUnavailable (default 25%, rounded
    down) resolved with maxSurge (default 25%, rounded up), 1 when both come to 0, at most spec.replicas."""
    spec = deployment.get("spec") or {}
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate" or replicas == 0:
        return 0
    rolling = strategy.get("rollingUpdate") or {}
    surge = _scaled(rolling.get("maxSurge", "25%"), replicas, round_up=True)
    unavailable = _scaled(rolling.get("maxUnavailable", "25%"), replicas, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return min(unavailable, replicas)


def _replica_set_name(deployment: JsonObject) -> str:
    """The current ReplicaSet's name: the Deployment's name and a hash of its pod template."""
    digest = hashlib.sha256(encode_json((deployment.get("spec") or {}).get("template") or {})).digest()
    return f"{deployment['metadata']['name']}-" + "".join("bcdfghjklmnpqrstvwxz2456789"[b % 27] for b in digest[:10])


def deployment_status(deployment: JsonObject, rollout: DeploymentRollout) -> JsonObject:
    """The status the Deployment controller (pkg/controller/deployment, calculateStatus and the progress
    checks) reports for `rollout`. Zero counts are omitted, as the real API serializes them (omitempty)."""
    wanted = int((deployment.get("spec") or {}).get("replicas", 1))
    updated = wanted if rollout.updated is None else rollout.updated
    ready = updated if rollout.ready is None else rollout.ready
    total, available = updated + rollout.old, ready + rollout.old
    generation = deployment["metadata"].get("generation", 1)
    counts = {
        "observedGeneration": generation if rollout.observed else generation - 1,
        "replicas": total,
        "updatedReplicas": updated,
        "readyReplicas": available,
        "availableReplicas": available,
        "unavailableReplicas": max(total - available, 0),
    }
    status: JsonObject = {key: value for key, value in counts.items() if value}
    minimum = available >= wanted - max_unavailable(deployment)
    replica_set = _replica_set_name(deployment)
    complete = rollout.observed and updated == wanted and total == wanted and available == wanted
    if rollout.stuck:
        progressing = ("False", "ProgressDeadlineExceeded", f'ReplicaSet "{replica_set}" has timed out progressing.')
    elif complete:
        progressing = ("True", "NewReplicaSetAvailable", f'ReplicaSet "{replica_set}" has successfully progressed.')
    else:
        progressing = ("True", "ReplicaSetUpdated", f'ReplicaSet "{replica_set}" is progressing.')
    status["conditions"] = [
        {"type": "Available", "status": "True" if minimum else "False",
         "reason": "MinimumReplicasAvailable" if minimum else "MinimumReplicasUnavailable",
         "message": "Deployment has minimum availability." if minimum
         else "Deployment does not have minimum availability."},
        {"type": "Progressing", "status": progressing[0], "reason": progressing[1], "message": progressing[2]},
    ]
    return status
