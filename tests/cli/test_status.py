"""status: the table, -A, --watch redraws from the watch API, colour only for terminals."""

from __future__ import annotations

import io
import threading
import time

import pytest

from kubectl_canary.model.status_view import app_status, readiness_index, render_table
from kubectl_canary.model.style import Style, style_for
from kubectl_canary.routers import GLOO

NS = "echo"


def test_table_for_every_phase(api, canary):
    for app in ("echo", "web"):
        canary("init", app)
        api.set_deployment_ready(NS, f"{app}-v1")
    canary("header", "web", "v2")
    canary("weight", "web", "25", "--force")
    result = canary("status")
    assert result.code == 1  # web's canary gets 25% while not ready
    lines = result.out.splitlines()
    assert lines[0].split() == ["APP", "PHASE", "PRIMARY", "CANARY", "WEIGHT", "HEADER", "ROUTER", "VERDICT"]
    assert lines[1].split() == ["echo", "stable", "v1", "(1/1)", "-", "-", "-", "gloo", "-"]
    assert lines[2].split() == ["web", "weighted", "v1", "(1/1)", "v2", "(0/1)", "25%", "stage=canary", "gloo", "-"]
    assert lines[3] == "! web: canary v2 receives 25% of the traffic but is not ready"


def test_all_namespaces_and_empty(api, canary):
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}})
    canary("init", "echo")
    canary("init", "echo", "-n", "other")
    result = canary("status", "-A")
    assert [line.split()[:2] for line in result.out.splitlines()[1:3]] == [["echo", "echo"], ["other", "echo"]]
    empty = canary("status", "-n", "default")
    assert empty.out == "No canary apps found in namespace default.\n"


def test_watch_redraws_on_changes_until_the_timeout(api, canary):
    canary("init", "echo")
    canary("header", "echo", "v2")
    api.clear_requests()

    def make_ready_later() -> None:
        time.sleep(0.8)
        api.set_deployment_ready(NS, "echo-v2")

    changer = threading.Thread(target=make_ready_later)
    changer.start()
    started = time.monotonic()
    result = canary("status", "echo", "--watch", "--timeout", "3s")
    changer.join()
    assert 3 <= time.monotonic() - started < 8
    assert result.code == 1  # the primary never became ready
    frames = [f for f in result.out.split("\n\n") if f.strip()]
    assert len(frames) >= 2
    assert "v2 (0/1)" in frames[0] and "v2 (1/1)" in frames[-1]
    watches = [r for r in api.requests if r.query.get("watch") == "true"]
    assert {"/routetables" in r.path or "/deployments" in r.path for r in watches} == {True}
    # Redraws follow changes, not a clock: a handful of reads for the whole three seconds.
    assert len([r for r in api.requests if r.method == "GET" and not r.query.get("watch")]) <= 20


def test_timeout_needs_watch(api, canary):
    result = canary("status", "--timeout", "1s")
    assert result.code == 2 and result.err.startswith("error: --timeout goes with --watch")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_without_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert style_for(Terminal(), no_color=False).enabled
    assert not style_for(io.StringIO(), no_color=False).enabled
    assert not style_for(Terminal(), no_color=True).enabled
    monkeypatch.setenv("NO_COLOR", "1")
    assert not style_for(Terminal(), no_color=False).enabled


@pytest.mark.parametrize("enabled", [True, False])
def test_table_colours_and_symbols(api, canary, enabled):
    canary("init", "echo")
    status = app_status(GLOO, api.get("routetables", NS, "echo-routes"), readiness_index(api.list("deployments", NS)))
    assert status is not None
    text = render_table([status], all_namespaces=False, style=Style(enabled))
    assert ("\x1b[" in text) is enabled
    assert ("✗" in text) is enabled  # v1 is not ready


def test_columns_ignore_colour_codes():
    from kubectl_canary.model.style import format_columns

    red = Style(True).paint("v2 (0/1)", "red")
    assert format_columns(["A", "BB"], [["x", red], ["long", "y"]]).splitlines() == [
        "A     BB", f"x     {red}", "long  y"]


def _apps_on_both_routers(api, canary) -> None:
    """echo on Gloo (weighted, shadowing 5% to v2), web on the Gateway API (header phase), echo again in
    namespace other (stable, not ready)."""
    api.ensure_namespace("other")
    canary("init", "echo")
    canary("init", "web", "--router", "gateway-api", "--gateway", "infra/public:http")
    canary("init", "echo", "-n", "other")
    for deployment in ("echo-v1", "web-v1"):
        api.set_deployment_ready(NS, deployment)
    canary("header", "echo", "v2")
    api.set_deployment_ready(NS, "echo-v2")
    assert canary("weight", "echo", "20").code == 0
    assert canary("shadow", "echo", "v2", "--percent", "5").code == 0
    assert canary("header", "web", "v2", "--gloo-timeout", "5s").code == 0  # judged: Accepted


def test_wide_adds_shadow_route_backends_and_parents(api, canary, platform, gateway):
    _apps_on_both_routers(api, canary)
    result = canary("status", "-o", "wide")
    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == [
        "APP   PHASE     PRIMARY   CANARY    WEIGHT  HEADER        ROUTER       VERDICT   SHADOW    "
        "ROUTE                   BACKENDS                       PARENTS",
        "echo  weighted  v1 (1/1)  v2 (1/1)  20%     stage=canary  gloo         -         5% to v2  "
        "routetable/echo-routes  echo/echo,echo/echo-shadow-v2  gloo-system/default (selector)",
        "web   header    v1 (1/1)  v2 (0/1)  -       stage=canary  gateway-api  Accepted  -         "
        "httproute/web           web-v1,web-v2                  infra/public:http",
    ]
    # The default table is unchanged: no wide columns.
    assert canary("status").out.splitlines()[0].split() == [
        "APP", "PHASE", "PRIMARY", "CANARY", "WEIGHT", "HEADER", "ROUTER", "VERDICT", "SHADOW"]


def test_wide_all_namespaces_lists_virtual_services_once(api, canary, platform, gateway):
    _apps_on_both_routers(api, canary)
    api.clear_requests()
    result = canary("status", "-A", "-o", "wide")
    assert result.code == 1  # other/echo's primary is not ready
    assert result.out.splitlines() == [
        "NAMESPACE  APP   PHASE     PRIMARY   CANARY    WEIGHT  HEADER        ROUTER       VERDICT   SHADOW    "
        "ROUTE                   BACKENDS                       PARENTS",
        "echo       echo  weighted  v1 (1/1)  v2 (1/1)  20%     stage=canary  gloo         -         5% to v2  "
        "routetable/echo-routes  echo/echo,echo/echo-shadow-v2  gloo-system/default (selector)",
        "echo       web   header    v1 (1/1)  v2 (0/1)  -       stage=canary  gateway-api  Accepted  -         "
        "httproute/web           web-v1,web-v2                  infra/public:http",
        "other      echo  stable    v1 (0/1)  -         -       -             gloo         -         -         "
        "routetable/echo-routes  other/echo                     gloo-system/default (selector)",
        "! echo: primary v1 receives 100% of the traffic but is not ready",
    ]
    assert [r.path for r in api.requests if "virtualservices" in r.path] == ["/apis/gateway.solo.io/v1/virtualservices"]


def test_wide_says_unknown_parents_when_virtual_services_may_not_be_listed(api, canary):
    from tests.fake_apiserver import Fault

    canary("init", "echo")
    api.inject_fault(Fault.status(403, "Forbidden", "virtualservices is forbidden"), method="GET",
                     path_contains="/virtualservices", times=1)
    result = canary("status", "-o", "wide")
    assert result.out.splitlines()[1].split()[-3:] == ["routetable/echo-routes", "echo/echo", "<unknown>"]


def test_name_prints_each_route_object_as_kubectl_get_does(api, canary, platform, gateway):
    _apps_on_both_routers(api, canary)

    def name(*args: str) -> tuple[int, str, str]:
        result = canary("status", "-o", "name", *args)
        return result.code, result.out, result.err

    assert name() == (0, "routetable.gateway.solo.io/echo-routes\nhttproute.gateway.networking.k8s.io/web\n", "")
    assert name("web") == (0, "httproute.gateway.networking.k8s.io/web\n", "")
    # Like `kubectl get -A -o name`: no namespace; stdout stays names only, the problems go to stderr.
    assert name("-A") == (
        1,
        "routetable.gateway.solo.io/echo-routes\nhttproute.gateway.networking.k8s.io/web\n"
        "routetable.gateway.solo.io/echo-routes\n",
        "! echo: primary v1 receives 100% of the traffic but is not ready\n",
    )
    assert name("-n", "default") == (0, "", "No canary apps found in namespace default.\n")


def test_watch_with_name_prints_the_names_at_each_change(api, canary):
    canary("init", "echo")
    result = canary("status", "echo", "--watch", "--timeout", "1s", "-o", "name")
    frames = result.out.split("\n\n")
    assert frames[-1] == "" and set(frames[:-1]) == {"routetable.gateway.solo.io/echo-routes"}
    assert set(result.err.splitlines()) == {"! echo: primary v1 receives 100% of the traffic but is not ready"}
