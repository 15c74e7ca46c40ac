"""The Kubernetes REST API over the registry: auth, discovery, routing of API paths to verbs, the forbid
hook, query parameters, and the answer of each verb (a JSON reply or a watch stream)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from . import resources
from .json_values import JsonObject, decode_json, decode_yaml_or_json
from .registry import Registry, WriteOptions
from .resources import ResourceType, find_resource_type
from .selectors import EVENT_FIELDS, Matcher, SelectorError, parse_field_selector, parse_label_selector
from .status import (
    ApiError,
    bad_request,
    forbidden,
    internal_error,
    method_not_allowed,
    path_not_found,
    success_status,
    unauthorized,
    unsupported_media_type,
)
from .store import ObjectStore
from .watch import WatchFilter, watch_events

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: Message
    body: bytes
    client_subject: str | None = None  # a verified TLS client certificate authenticates its holder

    @property
    def media_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class Route:
    resource_type: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    verb: str


@dataclass
class Reply:
    status: int
    body: JsonObject
    # A plain-text answer instead of JSON: what a real server sends for an API group it does not serve.
    text: str | None = None


PAGE_NOT_FOUND = Reply(404, {}, "404 page not found\n")


@dataclass
class WatchReply:
    events: Iterator[JsonObject]


@dataclass(frozen=True)
class ForbidRule:
    method_or_verb: str  # an HTTP method ("PATCH"), a verb ("patch", "list"), or "*" for all
    resource: str  # plural, or "*"


@dataclass(frozen=True)
class GrantRule:
    """One rule of a Role or ClusterRole (apiGroups, resources, verbs; "*" matches any)."""

    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]

    def allows(self, group: str, plural: str, verb: str) -> bool:
        return all(wanted in granted or "*" in granted
                   for wanted, granted in ((group, self.api_groups), (plural, self.resources), (verb, self.verbs)))


def field_manager(request: ApiRequest) -> str:
    """The manager a write is attributed to: `fieldManager`, else the User-Agent's product token."""
    explicit = request.query.get("fieldManager")
    if explicit:
        return explicit
    agent = (request.headers.get("User-Agent") or "").split("/", 1)[0].strip()
    return agent[:128] if agent else "unknown"


_TRUE = frozenset({"1", "t", "T", "true", "TRUE", "True"})
_FALSE = frozenset({"", "0", "f", "F", "false", "FALSE", "False"})


def _query_bool(request: ApiRequest, name: str) -> bool:
    """A boolean query parameter, parsed like Go's strconv.ParseBool (the client sends `watch=True`)."""
    value = request.query.get(name, "")
    if value not in _TRUE | _FALSE:
        raise bad_request(f"{name}: invalid boolean {value!r}")
    return value in _TRUE


def route_of(segments: list[str], request: ApiRequest) -> Route:
    """The resource, namespace, name, subresource and verb a request path and method address."""
    if segments[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", segments[2:]
    elif len(segments) >= 3 and segments[0] == "apis":
        group, version, rest = segments[1], segments[2], segments[3:]
    else:
        raise path_not_found()
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces" and find_resource_type(group, version, rest[2]):
        namespace, rest = rest[1], rest[2:]
    resource_type = find_resource_type(group, version, rest[0]) if rest else None
    if resource_type is None or len(rest) > 3:
        raise path_not_found()
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if namespace is not None and not resource_type.namespaced:
        raise path_not_found()
    if name is not None and resource_type.namespaced and namespace is None:
        raise path_not_found()
    if subresource is not None and (subresource != "status" or not resource_type.status_subresource):
        raise path_not_found()
    whole_collection = resource_type.namespaced and namespace is None
    method = request.method
    if method in ("GET", "HEAD"):
        watch = _query_bool(request, "watch")
        verb = "get" if name is not None else "watch" if watch else "list"
    elif method == "POST" and name is None and not whole_collection:
        verb = "create"
    elif method == "PUT" and name is not None:
        verb = "update"
    elif method == "PATCH" and name is not None:
        verb = "patch"
    elif method == "DELETE" and subresource is None:
        verb = "delete" if name is not None else "deletecollection"
        if whole_collection:
            raise method_not_allowed(method)
    else:
        raise method_not_allowed(method)
    return Route(resource_type, namespace, name, subresource, verb)


def discovery(segments: list[str], server_address: str, unserved: frozenset[str] = frozenset()) -> JsonObject | None:
    if segments == ["api"]:
        return resources.api_versions(server_address)
    if segments == ["apis"]:
        return resources.api_group_list(unserved)
    if segments == ["version"]:
        return dict(resources.VERSION_INFO)
    if len(segments) == 2 and segments[0] == "api":
        return resources.api_resource_list("", segments[1])
    if len(segments) == 2 and segments[0] == "apis" and segments[1] not in unserved:
        return resources.api_group(segments[1])
    if len(segments) == 3 and segments[0] == "apis" and segments[1] not in unserved:
        return resources.api_resource_list(segments[1], segments[2])
    return None


def _served_group(segments: list[str], unserved: frozenset[str]) -> bool:
    """Whether a path names an API group the server serves: for any other, a real server's mux answers
    a plain-text 404 "404 page not found" (no Status; a served group's unknown resource gets a Status)."""
    if segments[:1] != ["apis"]:
        return True
    return len(segments) > 1 and segments[1] not in unserved and resources.api_group(segments[1]) is not None


@dataclass
class ApiEndpoints:
    registry: Registry
    store: ObjectStore
    tokens: list[str]
    user: str
    stopping: threading.Event
    forbidden: list[ForbidRule] = field(default_factory=list)
    # API groups whose CRDs are not installed: absent from discovery, and their paths a plain-text 404.
    unserved: frozenset[str] = frozenset()
    # RBAC: once set, only what these rules grant is allowed (403 otherwise), as for a user bound to a Role.
    granted: list[GrantRule] | None = None

    def respond(self, request: ApiRequest, server_address: str) -> Reply | WatchReply:
        """The answer to a request; errors become Status replies, never exceptions."""
        try:
            authorization = request.headers.get("Authorization") or ""
            if authorization not in [f"Bearer {token}" for token in self.tokens] and not request.client_subject:
                raise unauthorized()
            segments = [segment for segment in request.path.split("/") if segment]
            if request.method in ("GET", "HEAD"):
                document = discovery(segments, server_address, self.unserved)
                if document is not None:
                    return Reply(200, document)
            try:
                target = route_of(segments, request)
            except ApiError:
                if not _served_group(segments, self.unserved):
                    return PAGE_NOT_FOUND
                raise
            # A real server authorizes before it routes: a forbidden request gets 403 even for an unserved kind.
            self._check_forbidden(request.method, target)
            if not _served_group(segments, self.unserved):
                return PAGE_NOT_FOUND
            verbs: dict[str, Callable[[Route, ApiRequest], Reply | WatchReply]] = {
                "get": self._get, "list": self._list, "watch": self._watch, "create": self._create,
                "update": self._update, "patch": self._patch, "delete": self._delete,
                "deletecollection": self._delete_collection,
            }
            return verbs[target.verb](target, request)
        except ApiError as error:
            return Reply(error.code, error.body())
        except Exception as error:  # a bug in the fake: answer like the real server would, loudly
            failure = internal_error(f"fake apiserver: {type(error).__name__}: {error}")
            return Reply(failure.code, failure.body())

    def _check_forbidden(self, method: str, target: Route) -> None:
        resource_type = target.resource_type
        refused = forbidden(resource_type, target.name or "", self.user, target.verb, target.namespace)
        for rule in self.forbidden:
            if rule.resource not in ("*", resource_type.plural):
                continue
            verb = rule.method_or_verb
            if verb == "*" or verb.upper() == method or verb.lower() == target.verb:
                raise refused
        plural = f"{resource_type.plural}/{target.subresource}" if target.subresource else resource_type.plural
        if self.granted is not None and not any(rule.allows(resource_type.group, plural, target.verb)
                                                for rule in self.granted):
            raise refused

    # --- verbs ----------------------------------------------------------------------------------------

    @staticmethod
    def _options(request: ApiRequest, route: Route) -> WriteOptions:
        dry_run = request.query.get("dryRun", "")
        if dry_run not in ("", "All"):
            raise bad_request(f'dryRun: Unsupported value: "{dry_run}": supported values: "All"')
        validation = request.query.get("fieldValidation", "")
        if validation not in ("", "Ignore", "Warn", "Strict"):
            raise bad_request(f"fieldValidation: Unsupported value: {validation!r}: supported values: "
                              f'"Ignore", "Strict", "Warn"')
        manager = request.query.get("fieldManager") or ""
        if len(manager) > 128:
            raise bad_request("fieldManager: Too long: may not be more than 128 bytes")
        if route.verb != "patch" or request.media_type != "application/apply-patch+yaml":
            manager = field_manager(request)
        return WriteOptions(manager=manager, dry_run=dry_run == "All", force=_query_bool(request, "force"),
                            field_validation=validation, subresource=route.subresource)

    @staticmethod
    def _decoded_body(request: ApiRequest) -> Any:
        media_type = request.media_type
        try:
            if media_type in ("application/json", ""):
                return decode_json(request.body)
            if media_type == "application/yaml":
                return decode_yaml_or_json(request.body)
        except ValueError as error:
            raise bad_request(f"error decoding the request body: {error}") from error
        raise unsupported_media_type(["application/json", "application/yaml"])

    def _get(self, route: Route, request: ApiRequest) -> Reply:
        return Reply(200, self.registry.get(route.resource_type, route.namespace, route.name or ""))

    @staticmethod
    def _matchers(request: ApiRequest, plural: str = "") -> list[Matcher]:
        extra = EVENT_FIELDS if plural == "events" else ()
        try:
            return [parse_label_selector(request.query.get("labelSelector", "")),
                    parse_field_selector(request.query.get("fieldSelector", ""), extra_fields=extra)]
        except SelectorError as error:
            raise bad_request(str(error)) from error

    def _list(self, route: Route, request: ApiRequest) -> Reply:
        resource_type = route.resource_type
        matchers = self._matchers(request, resource_type.plural)
        offset, limit, token = self._page_request(request)
        window = slice(offset, offset + limit if limit > 0 else None)
        items, resource_version, total = self.registry.list(resource_type, route.namespace, matchers, window)
        metadata: JsonObject = {"resourceVersion": resource_version}
        if token and token.split("-", 1)[1:] != [resource_version]:
            metadata["resourceVersion"] = token.split("-", 1)[1]  # the snapshot the pages share
        if limit > 0 and offset + limit < total:
            metadata["continue"] = f"{offset + limit}-{metadata['resourceVersion']}"
            metadata["remainingItemCount"] = total - offset - limit
        if resource_type.builtin:  # typed lists leave apiVersion/kind out of their items
            for item in items:
                item.pop("apiVersion", None)
                item.pop("kind", None)
        return Reply(200, {"kind": resource_type.list_kind, "apiVersion": resource_type.api_version,
                            "metadata": metadata, "items": items})

    @staticmethod
    def _page_request(request: ApiRequest) -> tuple[int, int, str]:
        """limit/continue: (offset, limit, token). A real server's token is opaque and pins the
        resourceVersion; this one is the offset and the list's version."""
        try:
            limit = int(request.query.get("limit") or 0)
            token = request.query.get("continue") or ""
            offset = int(token.split("-", 1)[0]) if token else 0
        except ValueError as error:
            raise bad_request(f"invalid limit or continue: {error}") from error
        return offset, limit, token

    def _watch(self, route: Route, request: ApiRequest) -> WatchReply:
        since_text = request.query.get("resourceVersion", "")
        try:
            since = int(since_text) if since_text not in ("", "0") else None
            timeout_text = request.query.get("timeoutSeconds", "")
            timeout = float(timeout_text) if timeout_text else None
        except ValueError as error:
            raise bad_request(f"invalid watch parameter: {error}") from error
        watch_filter = WatchFilter(route.namespace, tuple(self._matchers(request, route.resource_type.plural)))
        return WatchReply(watch_events(self.store, route.resource_type, watch_filter, since, timeout,
                                        self.stopping))

    def _create(self, route: Route, request: ApiRequest) -> Reply:
        body = self._decoded_body(request)
        created = self.registry.create(route.resource_type, route.namespace, body,
                                        self._options(request, route))
        return Reply(201, created)

    def _update(self, route: Route, request: ApiRequest) -> Reply:
        body = self._decoded_body(request)
        updated = self.registry.update(route.resource_type, route.namespace, route.name or "", body,
                                        self._options(request, route))
        return Reply(200, updated)

    def _patch(self, route: Route, request: ApiRequest) -> Reply:
        patched, created = self.registry.patch(route.resource_type, route.namespace, route.name or "",
                                                request.media_type, request.body, self._options(request, route))
        return Reply(201 if created else 200, patched)

    def _delete_options(self, request: ApiRequest) -> tuple[JsonObject, bool]:
        options: Any = {}
        if request.body.strip():
            try:
                options = decode_json(request.body)
            except ValueError as error:
                raise bad_request(f"error decoding DeleteOptions: {error}") from error
        if not isinstance(options, dict):
            raise bad_request("DeleteOptions must be an object")
        dry_run = request.query.get("dryRun") == "All" or "All" in (options.get("dryRun") or [])
        return options, dry_run

    def _deleted_reply(self, resource_type: ResourceType, deleted: JsonObject) -> JsonObject:
        if resource_type.builtin and resource_type is not resources.NAMESPACES:
            return success_status(resource_type, deleted["metadata"]["name"], deleted["metadata"]["uid"])
        return deleted

    def _delete(self, route: Route, request: ApiRequest) -> Reply:
        options, dry_run = self._delete_options(request)
        deleted = self.registry.delete(route.resource_type, route.namespace, route.name or "", options, dry_run)
        return Reply(200, self._deleted_reply(route.resource_type, deleted))

    def _delete_collection(self, route: Route, request: ApiRequest) -> Reply:
        options, dry_run = self._delete_options(request)
        items, resource_version, _ = self.registry.list(route.resource_type, route.namespace,
                                                         self._matchers(request, route.resource_type.plural))
        deleted = [self.registry.delete(route.resource_type, route.namespace, item["metadata"]["name"],
                                         options, dry_run) for item in items]
        return Reply(200, {"kind": route.resource_type.list_kind, "apiVersion": route.resource_type.api_version,
                            "metadata": {"resourceVersion": resource_version}, "items": deleted})
