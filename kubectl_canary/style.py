"""Colour and symbols for people at a terminal; plain text for pipes, NO_COLOR and --no-color."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TextIO

_CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}


@dataclass(frozen=True)
class Style:
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
