"""HTTP/1.1 plumbing: plain HTTP and TLS on one port, keep-alive with TCP_NODELAY, JSON and chunked
(watch) responses, and dropping a connection without an answer. What is answered is decided elsewhere."""

from __future__ import annotations

import contextlib
import socket
import ssl
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, cast

from .json_values import JsonObject, encode_json

# A self-signed certificate for 127.0.0.1, localhost and the test names fake-a.test, fake-b.test (reached
# through a test proxy) and api.fake.test (a tls-server-name), valid until 2126: test data, not a secret.
# Made with: openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 36500
#   -keyout server.key -out server.crt -subj /CN=fake-apiserver
#   -addext subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:fake-a.test,DNS:fake-b.test,DNS:api.fake.test
#   -addext basicConstraints=critical,CA:TRUE
#   -addext keyUsage=critical,digitalSignature,keyCertSign -addext extendedKeyUsage=serverAuth
# Client certificates (alice.crt/.key: O=team-alice, CN=alice; bob likewise) are signed by client-ca.crt
# (its key was thrown away); a client that presents one is authenticated as its CN.
TLS_DIRECTORY = Path(__file__).with_name("tls")
CA_CERTIFICATE = TLS_DIRECTORY / "server.crt"
CLIENT_CA_CERTIFICATE = TLS_DIRECTORY / "client-ca.crt"


def close_events(events: Iterator[JsonObject]) -> None:
    close = getattr(events, "close", None)
    if close is not None:
        close()


def _remember_sni(ssl_socket: Any, server_name: str | None, _context: ssl.SSLContext) -> None:
    ssl_socket.sni_name = server_name  # the name the client sent, read back in _peer


def _tls_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CA_CERTIFICATE, TLS_DIRECTORY / "server.key")
    context.set_alpn_protocols(["http/1.1"])
    context.verify_mode = ssl.CERT_OPTIONAL  # client certificates authenticate when given
    context.load_verify_locations(CLIENT_CA_CERTIFICATE)
    context.sni_callback = _remember_sni
    return context


@dataclass(frozen=True)
class Peer:
    """Who is on the other end of a connection: its port, the SNI name, its certificate's subject."""

    port: int
    sni: str | None = None
    client_subject: str | None = None  # "O=team-alice,CN=alice"


def _peer(connection: Any, client_address: Any) -> Peer:
    port = int(client_address[1]) if isinstance(client_address, tuple) else 0
    if not isinstance(connection, ssl.SSLSocket):
        return Peer(port)
    sni = getattr(connection, "sni_name", None)
    certificate: dict[str, Any] = dict(connection.getpeercert() or {})
    subject: tuple[tuple[tuple[str, str], ...], ...] = certificate.get("subject", ())
    parts = [f"{key}={value}" for rdn in subject for key, value in rdn]
    short = {"organizationName": "O", "commonName": "CN"}
    named = ",".join(short.get(p.split("=", 1)[0], p.split("=", 1)[0]) + "=" + p.split("=", 1)[1] for p in parts)
    return Peer(port, sni, named or None)


class HttpTransport(ThreadingHTTPServer):
    """Plain HTTP and HTTPS on one port: a connection that opens with a TLS handshake record is wrapped.
    Every request goes to `serve(handler)`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, serve: Callable[[RequestHandler], None]) -> None:
        super().__init__((host, 0), RequestHandler)
        self.serve = serve
        self.tls = _tls_context()
        self._connections: set[Any] = set()
        self._connections_lock = threading.Lock()

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host!s}:{port}"

    def close_connections(self) -> None:
        """Cut every open connection (keep-alive ones included), as a stopped server would."""
        with self._connections_lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):  # a client that went away: nothing to report
            return
        super().handle_error(request, client_address)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Without TCP_NODELAY each keep-alive request waits ~40 ms for a delayed ACK.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = request
        try:
            if request.recv(1, socket.MSG_PEEK) == b"\x16":
                request.settimeout(10)
                connection = self.tls.wrap_socket(request, server_side=True)
                connection.settimeout(None)
        except OSError:  # ssl.SSLError included: a client that gave up or did not trust us
            return
        with self._connections_lock:
            self._connections.add(connection)
        try:
            RequestHandler.peer_of[id(connection)] = _peer(connection, client_address)
            RequestHandler(connection, client_address, self)
        finally:
            RequestHandler.peer_of.pop(id(connection), None)
            with self._connections_lock:
                self._connections.discard(connection)
            if connection is not request:
                with contextlib.suppress(OSError):
                    connection.close()


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    peer_of: ClassVar[dict[int, Peer]] = {}  # id(connection) -> Peer, for the connection's lifetime
    extra_headers: list[tuple[str, str]]  # sent with the next JSON answer: e.g. Warning, Retry-After

    def setup(self) -> None:
        super().setup()
        self.extra_headers = []

    @property
    def peer(self) -> Peer:
        return self.peer_of.get(id(self.connection)) or Peer(0)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is `FakeApiServer.requests`."""

    def do_GET(self) -> None:
        cast(HttpTransport, self.server).serve(self)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_json(self, status: int, body: JsonObject) -> None:
        data = encode_json(body)
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-cache, private")
            self.send_header("Content-Length", str(len(data)))
            for name, value in self.extra_headers:
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def send_text(self, status: int, text: str) -> None:
        data = text.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def send_stream(self, events: Iterator[JsonObject]) -> None:
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-cache, private")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for event in events:
                line = encode_json(event) + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True
        finally:
            close_events(events)

    def drop(self) -> None:
        """Close the connection without a response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
