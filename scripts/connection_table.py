#!/usr/bin/env python3
"""Write docs/connection-table.md: every shape of tests/safety/connection_cases.py through kubectl and the plugin.

    .venv/bin/python scripts/connection_table.py           # regenerate the table
    .venv/bin/python scripts/connection_table.py --check   # exit 1 when the checked-in table is stale

tests/safety/test_connection_parity.py runs the same shapes and fails when the checked-in table differs.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.generated_table import check_or_write, parse_check
from tests.safety.connection_cases import TABLE_PATH, render_table, run_all


def main() -> int:
    check = parse_check(__doc__)
    with tempfile.TemporaryDirectory() as base:
        outcomes = run_all(Path(base))
    for outcome in outcomes:
        if not outcome.agree:
            print(f"disagree: {outcome.shape.id}: kubectl {outcome.kubectl} / plugin {outcome.plugin}", file=sys.stderr)
    table = render_table(outcomes)
    written = check_or_write(TABLE_PATH, table, "scripts/connection_table.py", check=check)
    return written or (0 if all(o.agree for o in outcomes) else 1)


if __name__ == "__main__":
    sys.exit(main())
