"""Entry point of the ``kubereload`` command: builds the parser from each subcommand module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from kubereload import __version__

# Each module defines register(subparsers) and sets a ``handler`` default: (args) -> exit code.
SUBCOMMANDS = [
    "kubereload.cli.demo",
    "kubereload.cli.watch",
    "kubereload.cli.run",
    "kubereload.cli.sync",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubereload",
        description=(
            "Hot-reload configuration from Kubernetes ConfigMaps and Secrets: in the app "
            "(the Python library), beside it (watch, run, sync) or around it (controller)."
        ),
        epilog="Every subcommand has its own --help. Docs: README.md and docs/ in the project.",
    )
    parser.add_argument("--version", action="version", version=f"kubereload {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    code: int = handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
