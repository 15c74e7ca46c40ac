#!/usr/bin/env python3
"""Write docs/fault-table.md: every command x every request x every fault, from tests/safety/fault_cases.py.

    .venv/bin/python scripts/fault_table.py           # regenerate the table
    .venv/bin/python scripts/fault_table.py --check   # exit 1 when the checked-in table is stale

The same cases run in tests/safety/test_faults.py, which fails when the checked-in table differs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.safety.fault_cases import TABLE_PATH, outcome_kind, render_table, run_all


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the checked-in table, write nothing")
    args = parser.parse_args()

    started = time.monotonic()
    outcomes = run_all()
    table = render_table(outcomes)
    for kind, count in sorted(Counter(outcome_kind(o) for o in outcomes).items()):
        print(f"{count:4d}  {kind}")
    for outcome in outcomes:
        if outcome.violations:
            print(f"invariant broken: {outcome.case.id}: {'; '.join(outcome.violations)}", file=sys.stderr)
    print(f"{len(outcomes)} cases in {time.monotonic() - started:.1f}s")

    current = TABLE_PATH.read_text() if TABLE_PATH.exists() else ""
    if args.check:
        if current != table:
            print(f"{TABLE_PATH} is stale: run scripts/fault_table.py", file=sys.stderr)
            return 1
        return 0
    if current != table:
        TABLE_PATH.parent.mkdir(parents=True, exist_ok=True)
        TABLE_PATH.write_text(table)
        print(f"wrote {TABLE_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
