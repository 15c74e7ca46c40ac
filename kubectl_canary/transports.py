"""How requests reach the API server: a lean stdlib HTTPS connection, or the `kubernetes` package.

Both are a `Send`: (method, path?query, body, headers) -> (status, body). Failures to reach the
server become one `CanaryError` naming the server, never a traceback.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import tempfile
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from kubectl_canary.errors import CanaryError
from kubectl_canary.kubeconfig import Credentials

Send = Callable[[str, str, "bytes | None", "dict[str, str]"], "tuple[int, bytes]"]
_RETRYABLE = (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)


def _unreachable(server: str, error: BaseException, timeout: float) -> CanaryError:
    if isinstance(error, (socket.timeout, TimeoutError)):
        reason = f"no answer within {timeout:g}s (--request-timeout)"
    elif isinstance(error, ssl.SSLCertVerificationError):
        reason = f"TLS certificate verification failed: {error.verify_message}"
    elif isinstance(error, ConnectionRefusedError):
        reason = "connection refused"
    elif isinstance(error, _RETRYABLE):
        reason = "connection closed without a response"
    else:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return CanaryError(f"cannot reach the API server at {server}: {reason}")


def _ssl_context(credentials: Credentials) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if credentials.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif credentials.ca_pem:
        context.load_verify_locations(cadata=credentials.ca_pem)
    else:
        context.load_default_certs()
    if credentials.client_cert_pem and credentials.client_key_pem:
        # ssl only loads key pairs from files: a private file that lives for the load alone.
        fd, path = tempfile.mkstemp(prefix="kubectl-canary-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(credentials.client_cert_pem + "\n" + credentials.client_key_pem)
            context.load_cert_chain(path)
        finally:
            os.unlink(path)
    return context


def stdlib_transport(credentials: Credentials, timeout: float) -> Send:
    """One keep-alive connection for the whole command, TLS as the kubeconfig says."""
    url = urlsplit(credentials.server)
    host, port = url.hostname or "localhost", url.port
    prefix = url.path.rstrip("/")
    connection: list[http.client.HTTPConnection] = []

    def connect() -> http.client.HTTPConnection:
        if url.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=_ssl_context(credentials)
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.connect()
        # Without it every keep-alive request waits ~40 ms for a delayed ACK.
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def send(method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        if credentials.token:
            headers = {**headers, "Authorization": f"Bearer {credentials.token}"}
        headers = {**headers, "User-Agent": "kubectl-canary"}
        for attempt in range(2):
            reused = bool(connection)
            try:
                if not connection:
                    connection.append(connect())
                conn = connection[0]
                conn.request(method, prefix + path, body=body, headers=headers)
                response = conn.getresponse()
                return response.status, response.read()
            except _RETRYABLE as error:
                connection.clear()
                # A kept-alive connection the server closed: retry reads once on a new one.
                # Writes are never repeated behind the user's back.
                if attempt == 0 and reused and method == "GET":
                    continue
                raise _unreachable(credentials.server, error, timeout) from None
            except (OSError, http.client.HTTPException) as error:
                connection.clear()
                raise _unreachable(credentials.server, error, timeout) from None
        raise AssertionError("unreachable")

    return send


def kubernetes_transport(kubeconfig: str | None, context: str | None, timeout: float) -> tuple[str, str, Send]:
    """(server, namespace, send) through the `kubernetes` package: exec and auth-provider plugins,
    in-cluster config, proxies."""
    import urllib3
    from kubernetes import config as kube_config
    from kubernetes.client import Configuration
    from kubernetes.client.rest import RESTClientObject

    configuration = Configuration()
    namespace = "default"
    in_cluster = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    try:
        if (
            kubeconfig is None
            and not os.environ.get("KUBECONFIG")
            and os.path.exists(in_cluster)
            and not (os.path.exists(os.path.expanduser("~/.kube/config")))
        ):
            kube_config.load_incluster_config(client_configuration=configuration)
            with open(in_cluster) as f:
                namespace = f.read().strip() or namespace
        else:
            kube_config.load_kube_config(
                config_file=kubeconfig, context=context, client_configuration=configuration, persist_config=False
            )
            contexts, active = kube_config.list_kube_config_contexts(config_file=kubeconfig)
            chosen: Any = next((c for c in contexts if c["name"] == context), active)
            namespace = (chosen.get("context") or {}).get("namespace") or namespace
    except (kube_config.ConfigException, OSError) as error:
        source = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise CanaryError(f"cannot load kubeconfig {source}: {first}") from None

    pool = RESTClientObject(configuration).pool_manager
    server = configuration.host.rstrip("/")
    request_timeout = urllib3.Timeout(connect=timeout, read=timeout)

    def send(method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        token = configuration.auth_settings().get("BearerToken", {}).get("value")
        if token:
            headers = {**headers, "Authorization": token}
        retries = urllib3.Retry(total=1, read=1 if method == "GET" else 0, redirect=0, status=0)
        try:
            response = pool.request(
                method, server + path, body=body, headers=headers, timeout=request_timeout, retries=retries
            )
        except urllib3.exceptions.HTTPError as error:
            cause: BaseException = getattr(error, "reason", None) or error
            if isinstance(cause, (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ConnectTimeoutError)):
                cause = TimeoutError()
            elif "refused" in str(cause).lower():
                cause = ConnectionRefusedError()
            elif isinstance(cause, urllib3.exceptions.ProtocolError):
                cause = http.client.RemoteDisconnected("closed")
            raise _unreachable(server, cause, timeout) from None
        return response.status, response.data

    return server, namespace, send
