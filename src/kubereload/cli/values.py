"""Flag value types: text to value, or an ``argparse.ArgumentTypeError`` saying why not."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubereload.actions import parse_expect, parse_header, parse_signal
from kubereload.actions.spec import count_within, seconds_within
from kubereload.durations import MAX_SECONDS, parse_seconds

# argparse words their errors itself ("invalid int value: 'x'"): passed to it unwrapped.
_ARGPARSE_TYPES: tuple[Callable[[str], Any], ...] = (int, float, str, Path)


def value_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """A parser raising ValueError (with a message safe to show) as an argparse ``type``."""
    if parse in _ARGPARSE_TYPES:
        return parse

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = getattr(parse, "__name__", "value")
    return convert


duration = value_type(parse_seconds)
"""``"500ms"`` -> 0.5, ``"1m30s"`` -> 90.0, ``"2"`` -> 2.0 (seconds); finite, at most a year."""


def duration_within(low: float, high: float = MAX_SECONDS, *, above: bool = False) -> Any:
    """A duration flag whose value must lie between ``low`` and ``high`` (above ``low``)."""
    return value_type(seconds_within(low, high, above=above))


timeout = duration_within(0, 3600, above=True)
"""A time limit: more than 0, at most an hour."""
delay = duration_within(0, 3600)
"""A wait: 0 to an hour."""
port = value_type(count_within(0, 65535))
"""A TCP port; 0 picks a free one."""


def count(low: int, high: int) -> Any:
    """A whole-number flag between ``low`` and ``high``."""
    return value_type(count_within(low, high))


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text.strip()[:20]!r} is not a number") from None
    if not 0 <= value <= 1e6:  # also refuses nan and inf
        raise ValueError(f"{text.strip()[:20]!r} is out of range: give 0 to 1000000")
    return value


rate = value_type(_rate)
"""Events per second: 0 to a million."""


def _listen(text: str) -> str:
    from kubereload.server.http import parse_listen  # noqa: PLC0415 - only with --listen

    parse_listen(text)
    return text


listen = value_type(_listen)
"""``HOST:PORT``, checked at parse time, kept as given."""
signal_type = value_type(parse_signal)
header_type = value_type(parse_header)
expect_type = value_type(parse_expect)


def file_mode(text: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an octal mode like 0644") from None
    if not 0 <= mode <= 0o777:
        raise argparse.ArgumentTypeError(f"{text!r}: a file mode is between 0000 and 0777")
    return mode
