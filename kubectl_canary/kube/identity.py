"""Who each request is from: the bearer token (static, a file that may rotate, an exec credential plugin
that may expire, or an OIDC id-token that may expire), basic auth, the client certificate, and the
Impersonate-* headers.

As client-go: a tokenFile is re-read when it changes; an exec credential is refreshed before its
expirationTimestamp and once after a 401; the plugin's stderr reaches the user's terminal (device-code
prompts), and so does stdin when its interactiveMode allows and stdin is a terminal. An OIDC id-token
(auth-provider oidc) is renewed once its `exp` is less than 10 s away, with the refresh-token at the
issuer's token endpoint, and the new tokens are written to the kubeconfig that defined the user; a 401
renews nothing (client-go's oidc plugin does not either).
"""

from __future__ import annotations

import _thread
import base64
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kubectl_canary.kube import kubeconfig
from kubectl_canary.kube.kubeconfig import CredentialError, Credentials, ExecPlugin, KubeconfigError, OidcProvider

# Refresh an expiring exec credential (or OIDC id-token: client-go's expiryDelta) this long before it
# expires, so a request never carries a token that lapses in flight.
_EXPIRY_MARGIN = 10.0


@dataclass(frozen=True)
class ExecCredential:
    """What an exec credential plugin printed: a token or a client certificate, and its expiry."""

    token: str | None
    client_cert_pem: str | None
    client_key_pem: str | None
    expires: float | None  # time.time() seconds


def _parse_time(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def run_exec_plugin(plugin: ExecPlugin, stdin: IO[str] | None = None, stderr: IO[str] | None = None) -> ExecCredential:
    """Run a client.authentication.k8s.io plugin; its stderr is copied to ours as it comes."""
    import subprocess  # only exec kubeconfigs pay for it

    stdin = sys.stdin if stdin is None else stdin
    stderr = sys.stderr if stderr is None else stderr
    try:
        terminal = stdin.isatty()
    except (AttributeError, ValueError):
        terminal = False
    interactive = plugin.interactive_mode != "Never" and terminal
    name = plugin.command
    if plugin.interactive_mode == "Always" and not interactive:
        raise KubeconfigError(f"exec plugin {name!r} needs a terminal (interactiveMode: Always) and stdin is not one")
    spec: dict[str, Any] = {"interactive": interactive}
    if plugin.cluster_info is not None:
        spec["cluster"] = plugin.cluster_info
    env = {**os.environ, **dict(plugin.env)}
    env["KUBERNETES_EXEC_INFO"] = json.dumps({"apiVersion": plugin.api_version, "kind": "ExecCredential", "spec": spec})
    try:
        child = subprocess.Popen(
            [plugin.command, *plugin.args],
            env=env,
            stdin=stdin if interactive else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except FileNotFoundError:
        hint = f": {plugin.install_hint}" if plugin.install_hint else ""
        raise KubeconfigError(f"exec plugin {name!r} not found{hint}") from None
    except OSError as error:
        raise KubeconfigError(f"exec plugin {name!r} could not run: {error.strerror}") from None
    lines: list[str] = []

    def copy_stderr() -> None:
        assert child.stderr is not None
        for raw in child.stderr:
            line = raw.decode(errors="replace")
            lines.append(line)
            stderr.write(line)
            stderr.flush()

    import threading

    copier = threading.Thread(target=copy_stderr, daemon=True)
    copier.start()
    assert child.stdout is not None
    stdout = child.stdout.read()
    code = child.wait()
    copier.join(timeout=5)
    last = next((line.strip() for line in reversed(lines) if line.strip()), "")
    if code != 0:
        raise KubeconfigError(f"exec plugin {name!r} exited {code}" + (f": {last}" if last else ""))
    try:
        answer = json.loads(stdout)
        status: dict[str, Any] = answer["status"]
        if answer.get("apiVersion") != plugin.api_version or answer.get("kind") != "ExecCredential":
            raise ValueError("wrong kind")
    except (ValueError, KeyError, TypeError):
        raise KubeconfigError(f"exec plugin {name!r} did not print an ExecCredential of {plugin.api_version}") from None
    token = status.get("token") or None
    cert, key = status.get("clientCertificateData") or None, status.get("clientKeyData") or None
    if not token and not (cert and key):
        raise KubeconfigError(f"exec plugin {name!r} gave neither a token nor a client certificate and key")
    expires = None
    if status.get("expirationTimestamp"):
        try:
            expires = _parse_time(str(status["expirationTimestamp"]))
        except ValueError:
            raise KubeconfigError(f"exec plugin {name!r} gave an invalid expirationTimestamp") from None
    return ExecCredential(token, cert, key, expires)


def id_token_expiry(token: str, owner: str) -> float:
    """The `exp` of an OIDC id-token, read from the JWT's payload without verifying it (the API server
    verifies); 0 when it has none, as client-go reads a missing claim."""
    parts = token.split(".")
    if len(parts) != 3:
        raise KubeconfigError(f"{owner}: the oidc id-token is not a JWT")
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        raise KubeconfigError(f"{owner}: the oidc id-token's payload is not base64url JSON") from None
    expiry = claims.get("exp") if isinstance(claims, dict) else None
    if expiry is None:
        return 0.0
    if isinstance(expiry, bool) or not isinstance(expiry, (int, float)):
        raise KubeconfigError(f"{owner}: the oidc id-token's exp is not a number")
    return float(int(expiry))


def _issuer_call(provider: OidcProvider, url: str, timeout: float | None, form: dict[str, str] | None = None,
                 basic: tuple[str, str] | None = None) -> tuple[int, str, bytes]:
    """GET (or POST `form`) to the issuer, trusting its CA, through the environment's proxy: (status,
    content type, body)."""
    import ssl
    import urllib.error
    import urllib.request
    from urllib.parse import quote_plus, urlencode

    context = ssl.create_default_context()
    if provider.ca_pem:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        try:
            context.load_verify_locations(cadata=provider.ca_pem)
        except (ssl.SSLError, ValueError):
            raise KubeconfigError(f"{provider.owner}: the idp-certificate-authority is not a PEM certificate") from None
    proxies = {"http": provider.proxy, "https": provider.proxy} if provider.proxy else {}
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(proxies),
                                         urllib.request.HTTPSHandler(context=context))
    body = None if form is None else urlencode(sorted(form.items())).encode()  # Go's url.Values: sorted
    request = urllib.request.Request(url, data=body, method="GET" if form is None else "POST")
    if form is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    if basic is not None:
        # golang.org/x/oauth2 escapes the id and the secret as a query value before Basic-encoding them.
        pair = f"{quote_plus(basic[0])}:{quote_plus(basic[1])}".encode()
        request.add_header("Authorization", "Basic " + base64.b64encode(pair).decode())
    try:
        with opener.open(request, timeout=timeout) as answer:
            return answer.status, answer.headers.get_content_type(), answer.read(1 << 20)
    except urllib.error.HTTPError as answer:
        return answer.code, answer.headers.get_content_type(), answer.read(1 << 20)
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        if isinstance(reason, ssl.SSLCertVerificationError):
            reason = f"TLS certificate verification failed ({reason.verify_message}); check idp-certificate-authority"
        raise CredentialError(f"{provider.owner}: cannot reach the oidc issuer at {url}: {reason}") from None


def _token_endpoint(provider: OidcProvider, timeout: float | None) -> str:
    """The issuer's token endpoint, from its discovery document (OpenID Connect Discovery 1.0)."""
    url = provider.issuer_url.rstrip("/") + "/.well-known/openid-configuration"
    status, _, body = _issuer_call(provider, url, timeout)
    if status != 200:
        raise CredentialError(f"{provider.owner}: the oidc issuer answered {status} for {url}")
    try:
        endpoint = json.loads(body).get("token_endpoint")
    except (ValueError, AttributeError):
        endpoint = None
    if not isinstance(endpoint, str) or not endpoint:
        raise CredentialError(f"{provider.owner}: the oidc discovery document at {url} names no token_endpoint")
    return endpoint


def _token_answer(status: int, content_type: str, body: bytes) -> tuple[dict[str, Any], str]:
    """The fields of a token endpoint's answer and, when it is a failure, why (as golang.org/x/oauth2 judges)."""
    from urllib.parse import parse_qsl

    fields: dict[str, Any] = {}
    try:
        if content_type in ("application/x-www-form-urlencoded", "text/plain"):
            fields = dict(parse_qsl(body.decode(), keep_blank_values=True))
        else:
            parsed = json.loads(body)
            fields = parsed if isinstance(parsed, dict) else {}
    except (ValueError, UnicodeDecodeError):
        if 200 <= status <= 299:
            return {}, "its answer is not JSON"
    if fields.get("error"):
        return fields, " ".join(str(fields[k]) for k in ("error", "error_description") if fields.get(k))
    if not 200 <= status <= 299:
        return fields, f"HTTP {status}"
    if not fields.get("access_token"):
        return fields, "its answer has no access_token"
    return fields, ""


def refresh_oidc(provider: OidcProvider, refresh_token: str, timeout: float | None) -> tuple[str, str]:
    """A new (id-token, refresh-token) from the issuer, as client-go gets them: the refresh grant to the
    token endpoint with the client's id and secret in Basic auth and, should that fail, in the form
    (golang.org/x/oauth2 probes both). The refresh-token comes back unchanged when the issuer sent none."""
    endpoint = _token_endpoint(provider, timeout)
    grant = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    in_form = {**grant, **{k: v for k, v in (("client_id", provider.client_id),
                                             ("client_secret", provider.client_secret)) if v}}
    try:
        fields, failure = _token_answer(*_issuer_call(provider, endpoint, timeout, grant,
                                                      basic=(provider.client_id, provider.client_secret)))
    except CredentialError:
        failure = "unreachable"
    if failure:
        fields, failure = _token_answer(*_issuer_call(provider, endpoint, timeout, in_form))
    if failure:
        raise CredentialError(f"{provider.owner}: the oidc issuer refused to renew the id-token ({failure}); "
                              f"log in to {provider.issuer_url} again")
    id_token = fields.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise CredentialError(f"{provider.owner}: the oidc issuer's token answer has no id_token (was the scope "
                              f"openid requested at login?)")
    return id_token, str(fields.get("refresh_token") or refresh_token)


class Identity:
    """The credentials of one command, kept fresh. Transports ask it for headers per request and for the
    client certificate per connection; `certificate_version` changes when the certificate does."""

    def __init__(self, credentials: Credentials, timeout: float | None = 30.0) -> None:
        self._credentials = credentials
        self._timeout = timeout or None  # for the OIDC issuer: kubectl's --request-timeout (0: none)
        self._file_token: tuple[tuple[int, int], str] | None = None  # ((mtime_ns, size), token)
        self._exec: ExecCredential | None = None
        oidc = credentials.oidc
        self._oidc_tokens = (oidc.id_token, oidc.refresh_token) if oidc else ("", "")
        self._oidc_expiry: tuple[str, float] | None = None  # (id-token, its exp)
        self.certificate_version = 0
        # One exec run (or OIDC renewal) at a time, as client-go does: `status --watch` reads from several
        # threads, an interactive plugin must not prompt twice, and a refresh-token may be good only once.
        self._exec_lock = _thread.RLock()  # threading's, without importing it

    def _token_from_file(self, path: Path) -> str | None:
        try:
            info = path.stat()
            stamp = (info.st_mtime_ns, info.st_size)
            if self._file_token is None or self._file_token[0] != stamp:
                token = path.read_text().strip()
                if not token:
                    raise KubeconfigError(f"tokenFile {path} is empty")
                self._file_token = (stamp, token)
        except OSError as error:
            if self._file_token is None and not self._credentials.token:
                raise KubeconfigError(f"cannot read tokenFile {path}: {error.strerror}") from None
            # A file being rotated: keep the token we had.
        return self._file_token[1] if self._file_token else None

    def _exec_credential(self) -> ExecCredential | None:
        plugin = self._credentials.exec_plugin
        if plugin is None:
            return None
        with self._exec_lock:
            return self._fresh_exec_credential(plugin)

    def _fresh_exec_credential(self, plugin: ExecPlugin) -> ExecCredential:
        if self._exec is None or (self._exec.expires is not None and time.time() > self._exec.expires - _EXPIRY_MARGIN):
            previous = self._exec
            self._exec = run_exec_plugin(plugin)
            if previous is None or (previous.client_cert_pem, previous.client_key_pem) != (
                self._exec.client_cert_pem,
                self._exec.client_key_pem,
            ):
                self.certificate_version += 1
        return self._exec

    def _oidc_valid(self, token: str, provider: OidcProvider) -> bool:
        if self._oidc_expiry is None or self._oidc_expiry[0] != token:
            self._oidc_expiry = (token, id_token_expiry(token, provider.owner))
        return time.time() + _EXPIRY_MARGIN < self._oidc_expiry[1]

    def _oidc_token(self, provider: OidcProvider) -> str:
        """The id-token, renewed (and written back) once it has expired."""
        with self._exec_lock:
            id_token, refresh_token = self._oidc_tokens
            if id_token and self._oidc_valid(id_token, provider):
                return id_token
            if not refresh_token:
                what = "has expired" if id_token else "is missing"
                raise CredentialError(f"{provider.owner}: the oidc id-token {what} and there is no refresh-token to "
                                      f"renew it; log in to {provider.issuer_url} again")
            with kubeconfig.locked(provider.file):
                try:
                    text = provider.file.read_text()
                except OSError as error:
                    raise CredentialError(f"cannot read kubeconfig {provider.file}: {error.strerror}") from None
                on_file = kubeconfig.oidc_tokens_in(text, provider.user)
                if on_file and on_file[0] not in ("", id_token) and self._oidc_valid(on_file[0], provider):
                    self._oidc_tokens = on_file  # renewed meanwhile by another kubectl: no second refresh
                    return on_file[0]
                refresh_token = (on_file and on_file[1]) or refresh_token
                new_id, new_refresh = refresh_oidc(provider, refresh_token, self._timeout)
                changed = {"id-token": new_id}
                if new_refresh != refresh_token:
                    changed["refresh-token"] = new_refresh
                kubeconfig.replace_file(provider.file, kubeconfig.with_oidc_tokens(text, provider.user, changed))
            self._oidc_tokens = (new_id, new_refresh)
            return new_id

    def client_pair(self) -> tuple[str, str] | None:
        """The client certificate and key (PEM) for TLS, if any."""
        credentials = self._credentials
        if credentials.client_cert_pem and credentials.client_key_pem:
            return credentials.client_cert_pem, credentials.client_key_pem
        exec_credential = self._exec_credential()
        if exec_credential and exec_credential.client_cert_pem and exec_credential.client_key_pem:
            return exec_credential.client_cert_pem, exec_credential.client_key_pem
        return None

    def headers(self) -> list[tuple[str, str]]:
        """Authorization and Impersonate-* for the next request (never logged)."""
        credentials = self._credentials
        found: list[tuple[str, str]] = []
        token = credentials.token
        if credentials.token_file is not None:
            token = self._token_from_file(credentials.token_file) or token
        if token is None and credentials.oidc is not None and credentials.basic_auth is None:
            token = self._oidc_token(credentials.oidc)
        if token is None:
            exec_credential = self._exec_credential()
            token = exec_credential.token if exec_credential else None
        if token:
            found.append(("Authorization", f"Bearer {token}"))
        elif credentials.basic_auth:
            pair = ":".join(credentials.basic_auth).encode()
            found.append(("Authorization", "Basic " + base64.b64encode(pair).decode()))
        if credentials.impersonation is not None:
            found += credentials.impersonation.headers()
        return found

    def refresh_after_unauthorized(self) -> bool:
        """After a 401: fetch a new credential where one can change. True when a retry may help."""
        credentials = self._credentials
        if credentials.exec_plugin is not None and self._exec is not None:
            with self._exec_lock:
                self._exec = None
                self._exec_credential()
            return True
        if credentials.token_file is not None and self._file_token is not None:
            before = self._file_token[1]
            self._file_token = None
            return self._token_from_file(credentials.token_file) != before
        return False
