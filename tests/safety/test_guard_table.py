"""docs/guard-table.md is current and no case moves traffic toward a missing Deployment (150 cases)."""

from __future__ import annotations

from tests.safety.guard_cases import (
    ONE_OF_TWO,
    PARTIAL_STATES,
    ROLLING,
    STUCK,
    TABLE_PATH,
    render_table,
    run_all,
)


def test_guard_table_is_current_and_never_moves_traffic_to_a_missing_deployment():
    outcomes = run_all()
    assert len(outcomes) == 150
    assert [(o.command, o.primary, o.canary, o.violations) for o in outcomes if o.violations] == []
    table = render_table(outcomes)
    assert TABLE_PATH.read_text() == table, "docs/guard-table.md is stale: run .venv/bin/python scripts/guard_table.py"
    # The cases: weight down and abort go without --force toward an available primary; abort
    # toward a missing primary is refused and says how to recover.
    by_case = {(o.router, o.command.split(" (")[0], o.primary, o.canary): o for o in outcomes}
    for router in ("gloo", "gateway-api"):
        assert by_case[(router, "weight 10", "available", "unavailable")].code == 0
        assert by_case[(router, "abort", "available", "unavailable")].code == 0
        refused = by_case[(router, "abort", "missing", "available")]
        assert refused.code == 1 and "kubectl canary finish echo" in refused.message
        # Back to a primary with 1 of 2 pods ready: the emergency exit stays open, with a warning.
        for command in ("abort", "weight 10"):
            back = by_case[(router, command, ONE_OF_TWO, "available")]
            assert back.code == 0 and back.after.startswith("100% v1" if command == "abort" else "90% v1")
            assert back.warning.startswith("warning: deployment echo-v1 has 1/2 ready replicas, fewer than the 2")
            for serving in (ROLLING, STUCK):  # old pods serve: back goes, without a warning
                assert (by_case[(router, command, serving, "available")].code,
                        by_case[(router, command, serving, "available")].warning) == (0, "")
        # Toward a canary that is not Available at its current generation, or still rolling out: refused.
        for command in ("weight 50", "finish"):
            refused_toward = {state: by_case[(router, command, "available", state)] for state in PARTIAL_STATES}
            assert all(o.code == 1 and o.before == o.after for o in refused_toward.values())
            assert "(its Deployment needs 2 to be available)" in refused_toward[ONE_OF_TWO].message
            assert "its rollout is in progress (1 of 2 replicas updated" in refused_toward[ROLLING].message
            assert "ProgressDeadlineExceeded" in refused_toward[STUCK].message
    # The same guards through the same code: each router's rows say the same.
    def rows(router: str) -> dict[tuple[str, str, str], tuple[int, str, str, str]]:
        return {(o.command, o.primary, o.canary): (o.code, o.before, o.after, o.warning)
                for o in outcomes if o.router == router}

    assert rows("gateway-api") == rows("gloo")
