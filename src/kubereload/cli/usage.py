"""How a command explains itself: help text, and usage errors found after parsing."""

from __future__ import annotations

import sys


def help_text(docstring: str | None) -> str:
    """A module docstring as ``--help`` text: reST's double backquotes read as plain quotes."""
    return (docstring or "").replace("``", "`")


def fail(command: str, message: str) -> int:
    """A usage error found after parsing: said like argparse says it, exit code 2."""
    print(f"kubereload {command}: error: {message}", file=sys.stderr)
    return 2
