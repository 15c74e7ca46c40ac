"""`FakeApiServer`, the object tests hold: lifecycle, the kubeconfig, direct store access for seeding and
inspection, the request log, fault injection and the forbid hook."""

from __future__ import annotations

import builtins
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from .endpoints import WRITE_METHODS, ApiEndpoints, ApiRequest, ForbidRule, GrantRule, WatchReply, field_manager
from .faults import Fault, FaultPlan
from .json_values import JsonObject, encode_json
from .kubeconfig import write_kubeconfig
from .registry import DeploymentRollout, Registry, WriteOptions
from .resources import resource_type_for_object, resource_type_named
from .status import ApiError
from .store import ObjectStore
from .transport import CA_CERTIFICATE, HttpTransport, RequestHandler, close_events

SEED_MANAGER = "fake-seed"


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it. `status` is 0 when the connection was dropped without an answer;
    `manager` is the field manager a write was attributed to (None for reads and deletes)."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str | None
    status: int
    manager: str | None
    body: bytes = b""
    # Who asked, for the connection tests: the server instance, the TCP peer port (a test proxy knows
    # its own), the SNI name, the client certificate's subject, and the identity headers.
    instance: str = ""
    peer_port: int = 0
    sni: str | None = None
    client_subject: str | None = None
    authorization: str | None = None
    impersonate: tuple[tuple[str, str], ...] = ()
    user_agent: str | None = None

    @property
    def namespace(self) -> str | None:
        parts = self.path.split("/")
        return parts[parts.index("namespaces") + 1] if "namespaces" in parts[:-1] else None


class FakeApiServer:
    """A Kubernetes API server for tests: real HTTP on 127.0.0.1, an in-memory store, and the behaviour
    listed in the package docstring. Use it as a context manager (or `start()` / `stop()`)."""

    def __init__(self, *, token: str = "fake-token", user: str = "fake", host: str = "127.0.0.1",
                 name: str = "fake") -> None:
        self.name = name
        self._host = host
        self._store = ObjectStore()
        self._registry = Registry(self._store)
        self._faults = FaultPlan()
        self._log_lock = threading.Lock()
        self._requests: list[RequestRecord] = []
        self._stopping = threading.Event()
        self._endpoints = ApiEndpoints(self._registry, self._store, [token], user, self._stopping)
        self._response_headers: list[tuple[str, str]] = []
        self._http: HttpTransport | None = None
        self._thread: threading.Thread | None = None
        self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})

    @property
    def token(self) -> str:
        """The bearer token every request must carry."""
        return self._endpoints.tokens[0]

    def accept_tokens(self, *tokens: str) -> None:
        """Bearer tokens accepted from now on (replacing the others; `token` stays the first)."""
        self._endpoints.tokens = list(tokens)

    def add_response_header(self, name: str, value: str) -> None:
        """Send this header (e.g. `Warning: 299 - "..."`) on every JSON answer from now on."""
        self._response_headers.append((name, value))

    @property
    def user(self) -> str:
        """The user named in Forbidden messages and written into kubeconfigs."""
        return self._endpoints.user

    # --- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> FakeApiServer:
        if self._http is None:
            self._stopping.clear()
            self._http = HttpTransport(self._host, self._serve)
            self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.01},
                                            name="fake-apiserver", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._http is None:
            return
        self._stopping.set()
        self._store.close_subscriptions()
        self._http.shutdown()
        self._http.server_close()
        self._http.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._http = None
        self._thread = None

    def __enter__(self) -> FakeApiServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def _address(self) -> str:
        if self._http is None:
            raise RuntimeError("the fake API server is not started")
        return self._http.address

    @property
    def url(self) -> str:
        """Plain HTTP, for raw requests (send `Authorization: Bearer <token>`)."""
        return f"http://{self._address()}"

    @property
    def https_url(self) -> str:
        """The same server over TLS (certificate: `ca_certificate`); what kubeconfigs point at, because
        client-go (kubectl) sends no credentials over plain HTTP."""
        return f"https://{self._address()}"

    @property
    def ca_certificate(self) -> Path:
        """The PEM file to trust for `https_url` (a self-signed certificate for 127.0.0.1)."""
        return CA_CERTIFICATE

    def write_kubeconfig(self, path: str | Path, namespace: str = "default", context: str = "fake",
                         token: str | None = None, *, tls: bool = True) -> Path:
        """Write a kubeconfig for this server: a bearer-token user (`token=None`: the server's token),
        `https_url` with the certificate embedded (`tls=False`: the plain `url`, which kubectl reaches
        without credentials, so it gets 401)."""
        ca_data = self.ca_certificate.read_bytes() if tls else None
        return write_kubeconfig(path, self.https_url if tls else self.url, namespace=namespace, context=context,
                                token=self.token if token is None else token, user=self.user,
                                certificate_authority=ca_data)

    # --- direct store access (seeding and inspection; no HTTP, no log, no faults) --------------------

    def create(self, obj: JsonObject, *, manager: str | None = SEED_MANAGER) -> JsonObject:
        """Store an object as a POST would (metadata filled, validated, 409 if present); a Deployment's
        status is kept as given. `manager` owns its fields (an Update entry); None records no owner."""
        resource_type = resource_type_for_object(obj)
        namespace = (obj.get("metadata") or {}).get("namespace") if resource_type.namespaced else None
        if resource_type.namespaced and not namespace:
            namespace = "default"
        return self._registry.create(resource_type, namespace, obj, self._direct(manager))

    def ensure_namespace(self, name: str) -> JsonObject:
        existing = self.get("namespaces", None, name)
        if existing is not None:
            return existing
        return self.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def get(self, resource: str, namespace: str | None, name: str) -> JsonObject | None:
        resource_type = resource_type_named(resource)
        try:
            return self._registry.get(resource_type, namespace if resource_type.namespaced else None, name)
        except ApiError:
            return None

    def list(self, resource: str, namespace: str | None = None) -> list[JsonObject]:
        resource_type = resource_type_named(resource)
        items, _, _ = self._registry.list(resource_type, namespace if resource_type.namespaced else None, [])
        return items

    def replace(self, obj: JsonObject, *, manager: str | None = SEED_MANAGER) -> JsonObject:
        """Update a stored object as a PUT would (a stale metadata.resourceVersion raises 409), except that
        status may be set (and is kept when `obj` has none)."""
        resource_type = resource_type_for_object(obj)
        metadata = obj.get("metadata") or {}
        namespace = (metadata.get("namespace") or "default") if resource_type.namespaced else None
        return self._registry.update(resource_type, namespace, metadata.get("name", ""), obj,
                                     self._direct(manager))

    def apply(self, obj: JsonObject, *, manager: str, force: bool = False) -> JsonObject:
        """Server-side apply `obj` as `manager` (seeds an Apply owner, e.g. "helm")."""
        resource_type = resource_type_for_object(obj)
        metadata = obj.get("metadata") or {}
        namespace = (metadata.get("namespace") or "default") if resource_type.namespaced else None
        options = WriteOptions(manager=manager, force=force, from_client=False)
        result, _ = self._registry.patch(resource_type, namespace, metadata.get("name", ""),
                                         "application/apply-patch+yaml", encode_json(obj), options)
        return result

    def delete(self, resource: str, namespace: str | None, name: str) -> JsonObject | None:
        """Delete an object; returns its last state, or None if it was not there."""
        resource_type = resource_type_named(resource)
        try:
            return self._registry.delete(resource_type, namespace if resource_type.namespaced else None, name,
                                         {}, dry_run=False)
        except ApiError as error:
            if error.code == 404:
                return None
            raise

    def set_deployment_ready(self, namespace: str, name: str, ready: int | None = None) -> JsonObject:
        """Play the Deployment controller: status as if `ready` pods were ready (None: spec.replicas)."""
        return self._registry.set_deployment_status(namespace, name, DeploymentRollout(ready=ready))

    def set_deployment_status(self, namespace: str, name: str, *, ready: int | None = None,
                              updated: int | None = None, old: int = 0, observed: bool = True,
                              stuck: bool = False) -> JsonObject:
        """Play the Deployment controller for any state of a rollout (see `DeploymentRollout`): e.g. a rolling
        update in progress (`updated=1, ready=0, old=2`), or one past its progress deadline (`stuck=True`)."""
        rollout = DeploymentRollout(ready=ready, updated=updated, old=old, observed=observed, stuck=stuck)
        return self._registry.set_deployment_status(namespace, name, rollout)

    @property
    def auto_ready(self) -> bool:
        """When True every Deployment write gets status ready == spec.replicas."""
        return self._registry.auto_ready

    @auto_ready.setter
    def auto_ready(self, value: bool) -> None:
        self._registry.auto_ready = value

    @property
    def resource_version(self) -> str:
        """The current global resourceVersion."""
        return str(self._store.resource_version)

    @staticmethod
    def _direct(manager: str | None) -> WriteOptions:
        return WriteOptions(manager=manager or "", from_client=False)

    # --- request log, faults, forbid ------------------------------------------------------------------

    @property
    def requests(self) -> builtins.list[RequestRecord]:
        with self._log_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._log_lock:
            self._requests.clear()

    def inject_fault(self, fault: Fault, *, method: str | None = None, path_contains: str | None = None,
                     nth: int = 1, times: int = 1) -> None:
        """The `nth` request matching method/path (counted from now) and the `times - 1` after it get
        `fault`."""
        self._faults.add(fault, method, path_contains, nth, times)

    def clear_faults(self) -> None:
        self._faults.clear()

    def forbid(self, method: str, resource: str) -> None:
        """Answer 403 Forbidden to requests of this HTTP method ("PATCH") or verb ("patch", "list") on this
        resource ("routetables", or "*" for all)."""
        plural = resource if resource == "*" else resource_type_named(resource).plural
        self._endpoints.forbidden.append(ForbidRule(method, plural))

    def clear_forbidden(self) -> None:
        self._endpoints.forbidden.clear()
        self._endpoints.granted = None

    def grant(self, rules: builtins.list[JsonObject]) -> None:
        """RBAC as for a user bound to Roles with these `rules` (PolicyRules: apiGroups, resources, verbs):
        from now on every request they do not grant gets 403 Forbidden (discovery stays open, as a real
        server's system:discovery role keeps it). Namespaces and resourceNames are not checked."""
        self._endpoints.granted = [
            GrantRule(tuple(rule.get("apiGroups") or ()), tuple(rule.get("resources") or ()),
                      tuple(rule.get("verbs") or ()))
            for rule in rules
        ]

    def unserve(self, *groups: str) -> None:
        """As if the CRDs of these API groups were not installed ("gateway.networking.k8s.io"): absent from
        discovery, and any request under /apis/GROUP/ answers a plain-text 404, as a real server does."""
        self._endpoints.unserved = self._endpoints.unserved | frozenset(groups)

    # --- serving --------------------------------------------------------------------------------------

    def _serve(self, handler: RequestHandler) -> None:
        url = urlsplit(handler.path)
        request = ApiRequest(handler.command, url.path, dict(parse_qsl(url.query, keep_blank_values=True)),
                             handler.headers, handler.read_body())
        manager = field_manager(request) if request.method in WRITE_METHODS else None
        peer = handler.peer
        request = replace(request, client_subject=peer.client_subject)
        handler.extra_headers = list(self._response_headers)

        def record(status: int) -> None:
            entry = RequestRecord(request.method, request.path, dict(request.query),
                                  request.headers.get("Content-Type"), status, manager, request.body,
                                  self.name, peer.port, peer.sni, peer.client_subject,
                                  request.headers.get("Authorization"),
                                  tuple((k, v) for k, v in request.headers.items()
                                        if k.lower().startswith("impersonate-")),
                                  request.headers.get("User-Agent"))
            with self._log_lock:
                self._requests.append(entry)

        fault = self._faults.fault_for(request.method, request.path)
        if fault is not None:
            if fault.kind == "delay":
                time.sleep(fault.seconds)
            elif fault.kind == "drop":
                record(0)
                handler.drop()
                return
            elif fault.kind == "status":
                error = ApiError(fault.code, fault.reason, fault.message)
                if fault.retry_after is not None:
                    handler.extra_headers.append(("Retry-After", str(fault.retry_after)))
                record(error.code)
                handler.send_json(error.code, error.body())
                return
        reply = self._endpoints.respond(request, self._address())
        if fault is not None and fault.kind == "after_write_drop":
            if isinstance(reply, WatchReply):
                close_events(reply.events)
            record(0)
            handler.drop()
        elif isinstance(reply, WatchReply):
            record(200)
            handler.send_stream(reply.events)
        elif reply.text is not None:
            record(reply.status)
            handler.send_text(reply.status, reply.text)
        else:
            record(reply.status)
            handler.send_json(reply.status, reply.body)
