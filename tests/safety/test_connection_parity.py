"""The plugin connects as kubectl does: the corpus of tests/safety/connection_cases.py, run through both
(docs/connection-table.md is generated from it), and what one run of kubectl cannot show: credentials that
change during a long command, throttling, warnings and paged LISTs."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_apiserver import Fault
from tests.safety.connection_cases import (
    PLUGIN,
    SHAPES,
    TABLE_PATH,
    TOKENS,
    Outcome,
    World,
    exec_plugin,
    exec_user,
    in_cluster_supported,
    kubeconfig_env,
    render_table,
    run_shape,
    simple,
    world,
)
from tests.safety.oidc_issuer import (
    CLIENT_ID,
    EXPIRED_ID_TOKEN,
    FRESH_ID_TOKEN,
    REFRESH_TOKEN,
    REFRESHED_ID_TOKEN,
    ROTATED_REFRESH_TOKEN,
    jwt,
    oidc_user,
)


@pytest.fixture(scope="module")
def servers() -> Iterator[World]:
    with world() as w:
        yield w


@pytest.fixture(scope="module")
def outcomes(servers: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    base = tmp_path_factory.mktemp("connection")
    return {
        shape.id: run_shape(servers, shape, base / shape.id)
        for shape in SHAPES
        if shape.id != "in-cluster" or in_cluster_supported()
    }


def test_the_corpus_is_big_enough():
    assert len(SHAPES) >= 25


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.id)
def test_plugin_connects_as_kubectl(shape, outcomes: dict[str, Outcome]):
    if shape.id not in outcomes:
        pytest.skip("no user and mount namespaces (unshare) to fake a pod's service account files")
    outcome = outcomes[shape.id]
    assert outcome.agree, f"kubectl: {outcome.kubectl}\nplugin:  {outcome.plugin}"
    if not outcome.plugin.ok:
        assert outcome.plugin.message.startswith("error: "), outcome.plugin.message
    else:
        assert outcome.plugin.seen, "the plugin sent no RouteTable request"


def test_connection_table_is_current(outcomes: dict[str, Outcome]):
    """docs/connection-table.md is generated: after a change of behaviour, run scripts/connection_table.py."""
    if len(outcomes) != len(SHAPES):
        pytest.skip("the in-cluster shape could not run here")
    table = render_table(list(outcomes.values()))
    assert TABLE_PATH.read_text() == table, "docs/connection-table.md is stale: run scripts/connection_table.py"


def _plugin_env(setup_env: dict[str, str], home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "HTTPS_PROXY", "KUBECTL_CANARY_DEBUG")}
    return {**env, "HOME": str(home), **setup_env}


def _touch_routes(w: World, namespace: str, stop_after: float, prefix: str) -> None:
    """Change the fake's objects every 0.5 s so `status --watch` reads the server again and again."""
    w.a.ensure_namespace(namespace)
    deadline = time.monotonic() + stop_after
    n = 0
    while time.monotonic() < deadline:
        n += 1
        w.a.create(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": f"{prefix}-{n}", "namespace": namespace, "labels": {"app": "tick"}},
                "spec": {
                    "selector": {"matchLabels": {"app": "tick"}},
                    "template": {
                        "metadata": {"labels": {"app": "tick"}},
                        "spec": {"containers": [{"name": "c", "image": "i"}]},
                    },
                },
            }
        )
        time.sleep(0.5)


def _watch(w: World, kubeconfig: Path, tmp_path: Path, timeout: str) -> subprocess.Popen[str]:
    """`status --watch` for `timeout`, in the background, with server a's request log cleared."""
    w.a.clear_requests()
    return subprocess.Popen(
        [PLUGIN, "status", "--watch", "--timeout", timeout],
        cwd=tmp_path,
        env=_plugin_env(kubeconfig_env(kubeconfig), tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_exec_credential_expiring_during_status_watch(servers: World, tmp_path: Path):
    """The token lives 12 s and is refreshed 10 s before it expires: a watch of 6 s outlives several,
    and once the server stops accepting the first, the watch still reads with the new ones."""
    w = servers
    exec_plugin(tmp_path, "token-exec", expires_in=12)
    path = simple(w, tmp_path, user=exec_user("./bin/cred"), namespace="team-a")
    watch = _watch(w, path, tmp_path, "6s")
    try:
        _touch_routes(w, "team-a", 5, "exec")
        _, err = watch.communicate(timeout=30)
    finally:
        watch.kill()
    assert watch.returncode == 0, err
    runs = int((tmp_path / "cred.runs").read_text())
    assert runs >= 3, f"the exec plugin ran {runs} time(s): expired tokens were not refreshed"
    assert all(r.status != 401 for r in w.a.requests)


def test_rotated_token_file_during_status_watch(servers: World, tmp_path: Path):
    """The server stops accepting the old token; the file holds the new one: the next requests carry it."""
    w = servers
    token = tmp_path / "token"
    token.write_text("token-file\n")
    path = simple(w, tmp_path, user={"tokenFile": "token"}, namespace="team-a")
    watch = _watch(w, path, tmp_path, "5s")
    try:
        time.sleep(1.5)
        w.a.accept_tokens("token-a", "token-rotated")
        token.write_text("token-rotated\n")
        _touch_routes(w, "team-a", 2.5, "rotated")
        _, err = watch.communicate(timeout=30)
    finally:
        watch.kill()
        w.a.accept_tokens(*TOKENS)
    assert watch.returncode == 0, err
    used = {r.authorization for r in w.a.requests if r.status == 200}
    assert {"Bearer token-file", "Bearer token-rotated"} <= used


def _run_plugin(w: World, kubeconfig: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    w.a.accept_tokens(*TOKENS)
    w.a.clear_requests()
    w.issuer.reset()
    return subprocess.run([PLUGIN, *args], cwd=tmp_path, env=_plugin_env(kubeconfig_env(kubeconfig), tmp_path),
                          capture_output=True, text=True, timeout=60)


def test_renewed_oidc_tokens_keep_the_rest_of_the_kubeconfig(servers: World, tmp_path: Path):
    """kubectl writes the whole file anew (sorted keys, no comments); the plugin changes the two values only."""
    w = servers
    path = simple(w, tmp_path, user=oidc_user(w.issuer, id_token=EXPIRED_ID_TOKEN))
    original = "# written by hand\n" + path.read_text().replace("kind: Config", "kind: Config  # keep me")
    path.write_text(original)
    done = _run_plugin(w, path, tmp_path, "status")
    assert done.returncode == 0, done.stderr
    assert path.read_text() == original.replace(EXPIRED_ID_TOKEN, REFRESHED_ID_TOKEN).replace(
        f"refresh-token: {REFRESH_TOKEN}", f"refresh-token: {ROTATED_REFRESH_TOKEN}")
    assert w.issuer.requests == ["GET discovery", "POST token (basic)"]
    assert not (tmp_path / "main.yaml.lock").exists()


def test_oidc_renewal_refused_while_kubectl_holds_the_lock(servers: World, tmp_path: Path):
    """kubectl's lock file (FILE.lock) held: one error line naming it, the issuer not asked, nothing written."""
    w = servers
    path = simple(w, tmp_path, user=oidc_user(w.issuer, id_token=EXPIRED_ID_TOKEN))
    original = path.read_text()
    (tmp_path / "main.yaml.lock").write_text("")
    done = _run_plugin(w, path, tmp_path, "status")
    assert (done.returncode, done.stderr) == (
        1, f"error: cannot write to kubeconfig {path}: {path}.lock exists (kubectl is writing it; remove the lock "
           f"if no kubectl runs)\n")
    assert (w.issuer.requests, path.read_text(), w.a.requests) == ([], original, [])


def test_oidc_tokens_renewed_meanwhile_by_another_kubectl_are_used(servers: World, tmp_path: Path):
    """Between reading the kubeconfig and the first request, another kubectl renewed the tokens: the plugin
    reads them again under the lock and uses them; no second renewal (a refresh-token may be good only once)."""
    from kubectl_canary.kube.identity import Identity
    from kubectl_canary.kube.kubeconfig import ConnectionOptions, resolve

    w = servers
    w.issuer.reset()
    path = simple(w, tmp_path, user=oidc_user(w.issuer, id_token=EXPIRED_ID_TOKEN))
    identity = Identity(resolve(ConnectionOptions(kubeconfig=str(path)), {}))
    renewed = path.read_text().replace(EXPIRED_ID_TOKEN, FRESH_ID_TOKEN).replace(REFRESH_TOKEN, "refresh-9")
    path.write_text(renewed)
    assert dict(identity.headers())["Authorization"] == f"Bearer {FRESH_ID_TOKEN}"
    assert (w.issuer.requests, path.read_text()) == ([], renewed)


def test_oidc_id_token_expiring_during_status_watch(servers: World, tmp_path: Path):
    """An id-token with 13 s left counts as expired 10 s before: during a 6 s watch it is renewed once, the
    requests after carry the new one, and the kubeconfig holds it."""
    w = servers
    short_lived = jwt(iss="issuer", sub="jane", aud=CLIENT_ID, exp=int(time.time()) + 13, jti="short")
    w.a.accept_tokens(*TOKENS, short_lived)
    path = simple(w, tmp_path, user=oidc_user(w.issuer, id_token=short_lived), namespace="team-a")
    w.issuer.reset()
    watch = _watch(w, path, tmp_path, "6s")
    try:
        _touch_routes(w, "team-a", 5, "oidc")
        _, err = watch.communicate(timeout=30)
    finally:
        watch.kill()
        w.a.accept_tokens(*TOKENS)
    assert watch.returncode == 0, err
    used = [r.authorization for r in w.a.requests]
    assert used[0] == f"Bearer {short_lived}" and used[-1] == f"Bearer {REFRESHED_ID_TOKEN}"
    assert w.issuer.requests == ["GET discovery", "POST token (basic)"]
    assert REFRESHED_ID_TOKEN in path.read_text()


def test_status_all_namespaces_lists_in_pages(api, canary):
    for n in range(3):
        api.ensure_namespace(f"ns-{n}")
    from kubectl_canary.kube import cluster

    original = cluster.LIST_CHUNK
    cluster.LIST_CHUNK = 2
    try:
        result = canary("status", "-A")
    finally:
        cluster.LIST_CHUNK = original
    assert result.code == 0, result.err
    lists = [r for r in api.requests if r.path == "/apis/gateway.solo.io/v1/routetables"]
    assert [r.query.get("limit") for r in lists] == ["2"]
    namespaces = [r for r in api.requests if r.path == "/api/v1/namespaces"] or lists
    assert namespaces


def test_paged_list_reads_every_page(api, kubeconfig):
    from kubectl_canary.kube import cluster as cluster_module
    from kubectl_canary.kube.cluster import ConnectionOptions, connect
    from kubectl_canary.model.resources import NAMESPACES

    for n in range(5):
        api.ensure_namespace(f"ns-{n}")
    original = cluster_module.LIST_CHUNK
    cluster_module.LIST_CHUNK = 2
    try:
        client, _ = connect(ConnectionOptions(kubeconfig=str(kubeconfig)), field_manager="t", dry_run="none")
        names = [item["metadata"]["name"] for item in client.list(NAMESPACES, None)]
    finally:
        cluster_module.LIST_CHUNK = original
    assert sorted(names) == sorted(["default", "echo"] + [f"ns-{n}" for n in range(5)])
    pages = [r for r in api.requests if r.path == "/api/v1/namespaces"]
    assert [r.query.get("limit") for r in pages] == ["2"] * 4
    assert [bool(r.query.get("continue")) for r in pages] == [False, True, True, True]


def test_throttling_is_retried_after_retry_after(api, canary):
    canary("init", "echo")
    api.inject_fault(Fault.throttle(1), method="GET", path_contains="/routetables/", times=2)
    started = time.monotonic()
    result = canary("status", "echo")
    assert time.monotonic() - started >= 2
    throttled = [r for r in api.requests if r.status == 429]
    assert len(throttled) == 2
    assert "Too many requests" not in result.err


def test_throttling_beyond_the_request_timeout_fails(api, canary):
    canary("init", "echo")
    api.inject_fault(Fault.throttle(5), method="GET", path_contains="/routetables/", times=3)
    result = canary("status", "echo", "--request-timeout", "2s")
    assert result.code == 1
    assert result.err.startswith("error: ")
    assert len([r for r in api.requests if r.status == 429]) == 1


def test_server_warnings_are_printed_once(api, canary):
    api.add_response_header("Warning", '299 - "gateway.solo.io/v1 RouteTable is deprecated"')
    result = canary("init", "echo")
    assert result.code == 0, result.err
    assert result.err.count("Warning: gateway.solo.io/v1 RouteTable is deprecated\n") == 1


def test_user_agent_names_the_plugin_and_its_version(api, canary):
    from kubectl_canary import __version__

    canary("status", "echo")
    assert all(r.user_agent and r.user_agent.startswith(f"kubectl-canary/v{__version__} (") for r in api.requests)


@pytest.mark.parametrize(
    "flags",
    [
        ["--as-group", "ops"],
        ["--as-uid", "42"],
        ["--insecure-skip-tls-verify", "--certificate-authority", "ca.crt"],
        ["--request-timeout", "soon"],
    ],
)
def test_contradictory_connection_flags_exit_2_before_any_request(api, canary, flags):
    result = canary("header", "echo", "v2", *flags)
    assert result.code == 2
    assert result.err.count("\n") == 1 and result.err.startswith("error: ")
    assert api.requests == []


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("clusters: [\n  - name: c\n", [], "is not valid YAML (line 2)"),
        ("- just\n- a list\n", [], "is not a kubeconfig (not a mapping)"),
        (None, ["--context", "nope"], "context 'nope' not found in "),
        (None, ["--cluster", "nope"], "cluster 'nope' (--cluster) not found in "),
        (None, ["--user", "nope"], "user 'nope' (--user) not found in "),
    ],
)
def test_bad_kubeconfigs_are_one_line_naming_file_or_entry(api, canary, kubeconfig, content, args, message):
    if content is not None:
        kubeconfig.write_text(content)
    result = canary("header", "echo", "v2", *args)
    assert result.code == 1
    assert result.err.startswith("error: cannot load kubeconfig: ") and result.err.count("\n") == 1
    assert message in result.err
    if content is not None:
        assert str(kubeconfig) in result.err
    assert api.requests == []


def test_missing_explicit_kubeconfig_names_it(api, canary, tmp_path):
    result = canary("status", "--kubeconfig", str(tmp_path / "absent"))
    assert (result.code, result.err) == (
        1,
        f"error: cannot load kubeconfig: kubeconfig {tmp_path / 'absent'} does not exist\n",
    )


def test_completion_offers_kubeconfig_names_for_connection_flags(kubeconfig):
    from kubectl_canary.completer import complete

    assert [c for c, _ in complete(["status", "--cluster", ""]).candidates] == ["fake"]
    assert [c for c, _ in complete(["status", "--user", ""]).candidates] == ["fake"]
    assert [c for c, _ in complete(["status", "--context", ""]).candidates] == ["fake"]
    assert "--as-group" in [c for c, _ in complete(["status", "--as"]).candidates]
