"""SIGTERM/SIGINT as an event the main thread waits on."""

from __future__ import annotations

import logging
import signal
import threading

log = logging.getLogger(__name__)


class StopSignal:
    """Install it first thing, so a stop that comes during start-up is not lost."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.received: signal.Signals | None = None
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.received = signal.Signals(signum)
        self.event.set()

    def wait(self) -> None:
        while not self.event.wait(3600):
            pass
        name = self.received.name if self.received else "stop"
        log.info("%s received: stopping", name)
