"""A stand-in OpenID Connect issuer for the oidc auth-provider: HTTPS on 127.0.0.1 with a CA of its own
(tests/fake_apiserver/tls/issuer.crt, not the API servers'), its discovery document, and a token endpoint
that answers the refresh grant. It remembers every request it answered, so a test can say what kubectl
and the plugin asked of it (and how the client authenticated).

The id-tokens are JWTs with fixed claims (the signature is not checked by anyone: the fake API servers
compare the bearer token whole), so every run sees the same strings.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from tests.fake_apiserver.transport import TLS_DIRECTORY

ISSUER_CERTIFICATE = TLS_DIRECTORY / "issuer.crt"
REALM = "/realms/dev"
CLIENT_ID = "kubectl"
CLIENT_SECRET = "s3cret+/"  # characters x/oauth2 escapes before Basic-encoding them
REFRESH_TOKEN = "refresh-1"
ROTATED_REFRESH_TOKEN = "refresh-2"


def jwt(**claims: Any) -> str:
    """An unsigned-looking JWT (header.payload.signature, base64url without padding) with these claims."""

    def part(value: Any) -> str:
        raw = value if isinstance(value, bytes) else json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return ".".join([part({"alg": "RS256", "typ": "JWT"}), part(claims), part(b"not-verified")])


# exp 4102444800 is 2100-01-01, 1000000000 is 2001-09-09.
FRESH_ID_TOKEN = jwt(iss="issuer", sub="jane", aud=CLIENT_ID, exp=4102444800, jti="fresh")
EXPIRED_ID_TOKEN = jwt(iss="issuer", sub="jane", aud=CLIENT_ID, exp=1000000000, jti="expired")
REFRESHED_ID_TOKEN = jwt(iss="issuer", sub="jane", aud=CLIENT_ID, exp=4102444800, jti="refreshed")
TOKEN_NAMES = {FRESH_ID_TOKEN: "JWT:fresh", EXPIRED_ID_TOKEN: "JWT:expired", REFRESHED_ID_TOKEN: "JWT:refreshed"}


@dataclass
class IssuerRules:
    """How the issuer answers the refresh grant."""

    client_auth: str = "basic-or-form"  # "form": refuses Basic auth, as Google's endpoint does
    rotate: bool = True  # answer a new refresh-token
    refuse: bool = False  # invalid_grant: the refresh-token was revoked
    id_token: str = ""  # the id_token answered (default REFRESHED_ID_TOKEN; e2e: a token a real server takes)


@dataclass
class FakeIssuer:
    rules: IssuerRules = field(default_factory=IssuerRules)
    requests: list[str] = field(default_factory=list)  # "GET discovery", "POST token (basic)", ...

    def __post_init__(self) -> None:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path != f"{REALM}/.well-known/openid-configuration":
                    self._answer(404, {"error": "not found"})
                    return
                issuer.requests.append("GET discovery")
                endpoints = f"{issuer.url}/protocol/openid-connect"
                self._answer(200, {"issuer": issuer.url, "token_endpoint": f"{endpoints}/token",
                                   "authorization_endpoint": f"{endpoints}/auth"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(parse_qsl(self.rfile.read(length).decode()))
                if self.path != f"{REALM}/protocol/openid-connect/token":
                    self._answer(404, {"error": "not found"})
                    return
                authorization = self.headers.get("Authorization") or ""
                if authorization.startswith("Basic "):
                    user, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
                    client, how = (unquote_plus(user), unquote_plus(secret)), "basic"
                else:
                    client, how = (form.get("client_id", ""), form.get("client_secret", "")), "form"
                issuer.requests.append(f"POST token ({how})")
                if client != (CLIENT_ID, CLIENT_SECRET) or (how == "basic" and issuer.rules.client_auth == "form"):
                    self._answer(401, {"error": "invalid_client"})
                elif form.get("grant_type") != "refresh_token" or form.get("refresh_token") != REFRESH_TOKEN:
                    self._answer(400, {"error": "invalid_grant", "error_description": "unknown refresh token"})
                elif issuer.rules.refuse:
                    self._answer(400, {"error": "invalid_grant", "error_description": "Token is not active"})
                else:
                    answer = {"access_token": "access-1", "token_type": "Bearer", "expires_in": 300,
                              "id_token": issuer.rules.id_token or REFRESHED_ID_TOKEN}
                    if issuer.rules.rotate:
                        answer["refresh_token"] = ROTATED_REFRESH_TOKEN
                    self._answer(200, answer)

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(ISSUER_CERTIFICATE, TLS_DIRECTORY / "issuer.key")
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}{REALM}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def reset(self, rules: IssuerRules | None = None) -> None:
        self.rules = rules or IssuerRules()
        self.requests.clear()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeIssuer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def oidc_user(issuer: FakeIssuer, *, id_token: str | None, refresh_token: str | None = REFRESH_TOKEN,
              ca: str | None = "data", **extra: str) -> dict[str, Any]:
    """A kubeconfig user with auth-provider oidc; `ca`: "data", an idp-certificate-authority path, or None."""
    config: dict[str, str] = {"idp-issuer-url": issuer.url, "client-id": CLIENT_ID, "client-secret": CLIENT_SECRET}
    if ca == "data":
        config["idp-certificate-authority-data"] = base64.b64encode(ISSUER_CERTIFICATE.read_bytes()).decode()
    elif ca is not None:
        config["idp-certificate-authority"] = ca
    if id_token is not None:
        config["id-token"] = id_token
    if refresh_token is not None:
        config["refresh-token"] = refresh_token
    config.update(extra)
    return {"auth-provider": {"name": "oidc", "config": config}}
