#!/usr/bin/env python3
"""Write docs/connection-table.md: every shape of tests/safety/connection_cases.py through kubectl and the plugin.

    .venv/bin/python scripts/connection_table.py           # regenerate the table
    .venv/bin/python scripts/connection_table.py --check   # exit 1 when the checked-in table is stale

tests/safety/test_connection_parity.py runs the same shapes and fails when the checked-in table differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.safety.connection_cases import TABLE_PATH, render_table, run_all


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the checked-in table, write nothing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as base:
        outcomes = run_all(Path(base))
    for outcome in outcomes:
        if not outcome.agree:
            print(f"disagree: {outcome.shape.id}: kubectl {outcome.kubectl} / plugin {outcome.plugin}", file=sys.stderr)
    table = render_table(outcomes)
    current = TABLE_PATH.read_text() if TABLE_PATH.exists() else ""
    if args.check:
        if current != table:
            print(f"{TABLE_PATH} is stale: run scripts/connection_table.py", file=sys.stderr)
            return 1
        return 0
    if current != table:
        TABLE_PATH.write_text(table)
        print(f"wrote {TABLE_PATH}")
    return 0 if all(o.agree for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
