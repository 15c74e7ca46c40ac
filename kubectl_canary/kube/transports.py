"""How requests reach the API server: stdlib HTTP(S) with kubectl's habits.

`send` (one request, whole answer) and `stream` (a watch: the answer line by line), over TLS with the
kubeconfig's CA, client certificate and tls-server-name (SNI and the name verified), through an HTTP
CONNECT proxy when kubeconfig.py chose one. Like client-go: 429 with Retry-After is retried within
--request-timeout, a 401 is retried once when the credential could be refreshed, the server's Warning
headers are printed once each as `Warning: ...`, and the User-Agent names the plugin and its version.
Failures to reach the server become one `CanaryError` naming the server, never a traceback, and
credentials never appear in any message.
"""

from __future__ import annotations

import http.client
import os
import platform
import re
import socket
import ssl
import sys
import time
from collections.abc import Iterator
from typing import Protocol
from urllib.parse import urlsplit

from kubectl_canary import __version__
from kubectl_canary.errors import CanaryError
from kubectl_canary.kube.identity import Identity
from kubectl_canary.kube.kubeconfig import CredentialError, Credentials, KubeconfigError

_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}
USER_AGENT = (
    f"kubectl-canary/v{__version__} ({sys.platform}/{_GO_ARCH.get(platform.machine().lower(), platform.machine())}) "
    f"python/{platform.python_version()}"
)
# Go's net/http retries a 429 at most this many times (client-go: maxRetries 10).
_MAX_RETRIES = 10
_WARNING = re.compile(r'^\s*\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"')

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


def _kubeconfig_failure(error: KubeconfigError) -> CanaryError:
    """A credential that could not be had says so; any other problem is the kubeconfig's."""
    return CanaryError(str(error) if isinstance(error, CredentialError) else f"cannot load kubeconfig: {error}")


def _ssl_context(credentials: Credentials, client_pair: tuple[str, str] | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.set_alpn_protocols(["http/1.1"])
    if credentials.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif credentials.ca_pem:
        try:
            context.load_verify_locations(cadata=credentials.ca_pem)
        except (ssl.SSLError, ValueError):
            raise CanaryError(f"the certificate-authority of {credentials.source} is not a PEM certificate") from None
    else:
        context.load_default_certs()
    if client_pair is not None:
        # ssl only loads key pairs from files: a private file that lives for the load alone.
        import tempfile

        fd, path = tempfile.mkstemp(prefix="kubectl-canary-")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(client_pair[0].rstrip("\n") + "\n" + client_pair[1])
            context.load_cert_chain(path)
        except ssl.SSLError:
            raise CanaryError(f"the client certificate or key of {credentials.source} is not valid PEM") from None
        finally:
            os.unlink(path)
    return context


class _TlsConnection(http.client.HTTPSConnection):
    """HTTPS whose TLS name (SNI and the name verified) may differ from the host: tls-server-name."""

    def __init__(
        self, host: str, port: int | None, *, timeout: float | None, context: ssl.SSLContext, server_name: str
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._server_name = server_name

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)  # TCP, and the CONNECT tunnel when set_tunnel was called
        self.sock = self._context.wrap_socket(self.sock, server_hostname=self._server_name)  # type: ignore[attr-defined]


def _warnings(response: http.client.HTTPResponse) -> list[str]:
    found = []
    for value in response.headers.get_all("Warning") or []:
        match = _WARNING.match(value)
        found.append(match.group(1).replace('\\"', '"') if match else value.strip())
    return found


class StdlibTransport:
    """One keep-alive connection for the whole command (watches get their own), TLS as configured."""

    def __init__(self, credentials: Credentials, timeout: float, identity: Identity | None = None) -> None:
        self.server = credentials.server
        self._credentials = credentials
        self._identity = identity or Identity(credentials, timeout)
        self._timeout: float | None = timeout or None  # 0: no timeout, as kubectl
        url = urlsplit(credentials.server)
        self._host, self._port, self._https = url.hostname or "localhost", url.port, url.scheme == "https"
        self._prefix = url.path.rstrip("/")
        self._context: tuple[int, ssl.SSLContext] | None = None
        self._connection: http.client.HTTPConnection | None = None
        self._warned: set[str] = set()

    def _tls(self) -> ssl.SSLContext:
        pair = self._identity.client_pair()
        version = self._identity.certificate_version
        if self._context is None or self._context[0] != version:
            self._context = (version, _ssl_context(self._credentials, pair))
        return self._context[1]

    def _connect(self, timeout: float | None) -> http.client.HTTPConnection:
        proxy = urlsplit(self._credentials.proxy) if self._credentials.proxy else None
        host, port = (proxy.hostname or "", proxy.port or 80) if proxy else (self._host, self._port)
        if self._https:
            conn: http.client.HTTPConnection = _TlsConnection(
                host,
                port,
                timeout=timeout,
                context=self._tls(),
                server_name=self._credentials.tls_server_name or self._host,
            )
            if proxy:
                conn.set_tunnel(self._host, self._port or 443)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.connect()
        # Without it every keep-alive request waits ~40 ms for a delayed ACK.
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _target(self, path: str) -> str:
        if self._credentials.proxy and not self._https:
            return self.server + path  # a plain-HTTP request through a proxy names the whole URL
        return self._prefix + path

    def _request(
        self, conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> http.client.HTTPResponse:
        conn.putrequest(method, self._target(path), skip_accept_encoding=True)
        for name, value in [*headers.items(), ("User-Agent", USER_AGENT), *self._identity.headers()]:
            conn.putheader(name, value)
        if body is not None or method in ("POST", "PUT", "PATCH"):
            conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body)
        response = conn.getresponse()
        for warning in _warnings(response):
            if warning not in self._warned:
                self._warned.add(warning)
                print(f"Warning: {warning}", file=sys.stderr, flush=True)
        return response

    def _retry_after(self, status: int, response: http.client.HTTPResponse, deadline: float | None) -> float | None:
        """Seconds to wait before retrying a 429 (or a 5xx with Retry-After), if it fits the deadline."""
        if status != 429 and not (500 <= status < 600 and response.getheader("Retry-After")):
            return None
        try:
            wait = max(0.0, float(response.getheader("Retry-After") or "1"))
        except ValueError:
            wait = 1.0
        if deadline is not None and time.monotonic() + wait >= deadline:
            return None
        return wait

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        deadline = time.monotonic() + self._timeout if self._timeout else None
        reconnected = refreshed = False
        for _ in range(_MAX_RETRIES + 3):
            reused = self._connection is not None
            try:
                if self._connection is None:
                    self._connection = self._connect(self._timeout)
                response = self._request(self._connection, method, path, body, headers)
                data = response.read()
                if response.will_close:
                    self._connection = None
            except KubeconfigError as error:
                raise _kubeconfig_failure(error) from None
            except _RETRYABLE as error:
                self._connection = None
                # A kept-alive connection the server closed: retry reads once on a new one.
                # Writes are never repeated behind the user's back.
                if not reconnected and reused and method == "GET":
                    reconnected = True
                    continue
                raise _unreachable(self.server, error, self._timeout or 0) from None
            except (OSError, http.client.HTTPException) as error:
                self._connection = None
                raise _unreachable(self.server, error, self._timeout or 0) from None
            status = response.status
            if status == 401 and not refreshed:
                refreshed = True
                try:
                    if self._identity.refresh_after_unauthorized():
                        continue  # a 401 was not processed: safe to repeat, writes included
                except KubeconfigError as error:
                    raise _kubeconfig_failure(error) from None
            wait = self._retry_after(status, response, deadline)
            if wait is not None:
                time.sleep(wait)
                continue
            return status, data
        return status, data

    def stream(self, path: str, headers: dict[str, str], timeout: float) -> tuple[int, Iterator[bytes]]:
        try:
            conn = self._connect(timeout)
            response = self._request(conn, "GET", path, None, headers)
            if response.status == 401 and self._identity.refresh_after_unauthorized():
                response.read()
                conn.close()
                conn = self._connect(timeout)
                response = self._request(conn, "GET", path, None, headers)
        except KubeconfigError as error:
            raise _kubeconfig_failure(error) from None
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
