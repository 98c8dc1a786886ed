"""How a command explains itself: help text, and usage errors a person can act on.

A usage error is one line saying what is wrong (with "did you mean" for a typo), then where
the help is: not the usage block, which buries the one line that matters. It never shows a
secret: argparse words its errors from the text it was given ("invalid choice: ...", the
unrecognized argument), so values that may hold credentials are masked first.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

_PREFIX = re.compile(r"^``kubereload [^`]*``:\s*")
_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<given>[^']*)' \(choose from (?P<choices>.*)\)")


def help_text(docstring: str | None) -> str:
    """A module docstring as ``--help`` text: without its leading "``kubereload sync``:" (the
    usage line says that already) and with reST's double backquotes as plain quotes."""
    text = _PREFIX.sub("", (docstring or "").lstrip())
    return (text[:1].upper() + text[1:]).replace("``", "`")


def _suggest(given: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(given, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


SECRET_FLAGS = ("--webhook", "--webhook-header")
"""Flags whose values may hold credentials (a password in a URL, an Authorization header)."""
REDACTED = "REDACTED"


def _secret_values(argv: Sequence[str], known: Iterable[str]) -> list[str]:
    """The values in ``argv`` an error message must not show: those of the secret-bearing
    flags (however abbreviated), of options this parser does not know, and anything that
    looks like a URL with credentials."""
    known = set(known)
    found = []
    for index, token in enumerate(argv):
        if "@" in token and "://" in token:
            found.append(token)
        if not token.startswith("--"):
            continue
        name, eq, value = token.partition("=")
        secret = len(name) > 2 and any(flag.startswith(name) for flag in SECRET_FLAGS)
        if secret or (eq and name not in known):
            if eq:
                found.append(value)
            elif index + 1 < len(argv):
                found.append(argv[index + 1])
    return [value for value in found if value]


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors, a "see --help" hint and "did you mean" for typos."""

    _argv: Sequence[str] = ()

    def error(self, message: str) -> NoReturn:
        match = _INVALID_CHOICE.search(message)
        if match:
            choices = [c.strip().strip("'") for c in match["choices"].split(",")]
            message += _suggest(match["given"], choices)
        known = [s for action in self._actions for s in action.option_strings]
        for secret in sorted(set(_secret_values(self._argv, known)), key=len, reverse=True):
            message = message.replace(secret, REDACTED)
        self.exit(2, f"{self.prog}: error: {message}\n{hint(self.prog)}\n")

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> argparse.Namespace:
        parsed: argparse.Namespace
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = _chosen(self, parsed)
            unknown = next((e for e in extras if e.startswith("-")), None)
            if unknown is None:  # a stray value: it may be a credential, so it is not shown
                parser.error("unrecognized argument: a value where none belongs (not shown)")
            name = unknown.split("=", 1)[0]
            flags = [s for a in parser._actions for s in a.option_strings if s.startswith("--")]
            parser.error(f"unrecognized argument {name}{_suggest(name, flags)}")
        return parsed


def _chosen(parser: argparse.ArgumentParser, parsed: argparse.Namespace) -> Parser:
    """The deepest subcommand parser the arguments chose (the one whose flags apply)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            name = getattr(parsed, action.dest, None)
            if name in action.choices:
                return _chosen(action.choices[name], parsed)
    assert isinstance(parser, Parser)
    return parser


def hint(prog: str) -> str:
    return f"see '{prog} --help'"


def fail(command: str, message: str) -> int:
    """A usage error found after parsing: said like the parser says it, exit code 2."""
    prog = f"kubereload {command}"
    print(f"{prog}: error: {message}\n{hint(prog)}", file=sys.stderr)
    return 2
