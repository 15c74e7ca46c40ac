"""Who each request is from: the bearer token (static, a file that may rotate, or an exec credential
plugin that may expire), basic auth, the client certificate, and the Impersonate-* headers.

As client-go: a tokenFile is re-read when it changes; an exec credential is refreshed before its
expirationTimestamp and once after a 401; the plugin's stderr reaches the user's terminal (device-code
prompts), and so does stdin when its interactiveMode allows and stdin is a terminal.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from kubectl_canary.kube.kubeconfig import Credentials, ExecPlugin, KubeconfigError

# Refresh an expiring exec credential this long before it expires, so a request never carries a token
# that lapses in flight.
_EXPIRY_MARGIN = 10.0


@dataclass(frozen=True)
class ExecCredential:
    token: str | None
    client_cert_pem: str | None
    client_key_pem: str | None
    expires: float | None  # time.time() seconds


def _parse_time(text: str) -> float:
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


class Identity:
    """The credentials of one command, kept fresh. Transports ask it for headers per request and for the
    client certificate per connection; `certificate_version` changes when the certificate does."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials
        self._file_token: tuple[tuple[int, int], str] | None = None  # ((mtime_ns, size), token)
        self._exec: ExecCredential | None = None
        self.certificate_version = 0
        # One exec run at a time, as client-go does: `status --watch` reads from several threads, and an
        # interactive plugin must not prompt twice.
        self._exec_lock = threading.RLock()

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
