"""What the CLI tells a person: help that cites only what exists, and one-line usage errors."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from kubereload.actions.webhook import RETRYABLE_STATUS
from kubereload.cli.env import FALSE_WORDS, TRUE_WORDS
from kubereload.cli.main import SUBCOMMANDS, build_parser, main
from support.process import kubereload

DOCS = Path(__file__).resolve().parents[2] / "docs"
QUOTED = re.compile(r"'[^']*'")
FLAG = re.compile(r"(?<![\w-])--[A-Za-z][A-Za-z0-9.-]*[A-Za-z0-9]")


def help_of(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return capsys.readouterr().out


def flags_of(command: str) -> set[str]:
    """The flags the command's parser really has (a nested ``demo set`` included)."""
    found: set[str] = set()
    parsers = [build_parser([command])]
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            found.update(action.option_strings)
            if isinstance(action, argparse._SubParsersAction):
                parsers += action.choices.values()
    return found


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_help_cites_only_flags_the_command_has(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = help_of(command, capsys)
    known = flags_of(command)
    # An example's quoted commands and its program after " -- " have flags of their own.
    ours = [QUOTED.sub("", line).split(" -- ", 1)[0] for line in text.splitlines()]
    cited = set(FLAG.findall("\n".join(ours)))
    assert cited <= known, f"{command} --help cites {sorted(cited - known)}, which it lacks"
    description = text.partition("\n\n")[2].lstrip()
    assert not description.startswith("`kubereload"), description[:60]


@pytest.mark.parametrize("command", ["watch", "run", "sync", "controller"])
def test_each_service_command_shows_examples(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = help_of(command, capsys)
    examples = text.split("examples:", 1)[1]
    assert f"  kubereload {command} --" in examples


def test_controller_help_offers_only_what_means_something_there(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = help_of("controller", capsys)
    assert "--unready-on-failure" not in text
    election = text.split("leader election (for several replicas):", 1)[1].split("\n\n")[0]
    for flag in ("--lease-duration", "--renew-deadline", "--retry-period"):
        line = election.split(flag, 1)[1].split("\n  --", 1)[0]
        assert "(default" in line, f"{flag} has no help or default: {line!r}"


def test_help_and_docs_say_the_same_retried_codes_and_switch_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    codes = ", ".join(str(c) for c in sorted(RETRYABLE_STATUS))
    words = f"{'/'.join(TRUE_WORDS)} or {'/'.join(FALSE_WORDS)}"
    sidecar_doc = " ".join((DOCS / "sidecar.md").read_text().split())
    watch_help = " ".join(help_of("watch", capsys).split())
    for text in (sidecar_doc, watch_help):
        assert f"HTTP {codes}" in text
    assert f"Switches: {words}." in watch_help
    assert f"Switches take `{'/'.join(TRUE_WORDS)}` or `{'/'.join(FALSE_WORDS)}`" in sidecar_doc


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["watch", "--dir", ".", "--jiter", "1s"], "argument --jiter (did you mean --jitter?)"),
        (["watch", "--dir", ".", "--webhook-retry", "2"], "did you mean --webhook-retries?"),
        (["sync", "--dir", ".", "--config-map", "app"], "did you mean --configmap?"),
        (["wacth", "--dir", "."], "(did you mean watch?)"),
        (["watch", "--dir", ".", "--jitter", "fast"], "--jitter: 'fast' is not a duration"),
        (["watch", "--dir", ".", "--log-level", "loud"], "argument --log-level: invalid choice"),
    ],
)  # fmt: skip
def test_a_usage_error_is_one_line_and_where_help_is(args: list[str], said: str) -> None:
    proc = kubereload(*args)
    assert proc.wait() == 2
    lines = proc.output().splitlines()
    assert len(lines) == 2, proc.output()
    assert said in lines[0]
    prog = "kubereload" if args[0] == "wacth" else f"kubereload {args[0]}"
    assert lines[1] == f"see '{prog} --help'"
