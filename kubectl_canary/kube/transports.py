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

import io
import os
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
_MACHINE = os.uname().machine if hasattr(os, "uname") else ""
# platform.machine() and platform.python_version(), without importing platform (1-2 ms a command).
USER_AGENT = (
    f"kubectl-canary/v{__version__} ({sys.platform}/{_GO_ARCH.get(_MACHINE.lower(), _MACHINE)}) "
    f"python/{'.'.join(map(str, sys.version_info[:3]))}"
)
# Go's net/http retries a 429 at most this many times (client-go: maxRetries 10).
_MAX_RETRIES = 10
_WARNING = re.compile(r'^\s*\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"')
_MAX_LINE = 65536  # longest status line, header line or chunk-size line accepted (http.client's limit)


class RemoteDisconnected(ConnectionResetError):
    """The server closed the connection without answering (a kept-alive connection it had timed out)."""


class ProtocolError(OSError):
    """The server's answer is not HTTP/1.x as it should be (or ended in the middle)."""


_RETRYABLE = (ConnectionResetError, BrokenPipeError)


class Transport(Protocol):
    server: str

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]: ...

    def stream(self, path: str, headers: dict[str, str], timeout: float) -> tuple[int, Iterator[bytes]]:
        """GET whose answer is read line by line until the server ends it (or `timeout` passes idle)."""
        ...

    def fork(self) -> Transport:
        """Another transport to the same server, as the same user, on a connection of its own (for reads
        made at the same time as this one's)."""
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


def _load_key_pair(context: ssl.SSLContext, pem: str) -> None:
    """ssl loads key pairs only from files: an anonymous in-memory file (Linux memfd, never on a disk), else
    a private temporary file that lives for the load alone."""
    data = pem.encode()
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("kubectl-canary-client-pair", os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
            context.load_cert_chain(f"/proc/self/fd/{fd}")
            return
        except (FileNotFoundError, PermissionError):
            pass  # no usable /proc here: the temporary file below
        finally:
            os.close(fd)
    import tempfile

    fd, path = tempfile.mkstemp(prefix="kubectl-canary-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        context.load_cert_chain(path)
    finally:
        os.unlink(path)


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
        try:
            _load_key_pair(context, client_pair[0].rstrip("\n") + "\n" + client_pair[1])
        except ssl.SSLError:
            raise CanaryError(f"the client certificate or key of {credentials.source} is not valid PEM") from None
    return context


def _tls_name(name: str) -> str | bytes:
    """The name for SNI and verification. ssl encodes a str with the idna codec (1-2 ms to import, for a
    name that is nearly always ASCII: an IP address or a DNS name); ASCII goes as bytes, which it takes
    as they are, lowercased as idna would."""
    return name.lower().encode("ascii") if name.isascii() else name


class _Response:
    """An HTTP/1.x response: status, headers, and the body read as it comes (Content-Length, chunked, or
    up to the end of the connection)."""

    def __init__(self, rfile: io.BufferedReader, method: str) -> None:
        self._rfile = rfile
        while True:
            version, self.status, self.reason = self._status_line()
            self.headers = self._headers()
            if not 100 <= self.status < 200 or self.status == 101:
                break  # a 100 Continue and other interim answers come before the real one
        connection = (self.getheader("Connection") or "").lower()
        self.chunked = "chunked" in (self.getheader("Transfer-Encoding") or "").lower()
        self.length: int | None = None
        if not self.chunked:
            try:
                length = self.getheader("Content-Length")
                self.length = int(length) if length is not None else None
            except ValueError:
                raise ProtocolError(f"invalid Content-Length {length!r}") from None
            if self.status in (204, 304) or method == "HEAD":
                self.length = 0
        keep_alive = "keep-alive" in connection or bool(self.getheader("Keep-Alive"))
        self.will_close = (
            "close" in connection
            or (version == "HTTP/1.0" and not keep_alive)
            or (not self.chunked and self.length is None)
        )

    def _line(self) -> bytes:
        line = self._rfile.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise ProtocolError("a line of the response is too long")
        return line

    def _status_line(self) -> tuple[str, int, str]:
        line = self._line()
        if not line:
            raise RemoteDisconnected("the server closed the connection without a response")
        version, _, rest = line.decode("iso-8859-1").rstrip("\r\n").partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
            raise ProtocolError(f"not an HTTP/1.x status line: {line[:60]!r}")
        return version, int(code), reason

    def _headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = []
        while True:
            line = self._line()
            if not line:
                raise ProtocolError("the response ended in its headers")
            if line in (b"\r\n", b"\n"):
                return headers
            text = line.decode("iso-8859-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and headers:  # an obsolete folded line continues the last header
                name, value = headers[-1]
                headers[-1] = (name, f"{value} {text.strip()}")
                continue
            name, colon, value = text.partition(":")
            if colon:
                headers.append((name.strip().lower(), value.strip()))

    def getheader(self, name: str) -> str | None:
        values = self.get_all(name)
        return ", ".join(values) if values else None

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.headers if key == name]

    def pieces(self) -> Iterator[bytes]:
        """The body, piece by piece as it arrives (a chunk, or what one read returned)."""
        rfile = self._rfile
        if self.chunked:
            while True:
                size_line = self._line()
                try:
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise ProtocolError("the response ended in the middle") from None
                if size == 0:
                    while self._line() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return
                data = rfile.read(size)
                if len(data) < size:
                    raise ProtocolError("the response ended in the middle")
                yield data
                rfile.readline(3)  # the CRLF after the chunk
        elif self.length is not None:
            left = self.length
            while left > 0:
                data = rfile.read1(min(left, 1 << 20))
                if not data:
                    raise ProtocolError("the response ended in the middle")
                left -= len(data)
                yield data
        else:
            while data := rfile.read1(1 << 20):
                yield data

    def read(self) -> bytes:
        if self.length is not None and not self.chunked:
            data = self._rfile.read(self.length) if self.length else b""
            if len(data) < self.length:
                raise ProtocolError("the response ended in the middle")
            return data
        return b"".join(self.pieces())

    def lines(self) -> Iterator[bytes]:
        """The body line by line (the last line may lack its newline)."""
        pending = b""
        for piece in self.pieces():
            pending += piece
            *complete, pending = pending.split(b"\n")
            for line in complete:
                yield line + b"\n"
        if pending:
            yield pending


class _Connection:
    """One HTTP/1.1 connection (TCP, a CONNECT tunnel through a proxy, TLS): requests one after the other.

    The standard library's http.client imports the `email` package to parse headers, 10 ms of every
    command's start; an API server speaks plain HTTP/1.1, which this reads directly."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._rfile: io.BufferedReader = sock.makefile("rb")

    @classmethod
    def open(
        cls,
        address: tuple[str, int],
        *,
        timeout: float | None,
        tunnel: tuple[str, int] | None,
        tls: tuple[ssl.SSLContext, str] | None,
    ) -> _Connection:
        host, port = address
        # An ASCII host as bytes: a str goes through the idna codec, whose import costs 1-2 ms (_tls_name).
        ascii_host = host.encode("ascii") if host.isascii() else host
        sock = socket.create_connection((ascii_host, port), timeout)  # type: ignore[arg-type]  # bytes: as getaddrinfo
        try:
            # Without it every keep-alive request waits ~40 ms for a delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tunnel is not None:
                host, port = tunnel
                authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                sock.sendall(f"CONNECT {authority} HTTP/1.0\r\n\r\n".encode("ascii"))
                answer = _Response(_Connection(sock)._rfile, "CONNECT")  # reads only the status and headers
                if answer.status != 200:
                    raise OSError(f"Tunnel connection failed: {answer.status} {answer.reason.strip()}")
            if tls is not None:
                context, name = tls
                sock = context.wrap_socket(sock, server_hostname=_tls_name(name))
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    def request(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes | None) -> _Response:
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers)
        data = head.encode("latin-1") + b"\r\n"
        self.sock.sendall(data + body if body else data)
        return _Response(self._rfile, method)

    def close(self) -> None:
        self._rfile.close()
        self.sock.close()


def _warnings(response: _Response) -> list[str]:
    found = []
    for value in response.get_all("Warning"):
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
        self._default_port = 443 if self._https else 80
        # As http.client writes it: the port only when it is not the scheme's, an IPv6 address in brackets.
        host = f"[{self._host}]" if ":" in self._host else self._host
        self._host_header = host if self._port in (None, self._default_port) else f"{host}:{self._port}"
        self._context: tuple[int, ssl.SSLContext] | None = None
        self._connection: _Connection | None = None
        self._warned: set[str] = set()

    def fork(self) -> StdlibTransport:
        twin = StdlibTransport(self._credentials, self._timeout or 0, self._identity)
        twin._context, twin._warned = self._context, self._warned  # one TLS setup, each warning printed once
        return twin

    def _tls(self) -> ssl.SSLContext:
        pair = self._identity.client_pair()
        version = self._identity.certificate_version
        if self._context is None or self._context[0] != version:
            self._context = (version, _ssl_context(self._credentials, pair))
        return self._context[1]

    def _connect(self, timeout: float | None) -> _Connection:
        proxy = urlsplit(self._credentials.proxy) if self._credentials.proxy else None
        address = (proxy.hostname or "", proxy.port or 80) if proxy else (self._host, self._port or self._default_port)
        tunnel = (self._host, self._port or 443) if proxy and self._https else None
        tls = (self._tls(), self._credentials.tls_server_name or self._host) if self._https else None
        return _Connection.open(address, timeout=timeout, tunnel=tunnel, tls=tls)

    def _target(self, path: str) -> str:
        if self._credentials.proxy and not self._https:
            return self.server + path  # a plain-HTTP request through a proxy names the whole URL
        return self._prefix + path

    def _request(
        self, conn: _Connection, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> _Response:
        sent = [("Host", self._host_header), *headers.items(), ("User-Agent", USER_AGENT), *self._identity.headers()]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            sent.append(("Content-Length", str(len(body or b""))))
        response = conn.request(method, self._target(path), sent, body)
        for warning in _warnings(response):
            if warning not in self._warned:
                self._warned.add(warning)
                print(f"Warning: {warning}", file=sys.stderr, flush=True)
        return response

    def _retry_after(self, status: int, response: _Response, deadline: float | None) -> float | None:
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

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

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
                    self._connection.close()
                    self._connection = None
            except KubeconfigError as error:
                raise _kubeconfig_failure(error) from None
            except _RETRYABLE as error:
                self._close()
                # A kept-alive connection the server closed: retry reads once on a new one.
                # Writes are never repeated behind the user's back.
                if not reconnected and reused and method == "GET":
                    reconnected = True
                    continue
                raise _unreachable(self.server, error, self._timeout or 0) from None
            except OSError as error:
                self._close()
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
        except OSError as error:
            raise _unreachable(self.server, error, timeout) from None

        def lines() -> Iterator[bytes]:
            try:
                yield from response.lines()
            except OSError as error:
                raise _unreachable(self.server, error, timeout) from None
            finally:
                conn.close()

        if response.status >= 400:
            body = response.read()
            conn.close()
            return response.status, iter([body])
        return response.status, lines()
