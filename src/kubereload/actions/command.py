"""Running a command for ``--validate`` and ``--exec``: argv by default, a shell only when asked.

Output (stdout and stderr together) is captured, so a failed ``nginx -t`` is logged with what it
said; a command that outlives its timeout is killed with its whole process group.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from kubereload.actions import children
from kubereload.actions.base import ActionError, Observer, ReloadContext
from kubereload.actions.spec import flag
from kubereload.durations import parse_seconds

log = logging.getLogger(__name__)

MAX_OUTPUT = 4000  # characters of a command's output kept for the log


@dataclass(frozen=True)
class CommandResult:
    code: int
    output: str


class Command:
    """A command line: split like a POSIX shell would (``shlex``) but run without one, unless
    ``shell`` is True (then ``/bin/sh -c``)."""

    def __init__(self, line: str, *, shell: bool = False, timeout: float = 60.0) -> None:
        if not line.strip():
            raise ValueError("empty command")
        self.line = line
        self.shell = shell
        self.timeout = timeout
        self.argv: Sequence[str] = ["/bin/sh", "-c", line] if shell else shlex.split(line)

    def run(self, env: Mapping[str, str] | None = None) -> CommandResult:
        """Run to completion (or timeout); never raises for a non-zero exit."""
        full_env = {**os.environ, **(env or {})}
        try:
            with children.SPAWN_LOCK:
                proc = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    env=full_env,
                    start_new_session=True,
                )
                children.claim(proc.pid)
        except OSError as exc:
            return CommandResult(127, f"cannot run {self.argv[0]!r}: {exc.strerror or exc}")
        try:
            out, _ = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            text = out.decode(errors="replace")
            return CommandResult(-1, f"timed out after {self.timeout:g}s\n{text}"[:MAX_OUTPUT])
        finally:
            children.release(proc.pid)
        return CommandResult(proc.returncode, out.decode(errors="replace")[-MAX_OUTPUT:])


def _env(context: ReloadContext) -> dict[str, str]:
    return {"KUBERELOAD_CHANGED": "\n".join(context.sources)}


class Validate:
    """``--validate CMD``: a non-zero exit means the new config must not be loaded."""

    kind = "validate"

    def __init__(self, command: Command) -> None:
        self.command = command

    def describe(self) -> str:
        return f"validate: {self.command.line}"

    def run(self, context: ReloadContext) -> None:
        result = self.command.run(_env(context))
        if result.code != 0:
            raise ActionError(
                f"validation failed ({self.command.line}, exit {result.code}):\n"
                f"{result.output.rstrip()}",
                reason="validation",
            )
        if result.output.strip():
            log.debug("validate output: %s", result.output.rstrip())


@dataclass(frozen=True)
class ExecOptions:
    """``--exec CMD``: a command run as the reload."""

    kind: ClassVar[str] = "exec"

    command: str = field(
        metadata=flag(
            "--exec",
            "run CMD (split like a shell would, but no shell); repeatable",
            metavar="CMD",
            repeat=True,
        )
    )
    shell: bool = field(
        default=False,
        metadata=flag(
            "--exec-shell",
            "run --exec and --validate with /bin/sh -c (pipes, $VARS, &&)",
            switch=True,
        ),
    )
    timeout: float = field(
        default=60.0,
        metadata=flag(
            "--exec-timeout",
            "kill an --exec command after this long (default 60s)",
            metavar="DURATION",
            parse=parse_seconds,
        ),
    )

    def build(self, observer: Observer) -> Exec:
        return Exec(Command(self.command, shell=self.shell, timeout=self.timeout))


class Exec:
    """``--exec CMD``: run a command as the reload (e.g. ``haproxy-reload``, ``pg_ctl reload``)."""

    kind = "exec"

    def __init__(self, command: Command) -> None:
        self.command = command

    def describe(self) -> str:
        return f"exec: {self.command.line}"

    def run(self, context: ReloadContext) -> None:
        result = self.command.run(_env(context))
        if result.code != 0:
            raise ActionError(
                f"exec {self.command.line!r} exited {result.code}: {result.output.rstrip()}",
                reason="exit",
            )
        if result.output.strip():
            log.info("exec %r: %s", self.command.line, result.output.rstrip())
