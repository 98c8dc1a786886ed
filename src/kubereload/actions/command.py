"""Running a command for ``--validate`` and ``--exec``: argv by default, a shell only when asked.

The result is the command's own exit status, taken when the command itself exits, not when its
output pipe closes: a daemon it started (``sleep 20 &``, a double fork) may hold the pipe for
ever. Output (stdout and stderr together) is captured for the log, bounded in size
(``MAX_CAPTURE`` bytes, the last ones kept) and in time (``DRAIN_GRACE`` after the exit).

Each command runs in a process group of its own. What is still running in that group when the
command exits (or times out) is killed with SIGKILL and logged: a reload command is expected to
have done its work when it exits, and anything it leaves behind would pile up with every reload.
A program that really means to start a daemon detaches it into its own session (``setsid``);
that one is left alone, only no longer waited for.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from kubereload.actions import children, procfs
from kubereload.actions.base import ActionError, Observer, ReloadContext
from kubereload.actions.spec import REQUIRED, TIMEOUT, Value, option
from kubereload.durations import check_seconds

log = logging.getLogger(__name__)

MAX_OUTPUT = 4000  # characters of a command's output kept for the log
MAX_CAPTURE = 64 * 1024  # bytes read into memory at most (the tail is kept)
DRAIN_GRACE = 0.5  # seconds to read what is left in the pipe after the command exited
_POLL = 0.05  # seconds between exit checks where pidfd_open is not available


@dataclass(frozen=True)
class CommandResult:
    code: int  # the exit status; -1 when it timed out, 127 when it could not start
    output: str


class _Tail:
    """The last ``limit`` bytes written to it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > self.limit:
            del self.data[: len(self.data) - self.limit]

    def text(self) -> str:
        return self.data.decode(errors="replace")[-MAX_OUTPUT:]


class Command:
    """A command line: split like a POSIX shell would (``shlex``) but run without one, unless
    ``shell`` is True (then ``/bin/sh -c``)."""

    def __init__(self, line: str, *, shell: bool = False, timeout: float = 60.0) -> None:
        if not line.strip():
            raise ValueError("empty command")
        self.line = line
        self.shell = shell
        self.timeout = check_seconds("a command's timeout", timeout, positive=True)
        self.argv: Sequence[str] = ["/bin/sh", "-c", line] if shell else shlex.split(line)

    @property
    def time_limit(self) -> float:
        """The longest ``run`` can take."""
        return self.timeout + DRAIN_GRACE + 1.0

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
        assert proc.stdout is not None
        output = _Tail(MAX_CAPTURE)
        try:
            with selectors.DefaultSelector() as selector, _exit_fd(proc.pid) as exit_fd:
                os.set_blocking(proc.stdout.fileno(), False)
                selector.register(proc.stdout, selectors.EVENT_READ)
                if exit_fd is not None:
                    selector.register(exit_fd, selectors.EVENT_READ)
                exited = self._read_until_exit(proc, selector, exit_fd, output)
                self._stop_leftovers(proc.pid)
                code = proc.wait()
                if exit_fd is not None:
                    selector.unregister(exit_fd)
                _drain(selector, proc.stdout.fileno(), output, time.monotonic() + DRAIN_GRACE)
        finally:
            proc.stdout.close()
            children.release(proc.pid)
        if not exited:
            return CommandResult(-1, f"timed out after {self.timeout:g}s\n{output.text()}")
        return CommandResult(code, output.text())

    def _read_until_exit(
        self,
        proc: subprocess.Popen[bytes],
        selector: selectors.BaseSelector,
        exit_fd: int | None,
        output: _Tail,
    ) -> bool:
        """Collect output until the command exits (True) or its time is up (False)."""
        assert proc.stdout is not None
        out_fd = proc.stdout.fileno()
        deadline = time.monotonic() + self.timeout
        while (left := deadline - time.monotonic()) > 0:
            wait = left if exit_fd is not None else min(left, _POLL)
            for key, _ in selector.select(wait):
                if key.fd == out_fd:
                    _read_into(selector, out_fd, output)
                else:
                    return True
            if exit_fd is None and proc.poll() is not None:
                return True
        return False

    def _stop_leftovers(self, pgrp: int) -> None:
        """SIGKILL what the command left running in its process group (see the module doc)."""
        left = [p for p in procfs.group_members(pgrp) if p.pid != pgrp]
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgrp, signal.SIGKILL)
        if left:
            names = ", ".join(sorted({p.name for p in left}))
            log.warning(
                "%s left %d process(es) running (%s): killed them; detach a daemon with setsid",
                self.argv[0],
                len(left),
                names,
            )


@contextlib.contextmanager
def _exit_fd(pid: int) -> Iterator[int | None]:
    """A pidfd that becomes readable when ``pid`` exits (None where the kernel has none)."""
    try:
        fd = os.pidfd_open(pid)
    except (OSError, AttributeError):
        yield None
        return
    try:
        yield fd
    finally:
        os.close(fd)


def _read_into(selector: selectors.BaseSelector, fd: int, output: _Tail) -> bool:
    """Read what is there; on end of file stop watching ``fd``. False once it is closed."""
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        return True
    if not chunk:
        selector.unregister(fd)
        return False
    output.add(chunk)
    return True


def _drain(selector: selectors.BaseSelector, fd: int, output: _Tail, deadline: float) -> None:
    """Read the rest of the output until end of file or ``deadline``, whichever comes first."""
    while selector.get_map() and (left := deadline - time.monotonic()) > 0:
        if selector.select(left) and not _read_into(selector, fd, output):
            return


def _env(context: ReloadContext) -> dict[str, str]:
    return {"KUBERELOAD_CHANGED": "\n".join(context.sources)}


class Validate:
    """``--validate CMD``: a non-zero exit means the new config must not be loaded."""

    kind = "validate"

    def __init__(self, command: Command) -> None:
        self.command = command

    def describe(self) -> str:
        return f"validate: {self.command.line}"

    @property
    def time_limit(self) -> float:
        return self.command.time_limit

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

    command: str = option(
        REQUIRED,
        "--exec",
        "run CMD (split like a shell would, but no shell); repeatable",
        Value("CMD"),
        repeat=True,
    )
    shell: bool = option(
        False,
        "--exec-shell",
        "run --exec and --validate with /bin/sh -c (pipes, $VARS, &&)",
        switch=True,
    )
    timeout: float = option(
        60.0, "--exec-timeout", "kill an --exec command after this long (default 60s)", TIMEOUT
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

    @property
    def time_limit(self) -> float:
        return self.command.time_limit

    def run(self, context: ReloadContext) -> None:
        result = self.command.run(_env(context))
        if result.code != 0:
            raise ActionError(
                f"exec {self.command.line!r} exited {result.code}: {result.output.rstrip()}",
                reason="exit",
            )
        if result.output.strip():
            log.info("exec %r: %s", self.command.line, result.output.rstrip())
