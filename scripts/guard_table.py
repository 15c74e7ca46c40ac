#!/usr/bin/env python3
"""Write docs/guard-table.md: every command that moves traffic x (primary, canary) x (missing, unavailable,
available), from tests/safety/guard_cases.py.

    .venv/bin/python scripts/guard_table.py           # regenerate the table
    .venv/bin/python scripts/guard_table.py --check   # exit 1 when the checked-in table is stale
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.safety.guard_cases import TABLE_PATH, render_table, run_all


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the checked-in table, write nothing")
    args = parser.parse_args()
    started = time.monotonic()
    outcomes = run_all()
    table = render_table(outcomes)
    for outcome in outcomes:
        for violation in outcome.violations:
            print(
                f"invariant broken: {outcome.command} {outcome.primary}/{outcome.canary}: {violation}", file=sys.stderr
            )
    print(f"{len(outcomes)} cases in {time.monotonic() - started:.1f}s")
    current = TABLE_PATH.read_text() if TABLE_PATH.exists() else ""
    if args.check:
        if current != table:
            print(f"{TABLE_PATH} is stale: run scripts/guard_table.py", file=sys.stderr)
            return 1
        return 0
    TABLE_PATH.write_text(table)
    print(f"wrote {TABLE_PATH}")
    return 1 if any(o.violations for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
