"""Colour and symbols for people at a terminal; plain text for pipes, NO_COLOR and --no-color."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}


@dataclass(frozen=True)
class Style:
    """Colour for a terminal, or plain text."""

    enabled: bool = False

    def paint(self, text: str, colour: str) -> str:
        return f"\x1b[{_CODES[colour]}m{text}\x1b[0m" if self.enabled and text else text

    def mark(self, good: bool) -> str:
        """A symbol before a verdict, only where colour is on."""
        if not self.enabled:
            return ""
        return self.paint("✓ ", "green") if good else self.paint("✗ ", "red")


def style_for(stream: TextIO, *, no_color: bool) -> Style:
    # https://no-color.org: any non-empty NO_COLOR turns colour off.
    return Style(enabled=not no_color and not os.environ.get("NO_COLOR") and stream.isatty())


def format_columns(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart, like kubectl get (and tabulate's "plain" format),
    measured without colour codes. Linear in the rows: tabulate took a second for 5,000."""
    table = [list(headers), *map(list, rows)]
    if not any("\x1b" in cell for row in table for cell in row):
        # Plain text (pipes, NO_COLOR): one format for every row, padded by str.format (status -A: 10,000 rows).
        line = "  ".join(f"{{:<{max(map(len, column))}}}" for column in zip(*table))
        return "\n".join(line.format(*row).rstrip() for row in table)
    widths = [max(_width(row[i]) for row in table) for i in range(len(headers))]
    lines = []
    for row in table:
        cells = [cell + " " * (width - _width(cell)) for cell, width in zip(row, widths)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _width(cell: str) -> int:
    return len(_ANSI.sub("", cell)) if "\x1b" in cell else len(cell)
