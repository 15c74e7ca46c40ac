#!/usr/bin/env python3
"""Write docs/fault-table.md: every command x every request x every fault, from tests/safety/fault_cases.py.

    .venv/bin/python scripts/fault_table.py           # regenerate the table
    .venv/bin/python scripts/fault_table.py --check   # exit 1 when the checked-in table is stale

The same cases run in tests/safety/test_faults.py, which fails when the checked-in table differs.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.generated_table import check_or_write, parse_check
from tests.safety.fault_cases import TABLE_PATH, outcome_kind, render_table, run_all


def main() -> int:
    check = parse_check(__doc__)

    started = time.monotonic()
    outcomes = run_all()
    table = render_table(outcomes)
    for kind, count in sorted(Counter(outcome_kind(o) for o in outcomes).items()):
        print(f"{count:4d}  {kind}")
    for outcome in outcomes:
        if outcome.violations:
            print(f"invariant broken: {outcome.case.id}: {'; '.join(outcome.violations)}", file=sys.stderr)
    print(f"{len(outcomes)} cases in {time.monotonic() - started:.1f}s")

    return check_or_write(TABLE_PATH, table, "scripts/fault_table.py", check=check)


if __name__ == "__main__":
    sys.exit(main())
