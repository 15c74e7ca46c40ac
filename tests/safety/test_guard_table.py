"""docs/guard-table.md is current and no case moves traffic toward a missing Deployment (90 cases)."""

from __future__ import annotations

from tests.safety.guard_cases import TABLE_PATH, render_table, run_all


def test_guard_table_is_current_and_never_moves_traffic_to_a_missing_deployment():
    outcomes = run_all()
    assert len(outcomes) == 90
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
    # The same guards through the same code: each router's rows say the same.
    def rows(router: str) -> dict[tuple[str, str, str], tuple[int, str, str]]:
        return {(o.command, o.primary, o.canary): (o.code, o.before, o.after) for o in outcomes if o.router == router}

    assert rows("gateway-api") == rows("gloo")
