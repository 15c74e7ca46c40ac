"""What the scripts that write a generated table under docs/ share: `--check`, or write when it changed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_check(doc: str | None) -> bool:
    """The command line of a table script: only `--check`."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the checked-in table, write nothing")
    return bool(parser.parse_args().check)


def check_or_write(path: Path, table: str, script: str, *, check: bool) -> int:
    """With `check`: 1 when the checked-in table differs from `table`. Else write it when it changed."""
    current = path.read_text() if path.exists() else ""
    if check:
        if current != table:
            print(f"{path} is stale: run {script}", file=sys.stderr)
            return 1
        return 0
    if current != table:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(table)
        print(f"wrote {path}")
    return 0
