"""One thread and one selector for every API source's watch in the process, while any is open.

Each :class:`~kubereload.apisource.watcher.ObjectWatch` costs an open socket while idle; the
thread sleeps in ``select`` until a watch has bytes, a retry or a stall deadline is due, or a
source is added or closed (a socket pair wakes it). No periodic wake-ups. The application's own
threads or event loop are never borrowed: the thread starts with the first source and ends when
the last one closes. A list or a watch being opened blocks the thread for up to the client's
timeout: the other watches then wait, as their events queue in their sockets.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from kubereload.apisource.watcher import ObjectWatch

OnBroken = Callable[[BaseException], None]


class _Entry:
    __slots__ = ("closing", "done", "on_broken", "watch")

    def __init__(self, watch: ObjectWatch[Any], on_broken: OnBroken) -> None:
        self.watch = watch
        self.on_broken = on_broken
        self.closing = False
        self.done = threading.Event()


class WatchThread:
    """Runs the watches added to it on one daemon thread named ``kubereload-api``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[ObjectWatch[Any], _Entry] = {}
        self._thread: threading.Thread | None = None
        self._waker: socket.socket | None = None

    @property
    def thread(self) -> threading.Thread | None:
        """The thread while any watch is left."""
        return self._thread

    def add(self, watch: ObjectWatch[Any], on_broken: OnBroken) -> None:
        """Run ``watch`` from now on; ``on_broken(exc)`` if it raises what it should not (a bug)."""
        with self._lock:
            self._entries[watch] = _Entry(watch, on_broken)
            if self._thread is None:
                wake_read, self._waker = socket.socketpair()
                self._thread = threading.Thread(
                    target=self._run, args=(wake_read,), name="kubereload-api", daemon=True
                )
                self._thread.start()
            else:
                self._wake()

    def remove(self, watch: ObjectWatch[Any], *, timeout: float) -> None:
        """Stop ``watch`` and close its connection; from another thread, wait for that (and
        for the thread's end, if it was the last)."""
        with self._lock:
            entry = self._entries.get(watch)
            if entry is None:
                return
            entry.closing = True
            thread = self._thread
            self._wake()
        if thread is None or thread is threading.current_thread():
            return  # closed from a callback: the loop finishes the stop after it returns
        entry.done.wait(timeout)
        with self._lock:
            last = self._thread is None
        if last:
            thread.join(timeout)

    def _wake(self) -> None:
        if self._waker is not None:
            with contextlib.suppress(BlockingIOError):  # a wake-up is pending already
                self._waker.send(b"\0")

    def _run(self, wake_read: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        wake_read.setblocking(False)
        selector.register(wake_read, selectors.EVENT_READ, None)
        registered: dict[ObjectWatch[Any], Any] = {}
        try:
            while True:
                with self._lock:
                    for entry in [e for e in self._entries.values() if e.closing]:
                        self._finish(entry, selector, registered)
                    if not self._entries:
                        self._thread = None
                        waker, self._waker = self._waker, None
                        if waker is not None:
                            waker.close()
                        return
                    entries = list(self._entries.values())
                for entry in entries:
                    self._step(entry, selector, registered)
                wake_at = min(e.watch.wake_at() for e in entries)
                timeout = None if wake_at == float("inf") else max(0.0, wake_at - time.monotonic())
                for key, _events in selector.select(timeout):
                    if key.data is None:
                        _drain(wake_read)
                        continue
                    ready = self._entries.get(key.data)
                    if ready is not None and not ready.closing:
                        self._guarded(ready, ready.watch.readable)
                        _sync(ready.watch, selector, registered)
                now = time.monotonic()
                for entry in entries:
                    if not entry.closing:
                        self._guarded(entry, partial(entry.watch.check_stall, now))
                        _sync(entry.watch, selector, registered)
        finally:
            selector.close()
            wake_read.close()

    def _step(
        self, entry: _Entry, selector: selectors.BaseSelector, registered: dict[Any, Any]
    ) -> None:
        watch = entry.watch
        if not entry.closing and watch.stream is None and watch.due <= time.monotonic():
            self._guarded(entry, watch.advance)
        _sync(watch, selector, registered)

    def _guarded(self, entry: _Entry, step: Callable[[], None]) -> None:
        try:
            step()
        except Exception as exc:  # a bug: that watch stops, the others go on
            entry.watch.end_stream()
            entry.closing = True
            entry.on_broken(exc)

    def _finish(
        self, entry: _Entry, selector: selectors.BaseSelector, registered: dict[Any, Any]
    ) -> None:
        watch = entry.watch
        if watch in registered:
            selector.unregister(registered.pop(watch))
        watch.end_stream()
        del self._entries[watch]
        entry.done.set()


def _sync(
    watch: ObjectWatch[Any], selector: selectors.BaseSelector, registered: dict[Any, Any]
) -> None:
    """Select on the watch's current stream, right after any step that may have changed it
    (before another socket can take the closed one's descriptor number)."""
    stream = watch.stream
    if registered.get(watch) is stream:
        return
    if watch in registered:
        selector.unregister(registered.pop(watch))
    if stream is not None:
        selector.register(stream, selectors.EVENT_READ, watch)
        registered[watch] = stream


def _drain(sock: socket.socket) -> None:
    try:
        while sock.recv(4096):
            pass
    except BlockingIOError:
        pass


threads = WatchThread()
