"""Durations as people write them: ``500ms``, ``30s``, ``5m``, ``1h30m`` (Go's units).

One parser for the flags (where a bare number also means seconds) and for the controller's
``pause-period`` annotations (Go-style only, as stakater/Reloader reads them).
"""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
MAX_SECONDS = 366 * 24 * 3600.0
"""No duration is longer than a year: beyond, it is a typo, and near 292 years a thread's
wait overflows (``threading.TIMEOUT_MAX``) and kills the worker that waits."""


def parse_duration(text: str, *, bare_seconds: bool = False) -> float:
    """Seconds in ``text``: ``"500ms"`` -> 0.5, ``"1m30s"`` -> 90.0; with ``bare_seconds`` a
    plain number is seconds too (``"2"`` -> 2.0). Raises ValueError naming the text."""
    value = text.strip()
    if bare_seconds:
        try:
            seconds = float(value)
        except ValueError:
            pass
        else:
            if not math.isfinite(seconds):
                raise ValueError(f"{text!r} is not a finite duration")
            if seconds < 0:
                raise ValueError(f"{text!r}: a duration cannot be negative")
            if seconds > MAX_SECONDS:
                raise ValueError(f"{text!r} is longer than a year")
            return seconds
    pos, total = 0, 0.0
    for match in _PART.finditer(value):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if not value or pos != len(value):
        raise ValueError(f"{text!r} is not a duration (e.g. 500ms, 30s, 5m, 1h30m)")
    if total > MAX_SECONDS:
        raise ValueError(f"{text!r} is longer than a year")
    return total


def show_seconds(seconds: float) -> str:
    """A duration as a flag would take it: 0.5 -> ``500ms``, 90 -> ``1m30s``, 3600 -> ``1h``."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    parts, left = [], seconds
    for unit, size in (("h", 3600), ("m", 60)):
        if left >= size:
            parts.append(f"{int(left // size)}{unit}")
            left -= size * int(left // size)
    if left or not parts:
        parts.append(f"{left:g}s")
    return "".join(parts)


def parse_seconds(text: str) -> float:
    """A duration flag's value: a duration, or a bare number of seconds."""
    return parse_duration(text, bare_seconds=True)


def check_seconds(name: str, seconds: float, *, positive: bool = False) -> float:
    """``seconds`` if it is a usable duration for ``name`` (finite, not negative, at most a
    year; above 0 with ``positive``): what the library checks when given numbers, not text."""
    if not (seconds > 0 if positive else seconds >= 0) or not seconds <= MAX_SECONDS:
        low = "more than 0" if positive else "0 or more"
        raise ValueError(f"{name} must be {low} and at most a year of seconds")
    return seconds
