"""A kubeconfig pointing at the fake server, loadable by the `kubernetes` package and by kubectl.

client-go (so kubectl) attaches user credentials only to TLS connections, hence the HTTPS default."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml


def kubeconfig(server_url: str, *, namespace: str, context: str, token: str, user: str,
               certificate_authority: bytes | None = None) -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": server_url}
    if certificate_authority is not None:
        cluster["certificate-authority-data"] = base64.b64encode(certificate_authority).decode("ascii")
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": cluster}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": context, "context": {"cluster": "fake", "user": user, "namespace": namespace}}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(path: str | Path, server_url: str, *, namespace: str, context: str, token: str,
                     user: str, certificate_authority: bytes | None = None) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    document = kubeconfig(server_url, namespace=namespace, context=context, token=token, user=user,
                          certificate_authority=certificate_authority)
    target.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    target.chmod(0o600)
    return target
