"""Durations as kubectl writes them: 30s, 5m, 1h30m, 500ms, or a bare number of seconds."""

from __future__ import annotations

import re

from kubectl_canary.errors import UsageError

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, flag: str, *, allow_zero: bool = False) -> float:
    """Seconds; a UsageError naming the flag otherwise."""
    value = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        seconds = float(value)
    elif value and re.fullmatch(f"(?:{_PART.pattern})+", value):
        seconds = sum(float(n) * _SECONDS[unit] for n, unit in _PART.findall(value))
    else:
        raise UsageError(f"invalid {flag} {text!r}: use a duration such as 30s, 5m or 1h30m")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise UsageError(f"invalid {flag} {text!r}: it must be {'0 or more' if allow_zero else 'positive'}")
    return seconds


def format_duration(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"
