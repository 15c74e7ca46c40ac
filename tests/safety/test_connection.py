"""Reaching the server: timeouts, unreachable servers, TLS verification, and no secret ever printed."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.fake_apiserver import Fault

PLUGIN = str(Path(sys.executable).parent / "kubectl-canary")


def plugin(*args: str, kubeconfig: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    env.pop("KUBECTL_CANARY_DEBUG", None)
    return subprocess.run([PLUGIN, *args], env=env, capture_output=True, text=True, timeout=timeout)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def edited_kubeconfig(source: Path, target: Path, edit) -> Path:
    config = yaml.safe_load(source.read_text())
    edit(config)
    target.write_text(yaml.safe_dump(config))
    return target


def test_unreachable_server_is_one_error_line_naming_it(kubeconfig, tmp_path):
    port = closed_port()
    config = edited_kubeconfig(
        kubeconfig,
        tmp_path / "closed",
        lambda c: c["clusters"][0]["cluster"].update(server=f"https://127.0.0.1:{port}"),
    )
    done = plugin("status", "echo", kubeconfig=config)
    assert done.returncode == 1
    assert done.stderr == f"error: cannot reach the API server at https://127.0.0.1:{port}: connection refused\n"
    assert done.stdout == ""


def test_hanging_server_is_bounded_by_request_timeout(api, kubeconfig, canary):
    canary("init", "echo")
    api.inject_fault(Fault.delay(5), method="GET", path_contains="/routetables/", times=2)
    started = time.monotonic()
    done = plugin("weight", "echo", "10", "--request-timeout", "1s", kubeconfig=kubeconfig)
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot reach the API server at https://127.0.0.1:")
    assert done.stderr.endswith(": no answer within 1s (--request-timeout)\n")
    assert elapsed < 4, elapsed
    assert "Traceback" not in done.stderr


def test_tls_is_verified_unless_told_otherwise(api, kubeconfig, tmp_path, canary):
    canary("init", "echo")
    api.set_deployment_ready("echo", "echo-v1")  # else status exits 1: the primary is not ready
    no_ca = edited_kubeconfig(
        kubeconfig, tmp_path / "no-ca", lambda c: c["clusters"][0]["cluster"].pop("certificate-authority-data")
    )
    refused = plugin("status", "echo", kubeconfig=no_ca)
    assert refused.returncode == 1
    assert "TLS certificate verification failed" in refused.stderr
    assert "--insecure-skip-tls-verify" in refused.stderr
    assert plugin("status", "echo", "--insecure-skip-tls-verify", kubeconfig=no_ca).returncode == 0
    insecure = edited_kubeconfig(
        no_ca, tmp_path / "insecure", lambda c: c["clusters"][0]["cluster"].update({"insecure-skip-tls-verify": True})
    )
    assert plugin("status", "echo", kubeconfig=insecure).returncode == 0


def test_secrets_never_printed_even_verbose_or_failing(api, kubeconfig, tmp_path, canary):
    canary("init", "echo")
    token = api.token
    key_marker = "PRIVATE-KEY-MARKER"
    outputs = []
    ok = plugin("header", "echo", "v2", "-v", kubeconfig=kubeconfig)
    assert ok.returncode == 0, ok.stderr
    assert "I PATCH https://127.0.0.1:" in ok.stderr  # -v does log the requests
    outputs.append(ok)
    wrong = edited_kubeconfig(
        kubeconfig, tmp_path / "wrong", lambda c: c["users"][0]["user"].update(token="s3cr3t-tok")
    )
    outputs.append(plugin("status", "echo", "-v", kubeconfig=wrong))
    broken_cert = edited_kubeconfig(
        kubeconfig,
        tmp_path / "cert",
        lambda c: c["users"][0]["user"].update(
            {
                "client-certificate-data": base64.b64encode(b"not a cert").decode(),
                "client-key-data": base64.b64encode(key_marker.encode()).decode(),
            }
        ),
    )
    outputs.append(plugin("status", "echo", "-v", kubeconfig=broken_cert))
    garbage = tmp_path / "garbage"
    garbage.write_text(f"token: {token}\n  - : [\n")
    outputs.append(plugin("status", "echo", "-v", kubeconfig=garbage))
    for done in outputs:
        for secret in (token, "s3cr3t-tok", key_marker, base64.b64encode(key_marker.encode()).decode()):
            assert secret not in done.stdout + done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert (outputs[1].returncode == 1 and "Unauthorized" in outputs[1].stderr) or "401" in outputs[1].stderr
    assert outputs[3].stderr.startswith("error: cannot load kubeconfig:")
