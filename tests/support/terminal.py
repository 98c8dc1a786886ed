"""An interactive shell on a pseudo-terminal, typed into as a user types: for completion tests.

A shell's completion runs only in its line editor (readline, zle), which runs only on a
terminal. The test waits on what the terminal shows (a pattern in the output), never on time:
each wait ends as soon as the text is there, and only a failure waits the whole timeout.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from collections.abc import Sequence

from support.process import TIMEOUT

# Colours, cursor moves and other escape sequences a line editor draws with.
_ESCAPES = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>]|\r|\x07")


class Terminal:
    """``argv`` (an interactive shell) on an 80x24 pseudo-terminal."""

    def __init__(self, argv: Sequence[str], env: dict[str, str]) -> None:
        controller, terminal = pty.openpty()
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        self.proc = subprocess.Popen(
            list(argv),
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            env=env,
            start_new_session=True,  # its own session: no signal to the test's group reaches it
            close_fds=True,
        )
        os.close(terminal)
        self._fd = controller
        self._raw = b""  # all the terminal showed
        self._matched = 0  # where in it (escapes removed) the last expect() matched

    def send(self, text: str) -> None:
        os.write(self._fd, text.encode())

    def expect(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """Wait until the output (escape sequences removed) matches ``pattern`` after what
        earlier calls matched."""
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern, re.DOTALL)
        while True:
            shown = _ESCAPES.sub(b"", self._raw).decode(errors="replace")
            if match := regex.search(shown, self._matched):
                self._matched = match.end()
                return match
            left = deadline - time.monotonic()
            if left <= 0:
                unread = shown[self._matched :]
                raise AssertionError(f"the terminal never showed {pattern!r}: {unread!r}")
            readable, _, _ = select.select([self._fd], [], [], left)
            if readable:
                try:
                    chunk = os.read(self._fd, 65536)
                except OSError:  # EIO: the shell exited
                    chunk = b""
                if not chunk:
                    raise AssertionError(f"the shell exited: {shown[self._matched :]!r}")
                self._raw += chunk

    def run(self, command: str) -> str:
        """Type ``command`` and Enter; the output it printed between two markers."""
        self.send(f"{command}; echo DONE$((6*7))\n")  # the echo shows the sum, not the text
        return self.expect(r"(.*)DONE42").group(1)

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        os.close(self._fd)
