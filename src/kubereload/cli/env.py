"""Flags that also read the environment, and keep the order of the reload actions.

Every flag can also come from the environment: ``--webhook-timeout`` reads
``KUBERELOAD_WEBHOOK_TIMEOUT``; a flag given on the command line wins. Repeatable flags take
several values from one variable, one per line (or comma-separated when there is no line break);
switches take ``1/true/yes/on`` or ``0/false/no/off``.
"""

from __future__ import annotations

import argparse
import difflib
import os
from collections.abc import Mapping
from typing import Any

ENV_PREFIX = "KUBERELOAD_"

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")

_SECRET_BEARING = {"KUBERELOAD_WEBHOOK", "KUBERELOAD_WEBHOOK_HEADER"}


def _remember_order(namespace: argparse.Namespace, dest: str, value: Any) -> None:
    order = getattr(namespace, "action_order", None) or []
    namespace.action_order = [*order, (dest, value)]


class RepeatedFlag(argparse.Action):
    """Like ``append``, but values from the command line replace the environment's; with
    ``ordered``, the flag asks for a reload action and its place among them is remembered
    (they run in the order given)."""

    def __init__(self, *args: Any, ordered: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("default", [])
        super().__init__(*args, **kwargs)
        self.ordered = ordered

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        current = getattr(namespace, self.dest, None)
        if current is None or current is self.default:
            current = []
        setattr(namespace, self.dest, [*current, values])
        if self.ordered:
            _remember_order(namespace, self.dest, values)


class OrderedFlag(argparse.Action):
    """A single-valued flag asking for a reload action, whose place among them is remembered."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, values)
        _remember_order(namespace, self.dest, values)


def env_name(flag: argparse.Action) -> str | None:
    longs = [o for o in flag.option_strings if o.startswith("--")]
    if not longs:
        return None
    return ENV_PREFIX + longs[0][2:].upper().replace("-", "_")


def _env_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in (*FALSE_WORDS, ""):
        return False
    raise argparse.ArgumentTypeError(f"expected {_SWITCH_WORDS}")


_SWITCH_WORDS = f"{'/'.join(TRUE_WORDS)} or {'/'.join(FALSE_WORDS)}"


def env_help(parser: argparse.ArgumentParser) -> str:
    """The footer saying how ``parser``'s flags read the environment, citing only its flags."""
    flags = [f for f in parser._actions if env_name(f) and f.dest not in ("help", "version")]
    if not flags:
        return ""
    valued = [f for f in flags if f.nargs != 0] or flags
    example = next(o for o in valued[0].option_strings if o.startswith("--"))
    parts = [
        f"Every flag also reads KUBERELOAD_<FLAG> (e.g. {example} -> {env_name(valued[0])}); "
        "the command line wins."
    ]
    if any(isinstance(f, RepeatedFlag) for f in flags):
        parts.append(
            "Repeatable flags: one value per line (or comma-separated if there is no line break)."
        )
    if any(isinstance(f, argparse._StoreTrueAction) for f in flags):
        parts.append(f"Switches: {_SWITCH_WORDS}.")
    if any(f.metavar == "DURATION" for f in flags):
        parts.append("Durations: 500ms, 2s, 1m, 1m30s (a bare number is seconds).")
    return " ".join(parts)


def apply_env(parser: argparse.ArgumentParser, environ: Mapping[str, str] | None = None) -> None:
    """Make ``KUBERELOAD_<FLAG>`` the default of each flag of ``parser``, and say so at the end
    of its ``--help``.

    A bad value stops with the variable's name and the reason, never the value (it may be a
    URL with a password in it).
    """
    env = os.environ if environ is None else environ
    footer = env_help(parser)
    if footer:
        parser.epilog = f"{parser.epilog.rstrip()}\n\n{footer}" if parser.epilog else footer
    for flag in parser._actions:
        name = env_name(flag)
        if name is None or name not in env or flag.dest in ("help", "version"):
            continue
        raw = env[name]
        try:
            if isinstance(flag, argparse._StoreTrueAction):
                value: Any = _env_bool(raw)
            elif isinstance(flag, RepeatedFlag):
                items = raw.splitlines() if "\n" in raw else raw.split(",")
                convert = flag.type or str
                value = [convert(i.strip()) for i in items if i.strip()]  # type: ignore[operator]
            else:
                convert = flag.type or str
                value = convert(raw.strip())  # type: ignore[operator]
                if flag.choices is not None and value not in flag.choices:
                    raise argparse.ArgumentTypeError(f"must be one of {', '.join(flag.choices)}")
        except (argparse.ArgumentTypeError, ValueError) as exc:
            message = str(exc) if name not in _SECRET_BEARING else "invalid value"
            parser.error(f"environment variable {name}: {message}")
        flag.default = value
        flag.required = False
    _pending.extend(_unknown_variables(parser, env))


# Not flags, but ours: what commands run by --exec/--validate get, and the e2e tests' cluster.
_NOT_FLAGS = ("KUBERELOAD_CHANGED", "KUBERELOAD_E2E_")
_pending: list[str] = []


def _unknown_variables(parser: argparse.ArgumentParser, env: Mapping[str, str]) -> list[str]:
    """A warning for each ``KUBERELOAD_*`` variable that is no flag of this command: a typo
    (``KUBERELOAD_WEBHOK``) would otherwise be silently ignored."""
    known = {name for flag in parser._actions if (name := env_name(flag))}
    warnings = []
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX) or name in known or name.startswith(_NOT_FLAGS):
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
        warnings.append(f"environment variable {name} is not a setting of {parser.prog}{hint}")
    return warnings


def take_warnings() -> list[str]:
    """What ``apply_env`` found to warn about, for the log once it is set up."""
    found = list(_pending)
    _pending.clear()
    return found
