"""A fault at every request of every command: 155 cases, the fault table in docs/fault-table.md.

The cases come from tests/safety/fault_cases.py: 5 commands (init, header v2, weight 50, finish, abort,
each on a fresh fake API server with its preconditions), 41 requests in their clean runs (25 reads,
16 writes), and each request hit by `500`, `delay` (longer than `--request-timeout`) and `drop`, each
write also by `409 stale` and `after-write drop`: 25 x 3 + 16 x 5 = 155 cases.

After every faulted run: exit code 0 or 1 and stderr without a traceback (known warnings, then at most
one `error:` line); no route points at a version whose Deployment does not exist. Then a failed run is
run again without faults and must exit 0 in the clean run's final state (routes of tests.design_routes,
the same Deployments); a run that succeeded must already be in that state.

docs/fault-table.md is what `scripts/fault_table.py` writes from the same cases; the last test fails when
the checked-in table differs from this run's outcomes, so behaviour changes show up as a diff.
"""

from __future__ import annotations

import re

import pytest

from tests.design_routes import PHASE1, named
from tests.fake_apiserver import Fault
from tests.safety import fault_cases
from tests.safety.fault_cases import HEADER, INIT, TABLE_PATH, WEIGHT, Case, Outcome

NS = "echo"



def known_bug(case: Case) -> str | None:
    """Cases of a known, not yet fixed bug: marked as strict xfails (none at the moment)."""
    return None


CASES = fault_cases.all_cases()


def _param(case: Case):
    reason = known_bug(case)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    return {outcome.case.id: outcome for outcome in fault_cases.run_all(CASES)}


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_fault(case: Case, outcomes: dict[str, Outcome]):
    outcome = outcomes[case.id]
    assert outcome.violations == ()
    assert outcome.code in (0, 1)
    assert outcome.converges, outcome.rerun


@pytest.mark.parametrize(("command", "deleted"), [("finish", "echo-v1"), ("abort", "echo-v2")])
def test_rerun_after_the_answer_to_the_delete_was_lost(api, canary, command, deleted):
    api.auto_ready = True
    for args in (INIT, HEADER, WEIGHT):
        assert canary(*args).code == 0
    api.inject_fault(Fault.after_write_drop(), method="DELETE", path_contains=f"/deployments/{deleted}")
    first = canary(command, "echo")
    assert first.code == 1
    assert first.err.endswith("connection closed without a response\n")
    assert api.get("deployments", NS, deleted) is None  # the server did delete it

    again = canary(command, "echo")
    assert again.code == 0, again.err


def test_header_with_a_stale_route_write_recomputes_and_succeeds(api, canary):
    """The one retry the plugin makes on purpose, seen from the request log."""
    api.auto_ready = True
    assert canary(*INIT).code == 0
    stale = Fault.status(409, reason="Conflict", message=fault_cases.STALE_MESSAGE)
    api.inject_fault(stale, method="PATCH", path_contains="/routetables/echo-routes")
    api.clear_requests()
    result = canary(*HEADER)
    assert result.code == 0, result.err
    route_requests = [(r.method, r.status) for r in api.requests if r.path.endswith("/routetables/echo-routes")]
    assert route_requests == [("GET", 200), ("PATCH", 409), ("GET", 200), ("PATCH", 200)]
    assert api.get("routetables", NS, "echo-routes")["spec"]["routes"] == named(PHASE1)


def test_fault_table_is_current(outcomes):
    """docs/fault-table.md is generated: after a change of behaviour, run scripts/fault_table.py."""
    table = fault_cases.render_table([outcomes[case.id] for case in CASES])
    assert TABLE_PATH.read_text() == table, "docs/fault-table.md is stale: run .venv/bin/python scripts/fault_table.py"
    stated = re.search(r"(\d+) cases", __doc__ or "")
    assert stated is not None and int(stated.group(1)) == len(CASES), "update the case count in the docstring"


def test_the_route_check_sees_a_route_to_a_missing_deployment(api, canary):
    """The invariant checks themselves, on a state no command should leave."""
    assert canary(*INIT).code == 0 and canary(*HEADER).code == 0
    assert fault_cases.routes_to_missing_deployments(api) == []
    api.delete("deployments", NS, "echo-v2")
    assert fault_cases.routes_to_missing_deployments(api) == [
        "routes send traffic to v2, but deployment echo-v2 does not exist"
    ]


@pytest.mark.parametrize(
    ("stderr", "ok"),
    [
        ("", True),
        ("error: injected\n", True),
        ("warning: could not record the CanaryWeight event: injected\n", True),
        ("Traceback (most recent call last):\n  File ...\nKeyError: 'spec'\n", False),
        ("error: internal error (KeyError: 'spec'); please report it\n", False),
        ("error: one\nerror: two\n", False),
        ("error: first\nwarning: could not record the CanaryWeight event: injected\n", False),
    ],
)
def test_the_stderr_check(stderr, ok):
    assert (fault_cases.stderr_problems(stderr) == []) is ok
