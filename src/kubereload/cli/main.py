"""Entry point of the ``kubereload`` command: builds the parser from each subcommand module.

Only the subcommand being run is imported: ``kubereload watch`` must not pay, in memory and
start-up time, for the Kubernetes client that ``sync`` and ``controller`` load.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from kubereload import __version__
from kubereload.cli.aliases import go_style
from kubereload.cli.usage import Parser

# name -> (module, one-line summary). Each module defines register(subparsers), which adds the
# subcommand named here and sets a ``handler`` default: (args) -> exit code.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("kubereload.cli.demo", "a web service that reloads its config live (try me first)"),
    "watch": ("kubereload.cli.watch", "sidecar: validate, then reload a program on a change"),
    "run": ("kubereload.cli.run", "supervisor: run a program, reload or restart it on a change"),
    "sync": ("kubereload.cli.sync", "write ConfigMaps/Secrets from the API into a directory"),
    "controller": ("kubereload.cli.controller", "roll workloads whose ConfigMaps/Secrets changed"),
    "explain": ("kubereload.cli.explain", "show what a workload depends on and what would roll it"),
    "admission": ("kubereload.cli.admission", "webhook: refuse bad ConfigMaps/Secrets at apply"),
    "check": ("kubereload.cli.check", "judge ConfigMaps/Secrets in manifests, as admission would"),
    "schema": ("kubereload.cli.schema", "print the JSON Schema of a pydantic model"),
    "completion": ("kubereload.cli.completion", "print a bash or zsh completion script"),
}


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    parser = Parser(
        prog="kubereload",
        description=(
            "Hot-reload configuration from Kubernetes ConfigMaps and Secrets: in the app "
            "(the Python library), beside it (watch, run, sync) or around it (controller)."
        ),
        epilog="Every subcommand has its own --help. Docs: README.md and docs/ in the project.",
    )
    parser.add_argument("--version", action="version", version=f"kubereload {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    for name, (module, summary) in SUBCOMMANDS.items():
        if name == chosen:
            importlib.import_module(module).register(subparsers)
        else:  # listed for the overview; its module is loaded only when it is the one run
            subparsers.add_parser(name, help=summary, description=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_in = go_style(list(sys.argv[1:] if argv is None else argv))
    parser = build_parser(args_in)
    args = parser.parse_args(args_in)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    code: int = handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
