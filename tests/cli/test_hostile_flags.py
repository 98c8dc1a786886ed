"""Hostile and mistaken flags and environment for ``watch`` and ``run``: values that used to
crash workers or be silently accepted, typos in variable names, and secrets planted in every
flag and variable that takes one, looked for in everything kubereload prints and serves."""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubereload.cli.main import main
from support.process import http_get, kubereload, wait_until


@pytest.fixture
def restored() -> Iterator[None]:
    """``main()`` in-process sets up logging, hooks and signal handlers: put them back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    hooks = (sys.excepthook, threading.excepthook)
    signals = {s: signal.getsignal(s) for s in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)}
    signals |= {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    yield
    root.handlers[:], root.level = handlers, level
    sys.excepthook, threading.excepthook = hooks
    for sig, handler in signals.items():
        signal.signal(sig, handler)


class Cli:
    """Runs ``kubereload`` in this process: the exit code and all it printed (stdout, stderr
    and log records, which go to stderr)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
        self.monkeypatch = monkeypatch
        self.capsys = capsys

    def __call__(self, argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
        with self.monkeypatch.context() as patch:
            for name in [n for n in os.environ if n.startswith("KUBERELOAD_")]:
                patch.delenv(name)
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            try:
                code = main(argv)
            except SystemExit as exc:
                code = int(exc.code or 0)
        out = self.capsys.readouterr()
        return code, out.out + out.err


@pytest.fixture
def cli(restored: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(monkeypatch, capsys)


def _error_line(output: str) -> str:
    """The one line that says what is wrong (the next one says where the help is)."""
    errors = [line for line in output.splitlines() if ": error: " in line]
    assert len(errors) == 1, output
    return errors[0]


# -- class 7: values that crash workers, checked at parse time -------------------------------


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        *[
            (flag, value)
            for flag in ("--jitter", "--coalesce", "--webhook-timeout", "--exec-timeout")
            for value in ("inf", "nan", "-inf", "1e400", "99999999h")
        ],
        ("--validate-timeout", "0"),
        ("--webhook-timeout", "0"),
        ("--exec-timeout", "2h"),
        ("--webhook-retries", "-1"),
        ("--webhook-retries", "1e3"),
        ("--webhook-retries", "100000"),
        ("--webhook-backoff", "inf"),
        ("--listen", "[::1:80"),
        ("--listen", "::1:80"),
        ("--listen", "127.0.0.1:99999"),
        ("--listen", "[nothost]:80"),
        ("--pid", "-1"),
        ("--pid", "0"),
        ("--pid", "4194305"),
    ],
)
def test_a_value_that_cannot_work_is_refused_at_parse_time_in_one_line(
    tmp_path: Path,
    flag: str,
    value: str,
    cli: Cli,
) -> None:
    argv = ["watch", "--dir", str(tmp_path), "--exec", "true", "--signal", "HUP"]
    code, output = cli([*argv, f"{flag}={value}"])
    assert code == 2
    error = _error_line(output)
    assert re.match(rf"kubereload watch: error: argument {re.escape(flag)}[:/]", error), output
    assert "Traceback" not in output


@pytest.mark.parametrize("command", [["run", "--stop-timeout", "inf", "--", "true"]])
def test_run_checks_its_own_durations(
    command: list[str],
    cli: Cli,
) -> None:
    code, output = cli(command)
    assert code == 2 and "argument --stop-timeout: 'inf' is not a finite duration" in output


def test_demo_refuses_a_port_out_of_range(
    cli: Cli,
) -> None:
    code, output = cli(["demo", "--port", "99999"])
    assert code == 2 and "argument --port: '99999' is not a whole number from 0 to 65535" in output


def test_the_same_checks_apply_to_the_environment(
    tmp_path: Path,
    cli: Cli,
) -> None:
    env = {"KUBERELOAD_JITTER": "inf", "KUBERELOAD_DIR": str(tmp_path)}
    code, output = cli(["watch", "--exec", "true"], env)
    assert code == 2 and "environment variable KUBERELOAD_JITTER:" in output


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "--webhook-ca-file {path}: cannot read it (No such file or directory)"),
        ("garbage", "--webhook-ca-file {path}: holds no PEM certificate"),
    ],
)
def test_a_ca_file_that_cannot_work_stops_the_start(
    tmp_path: Path,
    setup: str,
    message: str,
    cli: Cli,
) -> None:
    ca = tmp_path / "ca.crt"
    if setup == "garbage":
        ca.write_text("not a certificate\n")
    argv = ["watch", "--dir", str(tmp_path), "--webhook", "https://127.0.0.1:1/reload"]
    code, output = cli([*argv, "--webhook-ca-file", str(ca)])
    assert code == 2
    assert _error_line(output) == f"kubereload watch: error: {message.format(path=ca)}"


def test_a_misspelled_variable_is_warned_about_with_a_suggestion(tmp_path: Path) -> None:
    proc = kubereload(
        "watch",
        *["--dir", str(tmp_path), "--exec", "true", "--listen", "127.0.0.1:0"],
        env={"KUBERELOAD_WEBHOK": "http://127.0.0.1:1/", "KUBERELOAD_CHANGED": "a"},
    )
    try:
        proc.listening_port()
    finally:
        proc.stop()
    warnings = [line for line in proc.lines if "is not a setting" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0]
    assert "KUBERELOAD_WEBHOK is not a setting of kubereload watch" in warnings[0]
    assert "(did you mean KUBERELOAD_WEBHOOK?)" in warnings[0]
    assert "127.0.0.1:1" not in proc.output()  # its value is not shown


# -- class 3: secrets never in what kubereload prints ----------------------------------------

# A secret: long enough to be unmistakable, with the characters that break URLs and headers.
SECRETS = st.text(
    alphabet=st.sampled_from("abcXYZ0123456789#/?@:%&=+ "), min_size=6, max_size=24
).map(lambda s: f"S3cr{s}t")

PID_ONE = ["--signal", "HUP", "--pid", "1"]  # refused after the webhook is built: an error
# Each path plants the secret once, where a user would put a credential, and ends in an error.
PATHS: dict[str, tuple[list[str], dict[str, str]]] = {
    "flag URL, bad": (["watch", "--webhook", "http://u:{s}@127.0.0.1:1/", *PID_ONE], {}),
    "flag URL, no --dir": (["watch", "--webhook", "http://u:{s}@127.0.0.1:1/"], {"_nodir": ""}),
    "flag URL, bad other flag": (
        ["watch", "--webhook", "http://u:{s}@h/", "--webhook-timeout", "inf"],
        {},
    ),
    "flag URL as query": (["watch", "--webhook", "http://h/x?token={s}", "--coalesce", "x"], {}),
    "env URL": (["watch", *PID_ONE], {"KUBERELOAD_WEBHOOK": "http://u:{s}@127.0.0.1:1/"}),
    "env URL, bad other": (
        ["watch", "--jitter", "nan"],
        {"KUBERELOAD_WEBHOOK": "http://u:{s}@127.0.0.1:1/"},
    ),
    "run URL": (["run", "--webhook", "http://u:{s}@127.0.0.1:1/", "--"], {}),
    "run env URL": (["run", *PID_ONE, "--", "true"], {"KUBERELOAD_WEBHOOK": "http://u:{s}@h:1/"}),
    "header, no colon": (["watch", "--webhook-header", "Authorization Bearer {s}"], {}),
    "header abbreviated": (["watch", "--webhook-h={s}"], {}),
    "env header": (["watch"], {"KUBERELOAD_WEBHOOK_HEADER": "Authorization Bearer {s}"}),
    "misspelled flag": (["watch", "--webhok", "http://u:{s}@h/"], {}),
    "misspelled flag with =": (["watch", "--webhok=http://u:{s}@h/"], {}),
    "extra argument": (["watch", "--exec", "true", "http://u:{s}@h/"], {}),
    "misspelled variable": (["watch"], {"KUBERELOAD_WEBHOK": "http://u:{s}@h/"}),
}


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(secret=SECRETS, path=st.sampled_from(sorted(PATHS)))
def test_a_secret_in_any_flag_or_variable_never_reaches_the_output(
    secret: str,
    path: str,
    tmp_path: Path,
    cli: Cli,
) -> None:
    argv, env = PATHS[path]
    argv = [a.replace("{s}", secret) for a in argv]
    env = {k: v.replace("{s}", secret) for k, v in env.items() if not k.startswith("_")}
    if "_nodir" not in PATHS[path][1] and argv[0] == "watch":
        env.setdefault("KUBERELOAD_DIR", str(tmp_path))
    code, output = cli(argv, env)
    assert code == 2, output
    assert secret not in output
    # nor any long piece of it (a password cut at its '#' is still most of a password)
    for piece in re.split(r"[#/?@:%&=+ ]", secret):
        if len(piece) >= 6:
            assert piece not in output, (piece, output)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_secrets_stay_out_of_logs_and_metrics_while_calls_fail(
    tmp_path: Path, log_format: str
) -> None:
    password, token, header = "Pa55-w0rd-in-url", "t0ken-from-file", "h3ader-value"
    token_file = tmp_path / "token"
    token_file.write_text(token + "\n")
    volume = tmp_path / "config"
    volume.mkdir()
    proc = kubereload(
        "watch",
        *["--dir", str(volume), "--initial-reload", "--listen", "127.0.0.1:0"],
        *["--webhook", f"http://reloader:{password}@127.0.0.1:1/reload?key={password}"],
        *["--webhook-header", f"X-Api-Key: {header}", "--webhook-retries", "1"],
        *["--webhook-backoff", "10ms", "--log-format", log_format, "--log-level", "debug"],
        env={"KUBERELOAD_WEBHOOK_BEARER_TOKEN_FILE": str(token_file)},
    )
    try:
        port = proc.listening_port()
        metrics = ""

        def failed() -> bool:
            nonlocal metrics
            metrics = http_get(f"http://127.0.0.1:{port}/metrics")[1]
            return 'kubereload_reloads_total{result="failure"} 1' in metrics

        wait_until(failed, 30, "the failed reload")
    finally:
        proc.stop()
    everything = proc.output() + metrics
    for secret in (password, token, header):
        assert secret not in everything
    assert "webhook http://REDACTED@127.0.0.1:1/reload?key=REDACTED" in proc.output()


def test_value_types_keep_secrets_out_of_their_own_messages() -> None:
    from kubereload.cli.values import header_type

    with pytest.raises(argparse.ArgumentTypeError) as caught:
        header_type("Authorization Bearer hunter2-token")
    assert "hunter2" not in str(caught.value)
