"""The fault cases: every request of every command, hit by every kind of fault, on a fresh fake API server.

Shared by tests/safety/test_faults.py (which checks the invariants of every case) and scripts/fault_table.py
(which writes docs/fault-table.md). A case is (scenario, request index, fault kind):

1. each scenario (a command and the commands that set up its preconditions) is first run cleanly, and
   the requests it sends (method + path, from the fake's request log) are its request sequence;
2. for each request i of that sequence and each fault kind that applies to it (409 and after-write drop
   only on writes), a fresh fake gets the same preconditions, the fault is injected at exactly request i
   (the k-th request with that method whose path contains request i's path, counted as the fake's
   FaultPlan counts), and the command runs with the fault; when it failed, it runs once more without;
3. the outcome is the exit code, the first line of stderr (normalised: no ports), how the command got
   through when it succeeded anyway, the invariant violations seen after the faulted run, and whether
   the state is the clean run's final state (after the re-run, if there was one).

The outcomes are deterministic (the table is compared verbatim) as long as an unfaulted request is
answered within REQUEST_TIMEOUT and the client gives up on a delayed one before DELAY_SECONDS: 0.3 s and
0.5 s leave a wide margin on a loaded 2-core machine, where the fake answers in a few milliseconds.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TextIO

from kubectl_canary.cli import main
from kubectl_canary.errors import CanaryError
from kubectl_canary.routers.gloo import parse_routes
from tests.design_routes import FINISHED, PHASE1, PLATFORM_VIRTUAL_SERVICE, STABLE, named, phase2
from tests.fake_apiserver import FakeApiServer, Fault, RequestRecord

NAMESPACE = "echo"
APP = "echo"
# Short enough to keep the delay cases fast, long enough for a loaded 2-core machine to answer in time.
REQUEST_TIMEOUT = "0.3s"
# Setup, clean runs and re-runs carry no fault: a loaded machine (CI, 2 cores) must not fail them.
CALM_REQUEST_TIMEOUT = "30s"
DELAY_SECONDS = 0.5
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
STALE_MESSAGE = "the object has been modified; please apply your changes to the latest version and try again"

KNOWN_WARNINGS = (
    # init, when a VirtualService selects its RouteTable by labels (the platform's, here)
    "warning: VirtualService gloo-system/default delegates to RouteTable echo-routes by label selector: ",
    # every writing command, when the Event that records what it did cannot be written (best effort)
    "warning: could not record the ",
)



@dataclass(frozen=True, eq=False)
class Scenario:
    """A command, the commands run cleanly before it, and the state a clean run of it ends in."""

    name: str
    setup: tuple[tuple[str, ...], ...]
    args: tuple[str, ...]
    routes: tuple[Any, ...]  # the RouteTable's routes after a clean run (tests.design_routes)
    deployments: tuple[str, ...]  # the Deployments after a clean run


INIT = ("init", APP)
HEADER = ("header", APP, "v2")
WEIGHT = ("weight", APP, "50")

SCENARIOS = (
    Scenario("init", (), INIT, tuple(named(STABLE)), ("echo-v1",)),
    Scenario("header v2", (INIT,), HEADER, tuple(named(PHASE1)), ("echo-v1", "echo-v2")),
    Scenario("weight 50", (INIT, HEADER), WEIGHT, tuple(named(phase2(50))), ("echo-v1", "echo-v2")),
    Scenario("finish", (INIT, HEADER, WEIGHT), ("finish", APP), tuple(named(FINISHED)), ("echo-v2",)),
    Scenario("abort", (INIT, HEADER, WEIGHT), ("abort", APP), tuple(named(STABLE)), ("echo-v1",)),
)


@dataclass(frozen=True)
class FaultKind:
    label: str
    fault: Fault
    writes_only: bool = False


FAULT_KINDS = (
    FaultKind("500", Fault.status(500)),
    FaultKind("409 stale", Fault.status(409, reason="Conflict", message=STALE_MESSAGE), writes_only=True),
    FaultKind(f"delay {DELAY_SECONDS:g}s", Fault.delay(DELAY_SECONDS)),
    FaultKind("drop", Fault.drop()),
    FaultKind("after-write drop", Fault.after_write_drop(), writes_only=True),
)


@dataclass(frozen=True)
class Request:
    method: str
    path: str

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def is_write(self) -> bool:
        return self.method in WRITE_METHODS


@dataclass(frozen=True)
class Case:
    scenario: Scenario
    index: int  # 1-based position of the faulted request in the clean run's sequence
    request: Request
    kind: FaultKind
    nth: int  # which request whose path contains request.path (same method) is faulted, counted from 1

    @property
    def id(self) -> str:
        return f"{self.scenario.name}-{self.index}-{self.kind.label}".replace(" ", "_")


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class Outcome:
    case: Case
    code: int
    message: str  # the error line, or the first warning a clean run does not print; normalised
    recovery: str  # how a faulted run that exited 0 got through ("" otherwise)
    violations: tuple[str, ...]  # invariants broken by the faulted run
    rerun_code: int
    rerun_message: str
    rerun_state_matches: bool

    @property
    def converges(self) -> bool:
        return self.rerun_code == 0 and self.rerun_state_matches

    @property
    def rerun(self) -> str:
        if self.code == 0:
            return "not needed: final state reached" if self.rerun_state_matches else "final state differs"
        if self.converges:
            return "converges"
        if self.rerun_code != 0:
            return f"exit {self.rerun_code}: {self.rerun_message}"
        return "exit 0, but the final state differs"


# --- running the plugin -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _no_debug() -> Iterator[None]:
    """Bugs must surface the way users see them (one `error: internal error` line), not as exceptions."""
    saved = os.environ.pop("KUBECTL_CANARY_DEBUG", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["KUBECTL_CANARY_DEBUG"] = saved


class _ThisThread(io.TextIOBase):
    """sys.stdout/sys.stderr while the plugin runs: what this thread writes is captured, what other threads
    write (a fake API server's handler reporting an error, left over from another test) goes where it
    went before."""

    def __init__(self, captured: io.StringIO, elsewhere: TextIO) -> None:
        super().__init__()
        self._thread = threading.get_ident()
        self._captured = captured
        self._elsewhere = elsewhere

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return (self._captured if threading.get_ident() == self._thread else self._elsewhere).write(text)

    def flush(self) -> None:
        if threading.get_ident() != self._thread:
            self._elsewhere.flush()


def run_plugin(kubeconfig: Path, args: Sequence[str], request_timeout: str = CALM_REQUEST_TIMEOUT) -> Result:
    argv = ["--kubeconfig", str(kubeconfig), "-n", NAMESPACE, "--request-timeout", request_timeout, *args]
    out, err = io.StringIO(), io.StringIO()
    stdout, stderr = _ThisThread(out, sys.stdout), _ThisThread(err, sys.stderr)
    with _no_debug(), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(argv)
    return Result(code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def prepared(scenario: Scenario, linger: float = 0) -> Iterator[tuple[FakeApiServer, Path]]:
    """A fresh fake with the scenario's preconditions (every Deployment ready), and a kubeconfig for it.

    `linger`: keep the fake serving that many seconds longer, in the background, so that a delayed read
    the client gave up on is still answered by a running server (into a closed connection).
    """
    api = FakeApiServer().start()
    try:
        with tempfile.TemporaryDirectory(prefix="kubectl-canary-faults-") as directory:
            yield _set_up(api, scenario, Path(directory) / "kubeconfig")
    finally:
        if linger > 0:
            stop_later = threading.Timer(linger, api.stop)
            stop_later.daemon = True
            stop_later.start()
        else:
            api.stop()


def _set_up(api: FakeApiServer, scenario: Scenario, path: Path) -> tuple[FakeApiServer, Path]:
    api.auto_ready = True
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "gloo-system"}})
    api.create(PLATFORM_VIRTUAL_SERVICE)
    kubeconfig = api.write_kubeconfig(path, namespace=NAMESPACE)
    for args in scenario.setup:
        result = run_plugin(kubeconfig, args)
        if result.code != 0:
            raise RuntimeError(f"setup {' '.join(args)} of {scenario.name} failed: {result.err}")
    api.clear_requests()
    return api, kubeconfig


def _requests(records: Sequence[RequestRecord]) -> list[Request]:
    return [Request(r.method, r.path) for r in records]


@dataclass(frozen=True)
class CleanRun:
    requests: tuple[Request, ...]  # in the order the server saw them
    stderr: tuple[str, ...]  # normalised lines (warnings)


@cache
def clean_run(scenario: Scenario) -> CleanRun:
    """A run of the scenario's command without faults: its requests and its stderr."""
    with prepared(scenario) as (api, kubeconfig):
        result = run_plugin(kubeconfig, scenario.args)
        if result.code != 0:
            raise RuntimeError(f"clean run of {scenario.name} failed: {result.err}")
        problems = final_state_problems(api, scenario) + stderr_problems(result.err)
        if problems:
            raise RuntimeError(f"clean run of {scenario.name}: {'; '.join(problems)}")
        return CleanRun(tuple(_requests(api.requests)), tuple(normalise(line) for line in result.err.splitlines()))


def clean_sequence(scenario: Scenario) -> tuple[Request, ...]:
    """The requests a clean run of the scenario's command sends, in order."""
    return clean_run(scenario).requests


def cases_of(scenario: Scenario) -> list[Case]:
    sequence = clean_sequence(scenario)
    cases = []
    for position, request in enumerate(sequence, start=1):
        # The fake counts every request with this method whose path contains this path (a namespace's
        # path is contained in the paths of its objects): the faulted one is the nth such request.
        nth = sum(1 for r in sequence[:position] if r.method == request.method and request.path in r.path)
        for kind in FAULT_KINDS:
            if kind.writes_only and not request.is_write:
                continue
            cases.append(Case(scenario, position, request, kind, nth))
    return cases


@cache
def all_cases() -> tuple[Case, ...]:
    return tuple(case for scenario in SCENARIOS for case in cases_of(scenario))


# --- invariants -------------------------------------------------------------------------------------------


def _live_routes(api: FakeApiServer) -> list[Any] | None:
    route_table = api.get("routetables", NAMESPACE, f"{APP}-routes")
    return None if route_table is None else list((route_table.get("spec") or {}).get("routes") or [])


def _deployments(api: FakeApiServer) -> list[str]:
    return sorted(d["metadata"]["name"] for d in api.list("deployments", NAMESPACE))


def routes_to_missing_deployments(api: FakeApiServer) -> list[str]:
    """Versions the live routes send traffic to whose Deployment does not exist."""
    routes = _live_routes(api)
    if routes is None:
        return []
    try:
        state = parse_routes(APP, routes).state
    except CanaryError as error:
        return [f"unreadable routes: {error}"]
    versions = [v for v in (state.primary, state.canary) if v is not None]
    return [f"routes send traffic to {v}, but deployment {APP}-{v} does not exist"
            for v in versions if api.get("deployments", NAMESPACE, f"{APP}-{v}") is None]


def final_state_problems(api: FakeApiServer, scenario: Scenario) -> list[str]:
    """How the fake's state differs from what a clean run of the scenario leaves."""
    problems = []
    routes = _live_routes(api)
    if routes != list(scenario.routes):
        problems.append(f"routes {routes!r}")
    if _deployments(api) != list(scenario.deployments):
        problems.append(f"deployments {_deployments(api)}")
    for resource, name in (("services", APP), ("upstreams", APP)):
        if api.get(resource, NAMESPACE, name) is None:
            problems.append(f"{resource} {name} missing")
    return problems


def stderr_problems(err: str) -> list[str]:
    """Stderr must be empty, or known warnings followed by at most one `error:` line (never a traceback)."""
    lines = err.splitlines()
    problems = []
    errors = [line for line in lines if line.startswith("error: ")]
    other = [line for line in lines if not line.startswith("error: ") and not line.startswith(KNOWN_WARNINGS)]
    if other:
        problems.append(f"unexpected stderr {other[0]!r}")
    if len(errors) > 1 or (errors and lines[-1] != errors[0]):
        problems.append("more than one error line, or an error line that is not the last")
    if any(line.startswith("error: internal error") for line in errors):
        problems.append(f"internal error: {errors[0]}")
    return problems


def normalise(line: str) -> str:
    line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line)
    line = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UID", line)
    return re.sub(r"\bin \d+ ms\b", "in N ms", line)


def first_line(err: str, clean_stderr: Sequence[str] = ()) -> str:
    """The first `error:` line, else the first line a clean run does not print (a warning), normalised."""
    lines = [normalise(line) for line in err.splitlines()]
    errors = [line for line in lines if line.startswith("error: ")]
    return (errors or [line for line in lines if line not in clean_stderr] or [""])[0]


# --- running one case -------------------------------------------------------------------------------------


def _wait_until_served(api: FakeApiServer, request: Request, count: int) -> None:
    """A delayed request is served after the client gave up: wait for it (until the log holds `count`
    requests like it), so that a write it carries has landed before the state is checked and the command
    runs again, and so that it is not served by a stopped server."""
    deadline = time.monotonic() + DELAY_SECONDS + 10
    while time.monotonic() < deadline:
        if sum(1 for r in api.requests if (r.method, r.path) == (request.method, request.path)) >= count:
            return
        time.sleep(0.01)
    raise RuntimeError(f"the delayed request {request} was never served")


def _recovery(case: Case, clean: Sequence[Request], seen: Sequence[Request], message: str) -> str:
    """How a faulted run that exited 0 got through, from its request log and its stderr."""
    if case.kind.fault.kind == "drop" and seen[case.index : case.index + 1] == [case.request]:
        return "the client sent the request again on a new connection"
    extra = len(seen) - len(clean)
    if extra > 0:
        return f"re-read, recomputed and written again ({extra} more requests than a clean run)"
    if message.startswith("warning: "):
        return "went on without it (best effort), with a warning"
    return "no visible recovery"


def run_case(case: Case) -> Outcome:
    """Run the command with the fault, check the invariants, and run it again without the fault when the
    faulted run failed (a command that succeeded must already have reached the clean run's final state:
    running finish or abort a second time is refused by design, as there is no canary left)."""
    clean = clean_sequence(case.scenario)
    request = case.request
    delayed = case.kind.fault.kind == "delay"
    # A delayed write lands after the client gave up: wait for it before looking at the state. A delayed
    # read changes nothing: the fake answers it in the background (into the closed connection).
    linger = DELAY_SECONDS + 1 if delayed and not request.is_write else 0
    with prepared(case.scenario, linger) as (api, kubeconfig):
        api.inject_fault(case.kind.fault, method=request.method, path_contains=request.path, nth=case.nth)
        result = run_plugin(kubeconfig, case.scenario.args, REQUEST_TIMEOUT)
        if delayed and request.is_write:
            _wait_until_served(api, request, sum(1 for r in clean[: case.index] if r == request))
        seen = _requests(api.requests)
        api.clear_faults()

        violations = []
        if result.code not in (0, 1):
            violations.append(f"exit code {result.code}")
        violations += stderr_problems(result.err)
        violations += routes_to_missing_deployments(api)
        # The fault hit exactly request `index`: everything before it went as in the clean run (a delayed
        # read still in flight is not in the log yet).
        in_flight = linger > 0 and seen == list(clean[: case.index - 1])
        if seen[: case.index - 1] != list(clean[: case.index - 1]) or (
            request not in seen[case.index - 1 :] and not in_flight
        ):
            violations.append("the fault did not hit the intended request")

        rerun = Result(0, "", "") if result.code == 0 else run_plugin(kubeconfig, case.scenario.args)
        if result.code != 0:
            violations += [f"re-run: {p}" for p in stderr_problems(rerun.err)]
        state_problems = final_state_problems(api, case.scenario)
        message = first_line(result.err, clean_run(case.scenario).stderr)
        return Outcome(
            case=case,
            code=result.code,
            message=message,
            recovery=_recovery(case, clean, seen, message) if result.code == 0 else "",
            violations=tuple(violations),
            rerun_code=rerun.code,
            rerun_message=first_line(rerun.err),
            rerun_state_matches=not state_problems,
        )


def run_all(cases: Sequence[Case] | None = None) -> list[Outcome]:
    return [run_case(case) for case in (all_cases() if cases is None else cases)]


# --- the table --------------------------------------------------------------------------------------------


def outcome_kind(outcome: Outcome) -> str:
    if outcome.violations:
        return "invariant broken"
    if outcome.code == 0:
        return "exit 0, final state reached" if outcome.converges else "exit 0, final state differs"
    return "exit 1, re-run converges" if outcome.converges else "exit 1, re-run fails"


def _cell(text: str) -> str:
    return text.replace("|", "\\|") if text else "—"


INTRO = f"""\
# Fault table

Generated by `scripts/fault_table.py` from the cases of `tests/safety/fault_cases.py`: do not edit it by
hand. `tests/safety/test_faults.py` fails when it differs from what the cases produce.

Each command runs against a fresh fake API server with its preconditions (init: an empty namespace;
header v2: after init; weight 50: after header, canary ready; finish and abort: after weight 50), with
`--request-timeout {REQUEST_TIMEOUT}`. One request of its clean run (*#*, *request*) gets one fault:

- `500`: an error Status instead of an answer;
- `409 stale`: Conflict, "the object has been modified" (writes only);
- `delay {DELAY_SECONDS:g}s`: the answer comes after the client gave up; a delayed write still lands;
- `drop`: the connection is closed, the request is not served;
- `after-write drop`: the write is stored, then the connection is closed without an answer (writes only).

*exit* and *message* are the faulted run's (*message*: its `error:` line, else the first warning a clean
run does not print; ports replaced by PORT); *how* says how a faulted run that exited 0 got through.
*re-run*: after a failed run, the same command again without faults; `converges` means exit 0 and the
clean run's final routes and Deployments. A run that exited 0 is not run again (finish and abort refuse
a second run by design): its state must already be the final one. After every faulted run, no route
points at a version whose Deployment does not exist, and stderr holds no traceback (known warnings,
then at most one `error:` line).
"""


def render_table(outcomes: Sequence[Outcome]) -> str:
    cases = [o.case for o in outcomes]
    scenarios = list(dict.fromkeys(c.scenario for c in cases))
    per_scenario = ", ".join(f"{s.name}: {len(clean_sequence(s))}" for s in scenarios)
    writes = sum(1 for s in scenarios for r in clean_sequence(s) if r.is_write)
    reads = sum(len(clean_sequence(s)) for s in scenarios) - writes
    kinds = Counter(outcome_kind(o) for o in outcomes)
    by_fault = Counter((o.case.kind.label, o.code) for o in outcomes)
    lines = [
        INTRO,
        "## Summary",
        "",
        f"{len(outcomes)} cases: {len(scenarios)} commands, {reads + writes} requests ({per_scenario}); "
        f"{reads} reads x 3 faults + {writes} writes x 5 faults.",
        "",
        "| outcome | cases |",
        "|---|---|",
        *(f"| {kind} | {count} |" for kind, count in sorted(kinds.items())),
        "",
        "| fault | exit 0 | exit 1 |",
        "|---|---|---|",
        *(f"| {k.label} | {by_fault[(k.label, 0)]} | {by_fault[(k.label, 1)]} |" for k in FAULT_KINDS),
        "",
        "## Cases",
        "",
        "| command | # | request | fault | exit | message | how | re-run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        c = o.case
        lines.append(
            f"| {c.scenario.name} | {c.index} | `{c.request}` | {c.kind.label} | {o.code} | {_cell(o.message)} "
            f"| {_cell(o.recovery)} | {_cell(o.rerun)} |"
        )
    return "\n".join(lines) + "\n"


TABLE_PATH = Path(__file__).resolve().parents[2] / "docs" / "fault-table.md"
