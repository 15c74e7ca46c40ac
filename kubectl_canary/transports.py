"""How requests reach the API server: a lean stdlib HTTPS connection, or the `kubernetes` package.

Both offer `send` (one request, whole answer) and `stream` (a watch: the answer line by line).
Failures to reach the server become one `CanaryError` naming the server, never a traceback, and
credentials never appear in any message.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
from collections.abc import Iterator
from typing import Any, Protocol
from urllib.parse import urlsplit

from kubectl_canary.errors import CanaryError
from kubectl_canary.kubeconfig import Credentials

_RETRYABLE = (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)


class Transport(Protocol):
    server: str

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]: ...

    def stream(self, path: str, headers: dict[str, str], timeout: float) -> tuple[int, Iterator[bytes]]:
        """GET whose answer is read line by line until the server ends it (or `timeout` passes idle)."""
        ...


def _unreachable(server: str, error: BaseException, timeout: float) -> CanaryError:
    if isinstance(error, (socket.timeout, TimeoutError)):
        reason = f"no answer within {timeout:g}s (--request-timeout)"
    elif isinstance(error, ssl.SSLCertVerificationError):
        reason = (
            f"TLS certificate verification failed ({error.verify_message}); check the kubeconfig's "
            f"certificate-authority, or pass --insecure-skip-tls-verify if you trust this network"
        )
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
        import tempfile

        fd, path = tempfile.mkstemp(prefix="kubectl-canary-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(credentials.client_cert_pem + "\n" + credentials.client_key_pem)
            context.load_cert_chain(path)
        finally:
            os.unlink(path)
    return context


class StdlibTransport:
    """One keep-alive connection for the whole command (watches get their own), TLS as configured."""

    def __init__(self, credentials: Credentials, timeout: float) -> None:
        self.server = credentials.server
        self._credentials = credentials
        self._timeout = timeout
        url = urlsplit(credentials.server)
        self._host, self._port, self._https = url.hostname or "localhost", url.port, url.scheme == "https"
        self._prefix = url.path.rstrip("/")
        self._context: ssl.SSLContext | None = None
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self._https:
            if self._context is None:
                self._context = _ssl_context(self._credentials)
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=timeout, context=self._context
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
        conn.connect()
        # Without it every keep-alive request waits ~40 ms for a delayed ACK.
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _headers(self, headers: dict[str, str]) -> dict[str, str]:
        extra = {"User-Agent": "kubectl-canary"}
        if self._credentials.token:
            extra["Authorization"] = f"Bearer {self._credentials.token}"
        return {**headers, **extra}

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in range(2):
            reused = self._connection is not None
            try:
                if self._connection is None:
                    self._connection = self._connect(self._timeout)
                self._connection.request(method, self._prefix + path, body=body, headers=self._headers(headers))
                response = self._connection.getresponse()
                return response.status, response.read()
            except _RETRYABLE as error:
                self._connection = None
                # A kept-alive connection the server closed: retry reads once on a new one.
                # Writes are never repeated behind the user's back.
                if attempt == 0 and reused and method == "GET":
                    continue
                raise _unreachable(self.server, error, self._timeout) from None
            except (OSError, http.client.HTTPException) as error:
                self._connection = None
                raise _unreachable(self.server, error, self._timeout) from None
        raise AssertionError("unreachable")

    def stream(self, path: str, headers: dict[str, str], timeout: float) -> tuple[int, Iterator[bytes]]:
        try:
            conn = self._connect(timeout)
            conn.request("GET", self._prefix + path, headers=self._headers(headers))
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as error:
            raise _unreachable(self.server, error, timeout) from None

        def lines() -> Iterator[bytes]:
            try:
                while line := response.readline():
                    yield line
            except (OSError, http.client.HTTPException) as error:
                raise _unreachable(self.server, error, timeout) from None
            finally:
                conn.close()

        if response.status >= 400:
            body = response.read()
            conn.close()
            return response.status, iter([body])
        return response.status, lines()


class KubernetesPackageTransport:
    """Through the `kubernetes` package: exec and auth-provider plugins, in-cluster config, proxies."""

    def __init__(self, kubeconfig: str | None, context: str | None, timeout: float, insecure: bool = False) -> None:
        import urllib3
        from kubernetes import config as kube_config
        from kubernetes.client import Configuration
        from kubernetes.client.rest import RESTClientObject

        configuration = Configuration()
        self.namespace = "default"
        in_cluster = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
        try:
            if (
                kubeconfig is None
                and not os.environ.get("KUBECONFIG")
                and os.path.exists(in_cluster)
                and not os.path.exists(os.path.expanduser("~/.kube/config"))
            ):
                kube_config.load_incluster_config(client_configuration=configuration)
                with open(in_cluster) as f:
                    self.namespace = f.read().strip() or self.namespace
            else:
                kube_config.load_kube_config(
                    config_file=kubeconfig, context=context, client_configuration=configuration, persist_config=False
                )
                contexts, active = kube_config.list_kube_config_contexts(config_file=kubeconfig)
                chosen: Any = next((c for c in contexts if c["name"] == context), active)
                self.namespace = (chosen.get("context") or {}).get("namespace") or self.namespace
        except (kube_config.ConfigException, OSError) as error:
            source = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise CanaryError(f"cannot load kubeconfig {source}: {first}") from None
        if insecure:
            configuration.verify_ssl = False
        self._urllib3 = urllib3
        self._configuration = configuration
        self._pool = RESTClientObject(configuration).pool_manager
        self.server = configuration.host.rstrip("/")
        self._timeout = timeout

    def _headers(self, headers: dict[str, str]) -> dict[str, str]:
        token = self._configuration.auth_settings().get("BearerToken", {}).get("value")
        return {**headers, "Authorization": token} if token else headers

    def _unreachable(self, error: Exception, timeout: float) -> CanaryError:
        errors = self._urllib3.exceptions
        cause: BaseException = getattr(error, "reason", None) or error
        if isinstance(cause, (errors.ReadTimeoutError, errors.ConnectTimeoutError)):
            cause = TimeoutError()
        elif "refused" in str(cause).lower():
            cause = ConnectionRefusedError()
        elif isinstance(cause, errors.ProtocolError):
            cause = http.client.RemoteDisconnected("closed")
        return _unreachable(self.server, cause, timeout)

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        retries = self._urllib3.Retry(total=1, read=1 if method == "GET" else 0, redirect=0, status=0)
        try:
            response = self._pool.request(
                method,
                self.server + path,
                body=body,
                headers=self._headers(headers),
                timeout=self._urllib3.Timeout(connect=self._timeout, read=self._timeout),
                retries=retries,
            )
        except self._urllib3.exceptions.HTTPError as error:
            raise self._unreachable(error, self._timeout) from None
        return response.status, response.data

    def stream(self, path: str, headers: dict[str, str], timeout: float) -> tuple[int, Iterator[bytes]]:
        try:
            response = self._pool.request(
                "GET",
                self.server + path,
                headers=self._headers(headers),
                timeout=self._urllib3.Timeout(connect=self._timeout, read=timeout),
                retries=False,
                preload_content=False,
            )
        except self._urllib3.exceptions.HTTPError as error:
            raise self._unreachable(error, timeout) from None
        if response.status >= 400:
            return response.status, iter([response.read()])

        def lines() -> Iterator[bytes]:
            buffer = b""
            try:
                for chunk in response.stream(1024, decode_content=True):
                    buffer += chunk
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        yield line + b"\n"
            except self._urllib3.exceptions.HTTPError as error:
                raise self._unreachable(error, timeout) from None
            finally:
                response.release_conn()
            if buffer:
                yield buffer

        return response.status, lines()
