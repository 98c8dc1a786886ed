"""Flag value types: text to value, or an ``argparse.ArgumentTypeError`` saying why not."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubereload.actions import parse_expect, parse_header, parse_signal
from kubereload.durations import parse_seconds

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
"""``"500ms"`` -> 0.5, ``"1m30s"`` -> 90.0, ``"2"`` -> 2.0 (seconds)."""
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
