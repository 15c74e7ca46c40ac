#!/usr/bin/env python3
"""Write docs/guard-table.md: every command that moves traffic x (primary, canary) x (missing, unavailable,
available), from tests/safety/guard_cases.py.

    .venv/bin/python scripts/guard_table.py           # regenerate the table
    .venv/bin/python scripts/guard_table.py --check   # exit 1 when the checked-in table is stale
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.generated_table import check_or_write, parse_check
from tests.safety.guard_cases import TABLE_PATH, render_table, run_all


def main() -> int:
    check = parse_check(__doc__)
    started = time.monotonic()
    outcomes = run_all()
    table = render_table(outcomes)
    for outcome in outcomes:
        for violation in outcome.violations:
            print(
                f"invariant broken: {outcome.command} {outcome.primary}/{outcome.canary}: {violation}", file=sys.stderr
            )
    print(f"{len(outcomes)} cases in {time.monotonic() - started:.1f}s")
    written = check_or_write(TABLE_PATH, table, "scripts/guard_table.py", check=check)
    return written or (1 if any(o.violations for o in outcomes) else 0)


if __name__ == "__main__":
    sys.exit(main())
