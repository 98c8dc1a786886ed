"""One duration parser for the flags and the controller's annotations."""

import pytest

from kubereload.durations import parse_duration, parse_seconds


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0), ("250ms", 0.25), ("1.5h", 5400.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "m5", "5 m", "5x", "1h-3m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_flags_also_take_bare_seconds_but_not_negative_ones() -> None:
    assert parse_seconds("1.5") == 1.5
    assert parse_seconds(" 2 ") == 2.0
    with pytest.raises(ValueError, match="cannot be negative"):
        parse_seconds("-1")
    with pytest.raises(ValueError, match="not a duration"):
        parse_seconds("fast")
