"""One event loop on one daemon thread for every API source in the process, while any is open.

The informer is asyncio code built so that one loop runs any number of informers, each costing an
open socket while idle. The application's own threads or event loop are never borrowed: the loop
starts with the first API source and stops (its thread ends) when the last one closes.
"""

from __future__ import annotations

import asyncio
import threading


class SharedLoop:
    """A reference-counted background event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._users = 0

    @property
    def thread(self) -> threading.Thread | None:
        """The loop's thread while any user is left."""
        return self._thread

    def acquire(self) -> asyncio.AbstractEventLoop:
        """The running loop, started if needed; pair each call with :meth:`release`."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=_run, args=(loop,), name="kubereload-api", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            self._users += 1
            return self._loop

    def release(self) -> None:
        """One user fewer; the last one stops the loop and waits for its thread to end."""
        with self._lock:
            self._users -= 1
            loop, thread = self._loop, self._thread
            if self._users > 0 or loop is None:
                return
            self._loop = self._thread = None
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)


def _run(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.close()


shared = SharedLoop()
