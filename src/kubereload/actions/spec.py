"""How a reload action is described: an options dataclass whose fields say how a user sets them.

The CLI turns these descriptions into flags (and ``KUBERELOAD_*`` variables); the library takes
the dataclasses as they are. So a reload action is declared once, beside its class, and listed
once in :data:`kubereload.actions.registry.ACTIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, NamedTuple, Protocol

from kubereload.actions.base import Action, Observer


@dataclass(frozen=True)
class Flag:
    """How one option is given on the command line.

    ``parse`` turns the text into the value (raising ValueError with a message safe to show);
    ``repeat``: the flag may be given several times and the field gets a tuple of the values
    (``collect`` may turn that tuple into something else, e.g. a dict); ``switch``: a flag with
    no value; ``needs_primary``: an error when given without the action's first flag.
    """

    name: str
    help: str
    metavar: str | None = None
    parse: Callable[[str], Any] | None = None
    repeat: bool = False
    switch: bool = False
    collect: Callable[[tuple[Any, ...]], Any] | None = None
    needs_primary: bool = False


def flag(name: str, help: str, **options: Any) -> Mapping[str, Flag]:
    """Field metadata: ``field(default=..., metadata=flag("--webhook-method", "HTTP method"))``."""
    return {"flag": Flag(name, help, **options)}


class ActionOptions(Protocol):
    """The options of one reload action. The first field is the one whose flag asks for the
    action (``--webhook URL``); its place on the command line orders the actions."""

    kind: ClassVar[str]

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


def parse_count(text: str) -> int:
    """A number of times (``--webhook-retries``); a negative one counts as 0."""
    try:
        return max(0, int(text))
    except ValueError:
        raise ValueError(f"invalid int value: {text!r}") from None
