"""``kubereload completion bash|zsh``: a shell completion script, generated from the parsers.

The script holds the words themselves (commands, flags, choices), so completing costs no
Python start-up; it is regenerated from the installed version, so it never drifts from it.
One POSIX-shell function picks the words; small bash and zsh wrappers hand them to the shell.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

from kubereload import __version__
from kubereload.cli.usage import Parser, help_text

_WORDS = """\
# The words that fit after: $1 the position of the word being completed (1: the command),
# $2 the command, $3 the word before, $4 the word so far. None: complete file names.
_kubereload_words() {
    if [ "$1" -le 1 ]; then
        echo "%(commands)s --help --version"
        return
    fi
    case "$2" in
%(cases)s
    esac
}
"""

_COMMAND = """\
    %(name)s)
        case "$3" in
%(choices)s            %(valued)s) return ;;
        esac
        case "$4" in
            -*) echo "%(flags)s" ;;%(positional)s
        esac
        ;;"""

_BASH = """\
_kubereload() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" words
    local IFS=$' \\t\\n'
    words="$(_kubereload_words "$COMP_CWORD" "${COMP_WORDS[1]}" "$prev" "$cur")"
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _kubereload kubereload
"""

_ZSH = """\
_kubereload() {
    local -a candidates
    local fitting="$(_kubereload_words $((CURRENT - 1)) "${words[2]}" "${words[CURRENT-1]}" \\
        "${words[CURRENT]}")"
    candidates=(${=fitting})
    if (( ${#candidates} )); then
        compadd -a candidates
    else
        _files
    fi
}
compdef _kubereload kubereload
"""

SHELLS = {"bash": _BASH, "zsh": _ZSH}
_SIGNALS = sorted(s.name.removeprefix("SIG") for s in signal.Signals if "RT" not in s.name)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "completion",
        help="print a shell completion script (bash or zsh)",
        description=help_text(__doc__),
        epilog="examples:\n"
        "  source <(kubereload completion bash)          # in ~/.bashrc\n"
        "  source <(kubereload completion zsh)           # in ~/.zshrc, after compinit\n",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=sorted(SHELLS))
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    sys.stdout.write(script(args.shell))
    return 0


def _every_command() -> dict[str, argparse.ArgumentParser]:
    """Each subcommand's full parser (every module loaded: only here, not to run one)."""
    from kubereload.cli.main import SUBCOMMANDS  # noqa: PLC0415 (main imports this module's table)

    subparsers = Parser(prog="kubereload").add_subparsers(dest="command")
    for module, _summary in SUBCOMMANDS.values():
        importlib.import_module(module).register(subparsers)
    return dict(subparsers.choices)


def _command_case(name: str, parser: argparse.ArgumentParser) -> str:
    flags: list[str] = []
    valued: list[str] = []
    choices: list[str] = []
    subcommands: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            subcommands += list(action.choices)
            for sub in action.choices.values():  # demo set/show: their flags too
                flags += [o for a in sub._actions for o in a.option_strings if o not in flags]
            continue
        flags += [o for o in action.option_strings if o not in flags]
        if not action.option_strings and action.choices:  # a positional: completion's shell
            subcommands += [str(c) for c in action.choices]
        if action.option_strings and action.nargs != 0:
            names = "|".join(action.option_strings)
            known = action.choices or (_SIGNALS if action.metavar == "SIG" else None)
            if known:
                words = " ".join(str(c) for c in known)
                choices.append(f'            {names}) echo "{words}"; return ;;')
            else:
                valued += action.option_strings
    return _COMMAND % {
        "name": name,
        "choices": "".join(f"{line}\n" for line in choices),
        "valued": "|".join(valued) or "--",
        "flags": " ".join(flags),
        "positional": (
            f'\n            *) [ "$1" -eq 2 ] && echo "{" ".join(subcommands)}" ;;'
            if subcommands
            else ""
        ),
    }


def script(shell: str) -> str:
    """The completion script for ``shell`` ("bash" or "zsh")."""
    commands = _every_command()
    words = _WORDS % {
        "commands": " ".join(commands),
        "cases": "\n".join(_command_case(n, p) for n, p in commands.items()),
    }
    header = f"# kubereload {__version__} completion for {shell}: kubereload completion {shell}\n"
    return header + words + SHELLS[shell]
