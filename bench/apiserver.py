"""A real API server for the benchmark: start and stop one from ../shared/k8s, install the CRDs, and talk
to it from this process with a minimal client (keep-alive HTTPS, the admin kubeconfig's client
certificate), fast enough to store tens of thousands of objects in parallel and to measure what the
server alone needs to answer a LIST."""

from __future__ import annotations

import base64
import http.client
import json
import multiprocessing
import os
import re
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import yaml

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
K8S = SHARED / "k8s"
CRDS = SHARED / "crds"
Obj = dict[str, Any]


class ApiFailed(Exception):
    """The API server answered a request of the benchmark's own with an error."""


@dataclass(frozen=True)
class ControlPlane:
    directory: Path
    kubeconfig: Path
    up_seconds: float


@contextmanager
def control_plane(directory: Path, *, controller_manager: bool, say: Callable[[str], None]) -> Iterator[ControlPlane]:
    """`up DIR` (stdout is the kubeconfig path), and always `down DIR --wipe` afterwards, even after a failed up."""
    env = dict(os.environ)
    env.pop("NO_CONTROLLER_MANAGER", None)
    if not controller_manager:
        env["NO_CONTROLLER_MANAGER"] = "1"
    began = time.perf_counter()
    try:
        done = subprocess.run(
            [str(K8S / "up"), str(directory)], env=env, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise ApiFailed(f"{K8S / 'up'} {directory} failed:\n{done.stderr[-3000:]}")
        plane = ControlPlane(directory, Path(done.stdout.splitlines()[-1]), time.perf_counter() - began)
        say(
            f"control plane up in {plane.up_seconds:.1f}s"
            + ("" if controller_manager else " (no controller-manager)")
        )
        yield plane
    finally:
        subprocess.run([str(K8S / "down"), str(directory), "--wipe"], capture_output=True, check=False)


def install_crds(kubectl: str, kubeconfig: Path, env: dict[str, str]) -> list[str]:
    """Server-side apply of every CRD below ../shared/crds (gateway-api/ included), then wait until each
    is Established (right after the apply `kubectl wait` may fail at once: the CRD has no status yet)."""
    env = {**env, "KUBECONFIG": str(kubeconfig)}
    applied = subprocess.run(
        [kubectl, "apply", "--server-side", "--force-conflicts", "-R", "-f", str(CRDS), "-o", "name"],
        env=env,
        capture_output=True,
        text=True,
    )
    if applied.returncode != 0:
        raise ApiFailed(f"installing the CRDs failed: {applied.stderr.strip()}")
    names = [line.strip() for line in applied.stdout.splitlines() if line.strip()]
    for _ in range(80):
        waited = subprocess.run(
            [kubectl, "wait", "--for=condition=Established", "--timeout=60s", *names],
            env=env,
            capture_output=True,
            text=True,
        )
        if waited.returncode == 0:
            return [n.split("/", 1)[1] for n in names]
        time.sleep(0.25)
    raise ApiFailed(f"the CRDs did not become Established: {waited.stderr.strip()}")


# --- a minimal client -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """The admin kubeconfig's server and TLS material, as files an ssl context loads."""

    server: str
    host: str
    port: int
    ca: Path
    cert: Path
    key: Path

    @classmethod
    def from_kubeconfig(cls, kubeconfig: Path, into: Path) -> Credentials:
        config = yaml.safe_load(kubeconfig.read_text())
        context = next(c["context"] for c in config["contexts"] if c["name"] == config["current-context"])
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        into.mkdir(parents=True, exist_ok=True)
        files = {}
        for name, data in (
            ("ca.crt", cluster["certificate-authority-data"]),
            ("client.crt", user["client-certificate-data"]),
            ("client.key", user["client-key-data"]),
        ):
            path = into / name
            path.write_bytes(base64.b64decode(data))
            path.chmod(0o600)
            files[name] = path
        url = urlsplit(cluster["server"])
        return cls(
            server=cluster["server"],
            host=url.hostname or "127.0.0.1",
            port=url.port or 443,
            ca=files["ca.crt"],
            cert=files["client.crt"],
            key=files["client.key"],
        )

    def context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca))
        context.load_cert_chain(str(self.cert), str(self.key))
        return context


class Client:
    """One keep-alive HTTPS connection per thread. JSON in, JSON out; errors raise ApiFailed."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self._context = credentials.context()
        self._local = threading.local()

    def connect(self) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            self.credentials.host, self.credentials.port, context=self._context, timeout=300
        )

    def _connection(self) -> http.client.HTTPSConnection:
        connection: http.client.HTTPSConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self.connect()
        return connection

    def raw(self, method: str, path: str, body: Obj | None = None, content_type: str = "application/json") -> bytes:
        """The response body; retried on a dropped connection and on 429/5xx (the server is busy while
        the benchmark fills it), raises on any other error."""
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = content_type
        for attempt in range(8):
            connection = self._connection()
            try:
                connection.request(method, path, payload, headers)
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                self._local.connection = None
                time.sleep(0.2 * (attempt + 1))
                continue
            if response.status == 429 or response.status >= 500:
                time.sleep(0.2 * (attempt + 1))
                continue
            if response.status >= 400:
                raise ApiFailed(f"{method} {path}: {response.status} {data[:400].decode(errors='replace')}")
            return data
        raise ApiFailed(f"{method} {path}: no answer after 8 attempts")

    def call(self, method: str, path: str, body: Obj | None = None, content_type: str = "application/json") -> Obj:
        data = self.raw(method, path, body, content_type)
        return json.loads(data) if data else {}

    def merge_patch(self, path: str, patch: Obj) -> Obj:
        return self.call("PATCH", path, patch, "application/merge-patch+json")


def api_path(obj: Obj, subresource: str = "", *, collection: bool = False) -> str:
    """The REST path of an object (or of its collection) from its apiVersion, kind and namespace."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    plural = PLURALS[kind]
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    namespace = obj["metadata"].get("namespace")
    path = f"{base}/namespaces/{namespace}/{plural}" if namespace else f"{base}/{plural}"
    if not collection:
        path += f"/{obj['metadata']['name']}"
    return path + (f"/{subresource}" if subresource else "")


PLURALS = {
    "Namespace": "namespaces",
    "Deployment": "deployments",
    "Pod": "pods",
    "RouteTable": "routetables",
    "HTTPRoute": "httproutes",
    "VirtualService": "virtualservices",
}


def create(client: Client, obj: Obj) -> Obj:
    return client.call("POST", api_path(obj, collection=True), obj)


def in_parallel(jobs: Sequence[Callable[[], object]], threads: int) -> None:
    """Run every job on a pool of `threads` (each thread keeps its own connection); the first error wins."""
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(job) for job in jobs]:
            future.result()


# --- LISTs as the floor: the server's own time -------------------------------------------------------

_CONTINUE = re.compile(rb'"continue":"([^"]*)"')


def continue_token(body: bytes) -> str:
    """The list's `metadata.continue`, found without decoding the items: built-in kinds put the list's
    metadata ahead of the items, custom resources (keys in alphabetical order) after them."""
    items = body.find(b'"items":')
    head = body[:items] if items >= 0 else body
    if b'"metadata":{' in head:
        found = _CONTINUE.search(head)
    else:
        tail = body.rfind(b'"metadata":{')
        found = _CONTINUE.search(body, tail, tail + 4096) if tail > items else None
    return quote(found.group(1).decode(), safe="") if found and found.group(1) else ""


def list_pages(connection: http.client.HTTPSConnection, first: str) -> tuple[int, int]:
    """GET `first` and every page after it (limit/continue, as the plugin pages), reading the bodies but
    decoding nothing: (bytes, pages)."""
    size = pages = 0
    path = first
    while True:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise ApiFailed(f"GET {path}: {response.status} {body[:300].decode(errors='replace')}")
        size += len(body)
        pages += 1
        token = continue_token(body)
        if not token:
            return size, pages
        path = re.sub(r"([?&])continue=[^&]*&?", r"\1", first).rstrip("?&")
        path += ("&" if "?" in path else "?") + "continue=" + token


@dataclass(frozen=True)
class Floor:
    ms: float
    bytes: int
    pages: int
    client_cpu_ms: float  # what the minimal client itself spent: TLS, reading the chunked bodies


def floor_sequential(client: Client, paths: Sequence[str]) -> Floor:
    """The LISTs one after the other on one new connection (its TLS handshake included)."""
    began, cpu = time.perf_counter(), time.process_time()
    connection = client.connect()
    size = pages = 0
    try:
        for path in paths:
            got, count = list_pages(connection, path)
            size, pages = size + got, pages + count
    finally:
        connection.close()
    return Floor((time.perf_counter() - began) * 1000.0, size, pages, (time.process_time() - cpu) * 1000.0)


class ParallelFloor:
    """Each LIST on its own new connection, all at once, each in a process of its own: Python threads
    reading sockets queue on the interpreter lock (a thread that waited on I/O waits again for the lock),
    which would add to the server's time what only a threaded Python client costs. The worker processes
    are started (and their TLS context built) before anything is timed."""

    def __init__(self, credentials: Credentials, workers: int) -> None:
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        self._credentials = credentials
        list(self._pool.map(_worker_ready, [credentials] * workers, [0.2] * workers))

    def __call__(self, paths: Sequence[str]) -> Floor:
        """From handing out the LISTs to the last byte of the last one."""
        began = time.perf_counter()
        results = list(self._pool.map(_worker_list, [self._credentials] * len(paths), paths))
        return Floor(
            (time.perf_counter() - began) * 1000.0,
            sum(r[0] for r in results),
            sum(r[1] for r in results),
            sum(r[2] for r in results),
        )

    def close(self) -> None:
        self._pool.shutdown()


_WORKER_CONTEXT: dict[Credentials, ssl.SSLContext] = {}


def _worker_client(credentials: Credentials) -> Client:
    client = Client.__new__(Client)
    client.credentials = credentials
    client._context = _WORKER_CONTEXT.setdefault(credentials, credentials.context())
    client._local = threading.local()
    return client


def _worker_ready(credentials: Credentials, seconds: float) -> None:
    _worker_client(credentials)
    time.sleep(seconds)  # holds this worker, so that every worker gets started


def _worker_list(credentials: Credentials, path: str) -> tuple[int, int, float]:
    cpu = time.process_time()
    connection = _worker_client(credentials).connect()
    try:
        size, pages = list_pages(connection, path)
    finally:
        connection.close()
    return size, pages, (time.process_time() - cpu) * 1000.0


# --- where LISTs are served from ---------------------------------------------------------------------

_COUNTER = re.compile(r'^(apiserver_cache_list_total|apiserver_storage_list_total)\{([^}]*)\} ([0-9.e+]+)$')


def list_counters(client: Client) -> dict[tuple[str, str], float]:
    """(counter, resource) -> value: LISTs served from the watch cache and from etcd, from /metrics."""
    text = client.raw("GET", "/metrics").decode()
    counters: dict[tuple[str, str], float] = {}
    for line in text.splitlines():
        found = _COUNTER.match(line)
        if found:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', found.group(2)))
            key = (found.group(1), labels.get("resource", ""))
            counters[key] = counters.get(key, 0.0) + float(found.group(3))
    return counters


def served_from(before: dict[tuple[str, str], float], after: dict[tuple[str, str], float]) -> dict[str, Obj]:
    """resource -> {"watch_cache": n, "etcd": n}: the LIST requests between two snapshots of the counters."""
    served: dict[str, Obj] = {}
    for (counter, resource), value in after.items():
        delta = int(value - before.get((counter, resource), 0.0))
        if delta:
            where = "watch_cache" if counter == "apiserver_cache_list_total" else "etcd"
            served.setdefault(resource, {"watch_cache": 0, "etcd": 0})[where] += delta
    return served
