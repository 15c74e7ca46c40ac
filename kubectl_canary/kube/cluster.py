"""The one place that talks to the API server: raw REST on the kinds of model/resources.py, errors as ApiError.

The `kubernetes` package is not used: it costs hundreds of milliseconds to load (docs/design.md
section 10), hides the content types we need, and resolves kubeconfigs its own way; kubeconfig.py
decides where and as whom to connect (as kubectl does: docs/design.md section 9), transports.py
carries the requests.
"""

from __future__ import annotations

import _thread
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlencode

from kubectl_canary.errors import ApiError, CanaryError, ForbiddenError, NotServedError
from kubectl_canary.kube.json_items import MalformedJSON, iter_items, list_metadata, without_managed_fields
from kubectl_canary.kube.kubeconfig import ConnectionOptions, KubeconfigError, resolve

__all__ = ["ConnectionOptions"]  # re-exported: callers build it beside connect()
from kubectl_canary.kube.transports import StdlibTransport, Transport
from kubectl_canary.model.resources import DEPLOYMENTS, Obj, Resource, resource_of

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
LIST_CHUNK = 500  # kubectl's --chunk-size: big collections come in pages (limit/continue)
LATER_PAGES_WAITING = 16  # read_ahead: pages of a later LIST that may wait for the consumer (8,000 objects)
DRY_RUN_MODES = ("none", "client", "server")


# What to install when a group's resources are not served.
_INSTALL = {
    "gateway.solo.io": "Gloo Edge and its CRDs (e.g. helm install gloo gloo/gloo -n gloo-system --create-namespace)",
    "gloo.solo.io": "Gloo Edge and its CRDs (e.g. helm install gloo gloo/gloo -n gloo-system --create-namespace)",
    "gateway.networking.k8s.io": "the Gateway API CRDs (standard channel) and a Gateway API implementation",
}


def _not_served(resource: Resource) -> str:
    what = _INSTALL.get(resource.group, f"the CRD of {resource.qualified}")
    return f"the API server does not serve {resource.qualified} ({resource.api_version}); install {what}"


def _verb(method: str, name: str | None, query: dict[str, str] | None) -> str:
    """The RBAC verb the API server checks for a request."""
    if method == "GET":
        return "get" if name else ("watch" if (query or {}).get("watch") else "list")
    return {"PATCH": "patch", "POST": "create", "PUT": "update", "DELETE": "delete"}.get(method, method.lower())


class Cluster:
    """Reads and writes objects. In client dry-run mode, writes are computed but never sent."""

    def __init__(
        self,
        transport: Transport,
        *,
        field_manager: str = "kubectl-canary",
        dry_run: str = "none",
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.server = transport.server
        self._transport = transport
        self.field_manager = field_manager
        self.dry_run = dry_run
        self._log = log
        self._one_request = _thread.allocate_lock()  # read_ahead's threads share the connection

    def _send(
        self,
        method: str,
        resource: Resource,
        namespace: str | None,
        name: str | None = None,
        query: dict[str, str] | None = None,
        body: Obj | None = None,
        content_type: str = "application/json",
    ) -> bytes:
        path = resource.path(namespace, name)
        url = path + ("?" + urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        with self._one_request:
            started = time.monotonic()
            status, payload = self._transport.send(method, url, data, headers)
        if self._log:
            self._log(f"{method} {self.server}{url} {status} in {1000 * (time.monotonic() - started):.0f} ms")
        if status >= 400:
            raise self._error(status, payload, _verb(method, name, query), resource, namespace)
        return payload

    def _decode(self, payload: bytes) -> Any:
        try:
            return json.loads(payload) if payload else {}
        except ValueError:
            raise CanaryError(f"the API server at {self.server} answered with invalid JSON") from None

    @staticmethod
    def _error(status: int, payload: bytes, verb: str, resource: Resource, namespace: str | None) -> CanaryError:
        try:
            decoded = json.loads(payload) if payload else {}
        except ValueError:
            decoded = {"message": payload[:200].decode(errors="replace")}
        if status == 403:
            return ForbiddenError(verb, resource, namespace, decoded)
        if status == 404 and not (decoded.get("details") or {}).get("name"):
            # Not "object not found" (that Status names the object) but "no such API": a missing CRD.
            return NotServedError(_not_served(resource))
        return ApiError(
            code=status,
            reason=str(decoded.get("reason") or "Unknown"),
            message=str(decoded.get("message") or f"HTTP {status}"),
            causes=list((decoded.get("details") or {}).get("causes") or []),
        )

    def _write_query(self, **extra: str) -> dict[str, str]:
        query = dict(extra)
        if self.dry_run == "server":
            query["dryRun"] = "All"
        return query

    def get(self, resource: Resource, namespace: str | None, name: str) -> Obj | None:
        """The object, or None when it does not exist."""
        try:
            result: Obj = self._decode(self._send("GET", resource, namespace, name))
        except ApiError as error:
            if error.code == 404:
                return None
            raise
        return result

    def list(
        self,
        resource: Resource,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        """All objects in `namespace` (None: every namespace)."""
        return list(self.iter_list(resource, namespace, label_selector, field_selector))

    def iter_list(
        self,
        resource: Resource,
        namespace: str | None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Iterator[Obj]:
        """Like `list`, but the objects are decoded one at a time as they are consumed, a page of
        LIST_CHUNK at a time (limit/continue, as kubectl)."""
        query = self._list_query(label_selector, field_selector)
        while True:
            text = self._send("GET", resource, namespace, None, query).decode()
            rest: dict[str, Any] = {}
            yield from self._page_items(resource, text, rest)
            token = (rest.get("metadata") or {}).get("continue") if isinstance(rest.get("metadata"), dict) else None
            if not token:
                return
            query = {**query, "continue": str(token)}

    @staticmethod
    def _list_query(label_selector: str | None, field_selector: str | None) -> dict[str, str]:
        query = {k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v}
        query["limit"] = str(LIST_CHUNK)
        return query

    def _page_items(self, resource: Resource, text: str, rest: dict[str, Any] | None = None) -> Iterator[Obj]:
        api_version, kind = resource.api_version, resource.kind
        try:
            for item in iter_items(text, rest):
                # LIST items of built-in kinds carry no kind; callers may print them.
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
                yield item
        except MalformedJSON:
            raise CanaryError(f"the API server at {self.server} answered with invalid JSON") from None

    def read_ahead(self, lists: Sequence[tuple[Resource, str | None]], *, managed_fields: bool = True
                   ) -> tuple[Iterator[Obj], ...]:
        """The same as `iter_list` of each (resource, namespace), with the pages fetched by threads ahead of
        their consumer: the API server prepares (and sends) the next page while this one is decoded, and the
        first LIST runs beside the second. The first LIST goes on this connection; the second starts on a
        second one once the first one's first page has come, so that a failed first LIST stops the others and
        a credential the first request renewed (an expired OIDC token, an exec plugin's) is renewed once, not
        by two connections at the same time; each later one follows the first on this connection once it has
        been fetched whole (or when its consumer asks for it, after an error), while the second, usually the
        longest, goes on. Errors reach the consumer in the order of `lists`. The first LIST
        keeps at most two pages waiting in memory; each later one up to LATER_PAGES_WAITING, so that its
        server is not kept waiting while the consumer is still on the first (status: the RouteTables may
        come from etcd, slower than the Deployments from the watch cache, and would otherwise stall until
        every Deployment is read).
        `managed_fields=False`: the objects may come without metadata.managedFields, which is then not
        decoded (json_items.without_managed_fields)."""
        readers = [_PageReader(self, *lists[0], managed_fields, waiting=1)] if lists else []
        if len(lists) > 1:
            twin = Cluster(self._transport.fork(), field_manager=self.field_manager, dry_run=self.dry_run,
                           log=self._log)
            readers.append(_PageReader(twin, *lists[1], managed_fields, waiting=LATER_PAGES_WAITING))
            readers += [_PageReader(self, resource, namespace, managed_fields, waiting=LATER_PAGES_WAITING)
                        for resource, namespace in lists[2:]]
            readers[0].after_first_page = readers[1]
        on_this_connection = readers[:1] + readers[2:]
        for reader, following in zip(on_this_connection, on_this_connection[1:]):
            reader.following = following
        return tuple(reader.items() for reader in readers)

    def watch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str | None,
        resource_version: str | None,
        timeout: float,
        label_selector: str | None = None,
    ) -> Iterator[tuple[str, Obj]]:
        """(event type, object) for changes after `resource_version` (None: the current objects first,
        as ADDED), of one object or of a namespace (None: all), until `timeout` seconds pass."""
        query = {"watch": "true", "timeoutSeconds": str(max(1, math.ceil(timeout)))}
        if name:
            query["fieldSelector"] = f"metadata.name={name}"
        if label_selector:
            query["labelSelector"] = label_selector
        if resource_version:
            query["resourceVersion"] = resource_version
        url = resource.path(namespace) + "?" + urlencode(query)
        if self._log:
            self._log(f"WATCH {self.server}{url}")
        status, lines = self._transport.stream(url, {"Accept": "application/json"}, timeout + 5)
        if status >= 400:
            raise self._error(status, b"".join(lines), "watch", resource, namespace)
        for line in lines:
            if line.strip():
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    return  # e.g. 410 Expired: the caller reads the object again
                yield str(event.get("type")), event.get("object") or {}

    def create(self, obj: Obj) -> Obj:
        """POST a new object (events: their names are generated)."""
        if self.dry_run == "client":
            return obj
        namespace = obj["metadata"].get("namespace")
        result: Obj = self._decode(self._send("POST", resource_of(obj), namespace, None, self._write_query(), obj))
        return result

    def apply(self, obj: Obj, *, force: bool = False) -> Obj:
        """Server-side apply (creates the object if absent). A body with a resourceVersion is conditional."""
        if self.dry_run == "client":
            return obj
        meta = obj["metadata"]
        query = self._write_query(fieldManager=self.field_manager, **({"force": "true"} if force else {}))
        result: Obj = self._decode(
            self._send("PATCH", resource_of(obj), meta.get("namespace"), meta["name"], query, obj, APPLY_CONTENT_TYPE)
        )
        return result

    def served_groups(self) -> set[str]:
        """The API groups the server serves: discovery (GET /apis), which every authenticated user may read."""
        with self._one_request:
            started = time.monotonic()
            status, payload = self._transport.send("GET", "/apis", None, {"Accept": "application/json"})
        if self._log:
            self._log(f"GET {self.server}/apis {status} in {1000 * (time.monotonic() - started):.0f} ms")
        if status >= 400:
            raise CanaryError(f"the API server at {self.server} answered {status} to GET /apis")
        groups = self._decode(payload).get("groups") or []
        return {str(group.get("name")) for group in groups if isinstance(group, dict)}

    def live_deployment(self, namespace: str, name: str) -> Obj | None:
        """The Deployment as it runs, for the guards that judge its readiness (offline: see manifest_cluster.py)."""
        return self.get(DEPLOYMENTS, namespace, name)

    def delete(self, resource: Resource, namespace: str, name: str) -> bool:
        """Delete; False when it was already gone."""
        if self.dry_run == "client":
            return True
        try:
            self._send("DELETE", resource, namespace, name, self._write_query())
        except ApiError as error:
            if error.code == 404:
                return False
            raise
        return True


class _PageReader:
    """One LIST, fetched page by page by a thread into a queue its consumer (`items`) decodes from."""

    def __init__(self, cluster: Cluster, resource: Resource, namespace: str | None, managed_fields: bool, *,
                 waiting: int) -> None:
        import queue
        import threading

        self._cluster, self._resource, self._namespace = cluster, resource, namespace
        self._managed_fields = managed_fields
        # Pages fetched and not yet consumed: `waiting` in the queue, and one more in hand.
        self._pages: queue.Queue[str | BaseException | None] = queue.Queue(maxsize=waiting)
        self._started = threading.Lock()
        self._abandoned = threading.Event()
        self.after_first_page: _PageReader | None = None  # started once this LIST's first page has come
        self.following: _PageReader | None = None  # started once this LIST has been fetched whole
        self._thread = threading.Thread(target=self._fetch, daemon=True)

    def start(self) -> None:
        if self._started.acquire(blocking=False):
            self._thread.start()

    def _put(self, page: str | BaseException | None) -> bool:
        """Hand a page over; False once the consumer has gone."""
        import queue

        while not self._abandoned.is_set():
            try:
                self._pages.put(page, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _fetch(self) -> None:
        cluster = self._cluster
        query = cluster._list_query(None, None)
        try:
            while True:
                text = cluster._send("GET", self._resource, self._namespace, None, query).decode()
                if not self._managed_fields:
                    text = without_managed_fields(text)
                try:
                    metadata = list_metadata(text)
                except MalformedJSON:
                    raise CanaryError(f"the API server at {cluster.server} answered with invalid JSON") from None
                token = metadata.get("continue") if isinstance(metadata, dict) else None
                if self.after_first_page is not None:
                    self.after_first_page.start()
                    self.after_first_page = None
                if not self._put(text) or not token:
                    break
                query = {**query, "continue": str(token)}
        except BaseException as error:  # the consumer raises it where iter_list would have
            self._put(error)
            return
        if self._put(None) and self.following is not None:
            self.following.start()

    def items(self) -> Iterator[Obj]:
        self.start()
        try:
            while True:
                page = self._pages.get()
                if page is None:
                    return
                if isinstance(page, BaseException):
                    raise page
                yield from self._cluster._page_items(self._resource, page)
        finally:
            self._abandoned.set()


def connect(
    options: ConnectionOptions, *, field_manager: str, dry_run: str, log: Callable[[str], None] | None = None
) -> tuple[Cluster, str]:
    """A Cluster for the kubeconfig context (or in-cluster config), and that context's namespace."""
    try:
        credentials = resolve(options)
    except KubeconfigError as error:
        raise CanaryError(f"cannot load kubeconfig: {error}") from None
    transport = StdlibTransport(credentials, options.request_timeout)
    return Cluster(transport, field_manager=field_manager, dry_run=dry_run, log=log), credentials.namespace
