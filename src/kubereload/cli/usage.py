"""How a command explains itself: help text, and usage errors a person can act on.

A usage error is one line saying what is wrong (with "did you mean" for a typo), then where
the help is: not the usage block, which buries the one line that matters.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
from collections.abc import Sequence
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


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors, a "see --help" hint and "did you mean" for typos."""

    def error(self, message: str) -> NoReturn:
        match = _INVALID_CHOICE.search(message)
        if match:
            choices = [c.strip().strip("'") for c in match["choices"].split(",")]
            message += _suggest(match["given"], choices)
        self.exit(2, f"{self.prog}: error: {message}\n{hint(self.prog)}\n")

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None
    ) -> argparse.Namespace:
        parsed: argparse.Namespace
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            parser = _chosen(self, parsed)
            unknown = next((e for e in extras if e.startswith("-")), extras[0])
            flags = [s for a in parser._actions for s in a.option_strings if s.startswith("--")]
            suggestion = _suggest(unknown.split("=", 1)[0], flags) if unknown[:1] == "-" else ""
            parser.error(f"unrecognized argument {unknown}{suggestion}")
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
