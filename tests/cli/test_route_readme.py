"""README "Where does this request go?": every command of the section runs verbatim against the fake API
server, in the state the prose describes, and prints exactly the block below it.

UPDATE_README=1 rewrites the blocks from what the commands print (read the diff before committing).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"
SECTION = "## Where does this request go?\n"
STEP = re.compile(r"^    (kubectl canary [^\n]+)\n\n```\n(.*?)```\n", re.M | re.S)


def section() -> str:
    return README.read_text().split(SECTION, 1)[1].split("\n## ", 1)[0]


def walkthrough_weighted(api, canary) -> None:
    """The walkthrough's phase 2: echo at 50%, both versions ready."""
    assert canary("init", "echo").code == 0
    assert canary("header", "echo", "v2").code == 0
    api.set_deployment_ready("echo", "echo-v1")
    api.set_deployment_ready("echo", "echo-v2")
    assert canary("weight", "echo", "50").code == 0


def team_b_catch_all(api, canary) -> None:
    table = api.get("routetables", "echo", "echo-routes")
    table["spec"]["routes"].insert(0, {"name": "team-b", "matchers": [{"prefix": "/"}],
                                       "routeAction": {"single": {"upstream": {"name": "team-b", "namespace": "b"}}}})
    api.replace(table)


def web_with_a_debug_rule(api, canary) -> None:
    """App web on the Gateway API at 10%; then another team's rule for GET requests with the canary header."""
    gw = ("-n", "shop")
    assert canary("init", "web", *gw, "--create-namespace", "--router", "gateway-api",
                  "--gateway", "infra/public:http").code == 0
    api.set_deployment_ready("shop", "web-v1")
    assert canary("header", "web", "v2", *gw).code == 0
    api.set_deployment_ready("shop", "web-v2")
    assert canary("weight", "web", "10", *gw).code == 0
    route = api.get("httproutes", "shop", "web")
    route["spec"]["rules"].append({
        "name": "team-debug",
        "matches": [{"path": {"type": "PathPrefix", "value": "/web"}, "method": "GET",
                     "headers": [{"name": "stage", "type": "Exact", "value": "canary"}]}],
        "backendRefs": [{"name": "debug", "port": 80}]})
    api.replace(route)


# Before the step of this index, the state the prose describes.
SETUPS = {0: walkthrough_weighted, 3: team_b_catch_all, 4: web_with_a_debug_rule}


def test_the_section_runs_verbatim(api, platform, gateway, canary):
    steps = STEP.findall(section())
    assert [command.split()[2:4] for command, _ in steps] == [
        ["route", "echo"], ["route", "echo"], ["route", "echo"], ["route", "echo"], ["route", "web"],
        ["route", "web"]]
    printed = []
    for index, (command, _) in enumerate(steps):
        if index in SETUPS:
            SETUPS[index](api, canary)
        api.clear_requests()
        result = canary(*shlex.split(command)[2:])
        assert result.code == 0, (command, result.err)
        assert not [r for r in api.requests if r.method != "GET"], command  # nothing written, even --after
        printed.append(result.out)
    if os.environ.get("UPDATE_README"):
        text = README.read_text()
        head, rest = text.split(SECTION, 1)
        body, tail = rest.split("\n## ", 1)
        blocks = iter(printed)
        body = STEP.sub(lambda m: f"    {m.group(1)}\n\n```\n{next(blocks)}```\n", body)
        README.write_text(head + SECTION + body + "\n## " + tail)
    assert printed == [expected for _, expected in steps]
