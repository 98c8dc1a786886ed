"""How a reload action is described: an options dataclass whose fields say how a user sets them.

The CLI turns these descriptions into flags (and ``KUBERELOAD_*`` variables); the library takes
the dataclasses as they are. So a reload action is declared once, beside its class, and listed
once in :data:`kubereload.actions.registry.ACTIONS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from kubereload.actions.base import Action, Observer
from kubereload.durations import parse_seconds, show_seconds


@dataclass(frozen=True)
class Flag:
    """How one option is given on the command line.

    ``parse`` turns the text into the value (raising ValueError with a message safe to show);
    ``repeat``: the flag may be given several times and the field gets a tuple of the values
    (``collect`` may turn that tuple into something else, e.g. a dict); ``switch``: a flag with
    no value; ``needs_primary``: an error when given without the action's first flag;
    ``aliases``: other names for it (the flags of the tools kubereload replaces).
    """

    name: str
    help: str
    metavar: str | None = None
    parse: Callable[[str], Any] | None = None
    repeat: bool = False
    switch: bool = False
    collect: Callable[[tuple[Any, ...]], Any] | None = None
    needs_primary: bool = False
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Value:
    """The kind of text a flag takes: shown as ``metavar`` in ``--help``, read by ``parse``."""

    metavar: str
    parse: Callable[[str], Any] | None = None


def seconds_within(low: float, high: float, *, above: bool = False) -> Callable[[str], float]:
    """A duration parser that also checks ``low <= value <= high`` (``low < value`` with
    ``above``), so a value that cannot work stops at parse time, in one line."""
    shown = f"{'more than ' if above else 'from '}{show_seconds(low)} to {show_seconds(high)}"

    def parse(text: str) -> float:
        seconds = parse_seconds(text)
        if seconds < low or (above and seconds == low) or seconds > high:
            raise ValueError(f"{text.strip()!r} is out of range: give {shown}")
        return seconds

    return parse


def count_within(low: int, high: int) -> Callable[[str], int]:
    """A whole-number parser that checks ``low <= value <= high``."""

    def parse(text: str) -> int:
        value = text.strip()
        if not value.lstrip("-").isdigit() or not low <= int(value) <= high:
            raise ValueError(f"{value[:20]!r} is not a whole number from {low} to {high}")
        return int(value)

    return parse


TIMEOUT = Value("DURATION", seconds_within(0, 3600, above=True))
"""A time limit: more than 0, at most an hour (a reload step that needs more is stuck)."""
DELAY = Value("DURATION", seconds_within(0, 3600))
"""A wait: 0 to an hour."""
FILE = Value("FILE", Path)

REQUIRED: Any = MISSING
"""The default of an action's first field: it has none."""


def option(default: Any, name: str, help: str, value: Value | None = None, **more: Any) -> Any:
    """A dataclass field set by flag ``name``:
    ``timeout: float = option(5.0, "--webhook-timeout", "per attempt", TIMEOUT)``.
    A class as ``default`` (``dict``) makes each instance's own empty one."""
    if value is not None:
        more.setdefault("metavar", value.metavar)
        more.setdefault("parse", value.parse)
    metadata = {"flag": Flag(name, help, **more)}
    if isinstance(default, type):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


class ActionOptions(Protocol):
    """The options of one reload action. The first field is the one whose flag asks for the
    action (``--webhook URL``); its place on the command line orders the actions."""

    def build(self, observer: Observer) -> Action:
        """The action these options describe; ValueError if they cannot work."""
        ...


class Described(NamedTuple):
    """One field of an options dataclass that a flag sets."""

    field: str
    flag: Flag
    default: Any  # None when the field has no default (the action's first flag)


def flags_of(options_type: type[Any]) -> list[Described]:
    """The described fields of an options dataclass, in order."""
    found = []
    for f in fields(options_type):
        if "flag" not in f.metadata:
            continue
        default: Any = None
        if f.default is not MISSING:
            default = f.default
        elif f.default_factory is not MISSING:
            default = f.default_factory()
        found.append(Described(f.name, f.metadata["flag"], default))
    return found
