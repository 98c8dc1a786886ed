"""SIGTERM/SIGINT as an event the main thread waits on; SIGHUP/SIGUSR1/SIGUSR2 logged, ignored.

SIGHUP, SIGUSR1 and SIGUSR2, whose default is to kill the process without a word, are logged
and ignored rather than taken as "re-check now": kubereload reloads on config changes, which
its detectors do not miss, so a HUP has nothing to re-check; and it often comes from a hang-up
or from a signal meant for the app (``kill -HUP`` in a shared process namespace), not from
someone asking for a reload, which would then reload the app with nothing changed.
"""

from __future__ import annotations

import logging
import signal
import threading

log = logging.getLogger(__name__)

IGNORED = (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


class StopSignal:
    """Install it first thing, so a stop that comes during start-up is not lost."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.received: signal.Signals | None = None
        self._ignored: list[signal.Signals] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)
        for sig in IGNORED:
            signal.signal(sig, self._note)

    def _handle(self, signum: int, frame: object) -> None:
        self.received = signal.Signals(signum)
        self.event.set()

    def _note(self, signum: int, frame: object) -> None:
        # Logged by wait(), not here: a handler that logs can deadlock on a logging lock.
        self._ignored.append(signal.Signals(signum))
        self.event.set()

    def wait(self) -> None:
        while True:
            self.event.wait(3600)
            self.event.clear()
            while self._ignored:
                name = self._ignored.pop(0).name
                log.warning("%s received: ignored (reloads follow config changes)", name)
            if self.received is not None:
                break
        log.info("%s received: stopping", self.received.name)
