"""``kubereload run``: the child process's supervisor, and PID 1 of the container.

The main thread owns the child: it forwards signals, reaps, reloads and restarts. Other threads
(the reload pipeline) ask it to reload or restart through a queue and wait for the answer, so
only one place ever spawns, signals or waits for the child.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import select
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kubereload.actions import children
from kubereload.actions.base import ActionError, ReloadContext
from kubereload.durations import check_seconds
from kubereload.supervise.reaper import become_subreaper, reap

log = logging.getLogger(__name__)

FORWARDED = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGHUP,
    signal.SIGUSR1,
    signal.SIGUSR2,
)
SIGNAL_WAIT = 10.0  # seconds a reload waits for the main thread to signal the child
RESTART_MARGIN = 30.0  # seconds beyond --stop-timeout a restart may take (the new child starts)
STOPPING = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGQUIT})
# Reset in the child: what we catch is reset by exec anyway, but what Python ignores is not.
_RESET = (*FORWARDED, signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ)


@dataclass
class _Request:
    kind: str  # "signal" or "restart"
    sig: signal.Signals
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


class Supervisor:
    """Starts ``argv`` and stays with it until it exits; ``run()`` returns its exit code."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        stop_signal: signal.Signals = signal.SIGTERM,
        stop_timeout: float = 10.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if not argv:
            raise ValueError("no command to run")
        self.argv = list(argv)
        self.stop_signal = stop_signal
        self.stop_timeout = check_seconds("the stop timeout", stop_timeout)
        self.env = dict(env if env is not None else os.environ)
        self.pid: int | None = None
        self.restarts = 0
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._sig_r, self._sig_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._restarting: _Request | None = None
        self._kill_at: float | None = None
        self._terminating = False

    # -- asked from other threads -------------------------------------------------------------

    def _ask(self, request: _Request, timeout: float) -> None:
        self._requests.put(request)
        with contextlib.suppress(OSError):  # full (a wake-up is pending anyway) or closed
            os.write(self._wake_w, b"r")
        if not request.done.wait(timeout):
            raise ActionError(
                f"the child did not {request.kind} within {timeout:g}s", reason="timeout"
            )
        if request.error:
            raise ActionError(request.error, reason=request.kind)

    def reload(self, sig: signal.Signals, timeout: float = SIGNAL_WAIT) -> None:
        """Send ``sig`` to the child (from any thread)."""
        self._ask(_Request("signal", sig), timeout)

    def restart(self) -> None:
        """Stop the child gracefully and start it again; returns once the new one runs."""
        self._ask(_Request("restart", self.stop_signal), self.stop_timeout + RESTART_MARGIN)

    # -- the main thread ----------------------------------------------------------------------

    def start(self) -> None:
        """Set up signal handling and start the child. Main thread only."""
        become_subreaper()
        signal.set_wakeup_fd(self._sig_w, warn_on_full_buffer=False)
        for sig in (*FORWARDED, signal.SIGCHLD):
            signal.signal(sig, _noop)
        self._spawn()

    def _spawn(self) -> None:
        with children.SPAWN_LOCK:
            self.pid = os.posix_spawnp(
                self.argv[0], self.argv, self.env, setsigdef=_RESET, setsigmask=()
            )
        log.info("started %s (pid %d)", self.argv[0], self.pid)

    def run(self) -> int:
        """Serve until the child exits by itself (or after a stopping signal); its exit code."""
        try:
            return self._loop()
        finally:
            signal.set_wakeup_fd(-1)
            for fd in (self._wake_r, self._wake_w, self._sig_r, self._sig_w):
                os.close(fd)

    def _loop(self) -> int:
        while True:
            timeout = None if self._kill_at is None else max(0.0, self._kill_at - time.monotonic())
            ready, _, _ = select.select([self._sig_r, self._wake_r], [], [], timeout)
            for sig in self._drain(self._sig_r):
                self._on_signal(sig)
            for pid, code in reap().items():
                if pid == self.pid:
                    exit_code = self._on_child_exit(code)
                    if exit_code is not None:
                        return exit_code
                else:
                    log.debug("reaped orphan %d (exit %d)", pid, code)
            if self._wake_r in ready:
                self._drain(self._wake_r)
            while not self._requests.empty():
                self._on_request(self._requests.get_nowait())
            if self._kill_at is not None and time.monotonic() >= self._kill_at:
                log.warning("pid %s did not stop within %gs: SIGKILL", self.pid, self.stop_timeout)
                self._kill_at = None
                self._send(signal.SIGKILL)

    @staticmethod
    def _drain(fd: int) -> list[int]:
        data = b""
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(fd, 512):
                data += chunk
        return list(data)

    def _send(self, sig: signal.Signals) -> str | None:
        if self.pid is None:
            return "no child is running"
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            return f"pid {self.pid} is gone"
        return None

    def _on_signal(self, signum: int) -> None:
        if signum == signal.SIGCHLD:
            return
        sig = signal.Signals(signum)
        log.info("forwarding %s to pid %s", sig.name, self.pid)
        self._send(sig)
        if sig in STOPPING and not self._terminating:
            # A child that ignores the signal must not hold the pod's shutdown: Kubernetes
            # would SIGKILL us after its grace period, and the child's end would go unlogged.
            self._terminating = True
            self._kill_at = time.monotonic() + self.stop_timeout

    def _on_request(self, request: _Request) -> None:
        if request.kind == "signal":
            request.error = self._send(request.sig)
            request.done.set()
            return
        if self._restarting is not None or self._terminating:
            request.error = "the child is already stopping"
            request.done.set()
            return
        log.info("restarting: %s to pid %s", request.sig.name, self.pid)
        error = self._send(request.sig)
        if error:
            request.error = error
            request.done.set()
            return
        self._restarting = request
        self._kill_at = time.monotonic() + self.stop_timeout

    def _on_child_exit(self, code: int) -> int | None:
        """The child exited: start the next one (restart), or return our exit code."""
        log.info("pid %s exited with %d", self.pid, code)
        self.pid = None
        self._kill_at = None
        request, self._restarting = self._restarting, None
        if request is None or self._terminating:
            if request is not None:
                request.error = "stopping"
                request.done.set()
            return code
        try:
            self._spawn()
        except OSError as exc:
            request.error = f"cannot start {self.argv[0]}: {exc.strerror or exc}"
            request.done.set()
            log.error("%s", request.error)
            return 127
        self.restarts += 1
        request.done.set()
        return None


def _noop(signum: int, frame: object) -> None:
    """Signals are read from the wake-up fd; the Python-level handler has nothing to do."""


class ChildReload:
    """The reload action of ``run``: signal the child, or restart it (``--restart``)."""

    def __init__(self, supervisor: Supervisor, sig: signal.Signals, *, restart: bool) -> None:
        self.supervisor = supervisor
        self.signal = sig
        self.restart = restart
        self.kind = "restart" if restart else "signal"

    @property
    def time_limit(self) -> float:
        return self.supervisor.stop_timeout + RESTART_MARGIN if self.restart else SIGNAL_WAIT

    def describe(self) -> str:
        if self.restart:
            return f"restart the child ({self.supervisor.stop_signal.name}, then start again)"
        return f"signal: {self.signal.name} to the child"

    def run(self, context: ReloadContext) -> None:
        if self.restart:
            self.supervisor.restart()
        else:
            self.supervisor.reload(self.signal)
