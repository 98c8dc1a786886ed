"""Shell completion: the script ``kubereload completion`` prints, sourced in real bash and zsh,
and used as a user uses it: typed at an interactive prompt on a terminal, with Tab."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubereload.cli.main import build_parser
from support.process import kubereload
from support.terminal import Terminal


def completion_script(shell: str, tmp_path: Path) -> Path:
    proc = kubereload("completion", shell)
    assert proc.wait() == 0
    script = tmp_path / f"kubereload.{shell}"
    script.write_text(proc.output() + "\n")
    return script


BASH_CASES = [
    (["wat"], ["watch"]),
    (["co"], ["completion", "controller"]),
    (["watch", "--jit"], ["--jitter"]),
    (["watch", "--web.t"], ["--web.telemetry-path"]),
    (["watch", "--log-format", ""], ["text", "json"]),
    (["controller", "--reload-strategy", ""], ["annotations", "env-vars"]),
    (["controller", "--unready"], []),
    (["demo", "s"], ["set", "show"]),
    (["run", "--reload-signal", "US"], ["USR1", "USR2"]),
    (["completion", ""], ["bash", "zsh"]),
    (["watch", "--dir", ""], []),  # no words: bash completes file names (complete -o default)
]


def test_bash_completes_commands_flags_and_choices(tmp_path: Path) -> None:
    script = completion_script("bash", tmp_path)
    lines = [f"source {script}", "complete -p kubereload"]
    for words, _ in BASH_CASES:
        quoted = " ".join(f"'{w}'" for w in ["kubereload", *words])
        lines += [
            f"COMP_WORDS=({quoted}); COMP_CWORD={len(words)}; COMPREPLY=(); _kubereload",
            'echo "${COMPREPLY[*]}"',
        ]
    out = subprocess.run(
        ["bash", "--norc", "-c", "\n".join(lines)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "complete -o default -F _kubereload kubereload"
    for (words, expected), got in zip(BASH_CASES, out[1:], strict=True):
        assert sorted(got.split()) == sorted(expected), words


def test_every_flag_of_a_command_is_offered(tmp_path: Path) -> None:
    script = completion_script("bash", tmp_path)
    parser = build_parser(["watch"])
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    flags = {o for a in sub.choices["watch"]._actions for o in a.option_strings}
    shell = f"source {script}; COMP_WORDS=(kubereload watch -); COMP_CWORD=2; _kubereload; "
    shell += 'echo "${COMPREPLY[*]}"'
    out = subprocess.run(
        ["bash", "--norc", "-c", shell], capture_output=True, text=True, check=True
    )
    assert set(out.stdout.split()) == flags


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_loads_it_under_compinit_and_picks_the_same_words(tmp_path: Path) -> None:
    script = completion_script("zsh", tmp_path)
    shell = "\n".join(
        [
            f"autoload -U compinit && compinit -u -d {tmp_path}/zcompdump",
            f"source {script}",
            "print -r -- $_comps[kubereload]",
            "print -r -- $(_kubereload_words 1 '' '' wat)",
            "print -r -- $(_kubereload_words 2 watch --log-format '')",
            "print -r -- $(_kubereload_words 2 demo demo s)",
        ]
    )
    out = subprocess.run(
        ["zsh", "-f", "-c", shell], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "_kubereload"
    assert "watch" in out[1].split()
    assert out[2].split() == ["text", "json"]
    assert {"set", "show"} <= set(out[3].split())


# At a real prompt: what the user types (a Tab where they would press it), then Enter runs a
# stand-in ``kubereload`` function that prints the words the line editor completed.
TYPED_CASES = [
    ("kubereload wat\t", "watch"),
    ("kubereload watch --jit\t", "watch --jitter"),
    ("kubereload watch --log-format j\t", "watch --log-format json"),
    ("kubereload controller --reload-strategy e\t", "controller --reload-strategy env-vars"),
    ("kubereload completion z\t", "completion zsh"),
]


def check_at_the_prompt(term: Terminal) -> None:
    for typed, completed in TYPED_CASES:
        term.send(typed + "\n")
        term.expect(f"ARGS<{completed}>")
    # Two candidates: the line editor lists both and completes neither; Ctrl-U clears the line.
    term.send("kubereload co\t")
    term.expect(r"completion\s+controller")
    term.send("\x15")
    assert term.run("echo still").strip().endswith("still")


@pytest.fixture
def shell_env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "TERM": "xterm", "LANG": "C"}


@pytest.fixture
def zsh(tmp_path: Path, shell_env: dict[str, str]) -> Iterator[Terminal]:
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed (scripts/install-system-deps.sh installs it)")
    script = completion_script("zsh", tmp_path)
    term = Terminal(["zsh", "-f", "-i"], shell_env)
    try:
        term.send("PROMPT='> '; unsetopt beep\n")
        term.run(f"autoload -U compinit && compinit -u -d {tmp_path}/zcompdump")
        term.run(f'source {script}; kubereload() {{ print -r -- "ARGS<$*>" }}')
        yield term
    finally:
        term.close()


@pytest.fixture
def bash(tmp_path: Path, shell_env: dict[str, str]) -> Iterator[Terminal]:
    script = completion_script("bash", tmp_path)
    inputrc = tmp_path / "inputrc"
    inputrc.write_text("set show-all-if-ambiguous on\nset bell-style none\n")
    env = shell_env | {"INPUTRC": str(inputrc), "PS1": "> "}
    term = Terminal(["bash", "--norc", "--noprofile", "-i"], env)
    try:
        term.run(f"source {script}; kubereload() {{ printf 'ARGS<%s>\\n' \"$*\"; }}")
        yield term
    finally:
        term.close()


def test_zsh_completes_commands_flags_and_choices_at_a_prompt(zsh: Terminal) -> None:
    check_at_the_prompt(zsh)


def test_bash_completes_commands_flags_and_choices_at_a_prompt(bash: Terminal) -> None:
    check_at_the_prompt(bash)
